"""The dispatcher against a real SMTP server and a real HTTP gateway on loopback (#17 delivery)."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlmodel import Session

from notify.dispatcher import DispatchPolicy, dispatch
from notify.models import Delivery, OutboxMessage
from notify.providers import Providers
from sla.calendars import CalendarStore
from sla.core.calendar import DEFAULT_WORKING_HOURS, LOCAL_TZ
from tests.notify.conftest import SECRET, add_message, local

STORE = CalendarStore(first_year=2024, last_year=2026, working_hours=DEFAULT_WORKING_HOURS)
MONDAY_10 = local("2025-06-02T10:00")


def providers(outlets, **missing) -> Providers:
    (_, smtp_url), (_, gateway_url) = outlets
    return Providers.configured(
        smtp_url=None if missing.get("email") else smtp_url,
        smtp_from="motcua@phuong.example.vn",
        sms_webhook_url=f"{gateway_url}/sms",
        zalo_webhook_url=None if missing.get("zalo") else f"{gateway_url}/zalo",
        webhook_secret=SECRET,
    )


def run(db, outlets, at=MONDAY_10, policy=DispatchPolicy(), **options):
    sender = options.pop("providers", None) or providers(outlets)
    try:
        return dispatch(db, providers=sender, store=STORE, policy=policy, now=lambda: at, **options)
    finally:
        sender.close()


def state(db, key: str) -> tuple[OutboxMessage, list[Delivery]]:
    with Session(db) as session:
        message = session.execute(select(OutboxMessage).where(OutboxMessage.key == key)).scalar_one()
        log = list(
            session.execute(select(Delivery).where(Delivery.message_id == message.id).order_by(Delivery.id)).scalars()
        )
        return message, log


def test_email_over_smtp(db, outlets):
    (mailbox, _), _ = outlets
    add_message(db, key="H26-0001:received:1:email", channel="email", address="lan@example.vn")
    report = run(db, outlets)
    assert (report.sent, report.failed) == (1, 0)
    [mail] = mailbox.received
    assert mail["To"] == "lan@example.vn" and mail["From"] == "motcua@phuong.example.vn"
    assert mail["Subject"] == "Đã tiếp nhận hồ sơ" and mail["X-Motcua-Key"] == "H26-0001:received:1:email"
    assert "Hẹn trả kết quả: 11/06/2025 09:00." in mail.get_content()
    message, log = state(db, "H26-0001:received:1:email")
    assert message.status == "sent" and message.attempts == 1 and message.sent_at == MONDAY_10
    assert [(d.outcome, d.answer) for d in log] == [("sent", "250 accepted")]


def test_sms_and_zalo_through_the_signed_gateway(db, outlets):
    _, (gateway, _) = outlets
    add_message(db, key="H26-0002:received:1:sms", channel="sms")
    add_message(db, key="H26-0003:received:1:zalo", channel="zalo")
    assert run(db, outlets).sent == 2
    # (sent by parallel threads: in either order)
    assert sorted(gateway.requests) == [("sms", "H26-0002:received:1:sms"), ("zalo", "H26-0003:received:1:zalo")]
    assert gateway.shown["H26-0002:received:1:sms"]["to"] == "0912345678"
    message, log = state(db, "H26-0002:received:1:sms")
    assert message.status == "sent" and log[0].outcome == "sent"
    assert re.match(r'200 \{"id":[12],"duplicate":false\}', log[0].answer)  # the gateway's own answer, kept
    assert run(db, outlets).sent == 0  # nothing twice


def test_a_crash_between_send_and_mark_sends_again_with_the_same_key(db, outlets):
    (mailbox, _), (gateway, _) = outlets
    add_message(db, key="H26-0004:resolved:5:sms", channel="sms")
    add_message(db, key="H26-0004:resolved:5:email", channel="email", address="lan@example.vn")

    def crash(message):
        raise RuntimeError("the process dies after the provider took the message")

    with pytest.raises(RuntimeError):
        run(db, outlets, after_send=crash)
    assert state(db, "H26-0004:resolved:5:sms")[0].status == "pending"  # not marked: it will go again
    report = run(db, outlets)
    assert report.sent == 2
    assert gateway.requests == [("sms", "H26-0004:resolved:5:sms")] * 2  # sent twice, with one key
    assert list(gateway.shown) == ["H26-0004:resolved:5:sms"]  # shown once
    # the email was in flight in another sending thread when the process died, or not yet: sent once or twice,
    # with one Message-ID, so shown once
    assert len(mailbox.received) in (1, 2) and len(mailbox.shown) == 1
    assert state(db, "H26-0004:resolved:5:sms")[0].status == "sent"
    assert state(db, "H26-0004:resolved:5:email")[0].status == "sent"


def test_failures_are_retried_with_backoff_then_given_up(db, outlets):
    _, (gateway, _) = outlets
    gateway.fail_next = 10
    add_message(db, key="H26-0005:paused:2:sms")
    policy = DispatchPolicy(max_attempts=3, backoff_seconds=60)
    first = run(db, outlets, policy=policy)
    assert (first.sent, first.failed) == (0, 1)
    message, log = state(db, "H26-0005:paused:2:sms")
    assert message.status == "pending" and message.attempts == 1
    assert message.next_attempt_at == MONDAY_10 + timedelta(seconds=60)
    assert log[-1].outcome == "failed" and log[-1].answer.startswith("503") and "gateway busy" in log[-1].answer
    assert run(db, outlets, at=MONDAY_10 + timedelta(seconds=30), policy=policy).failed == 0  # not yet due
    run(db, outlets, at=MONDAY_10 + timedelta(seconds=60), policy=policy)
    message, _ = state(db, "H26-0005:paused:2:sms")
    assert message.attempts == 2 and message.next_attempt_at == MONDAY_10 + timedelta(seconds=180)  # doubled
    last = run(db, outlets, at=MONDAY_10 + timedelta(seconds=180), policy=policy)
    assert last.gave_up == 1
    message, log = state(db, "H26-0005:paused:2:sms")
    assert message.status == "gave_up" and message.attempts == 3
    assert [d.outcome for d in log] == ["failed", "failed", "failed", "gave_up"]
    assert log[-1].answer.startswith("after 3 attempts: 503")
    assert run(db, outlets, at=MONDAY_10 + timedelta(days=1), policy=policy).sent == 0


def test_a_refusal_gives_up_at_once_with_the_providers_answer(db, outlets):
    (mailbox, _), (gateway, _) = outlets
    gateway.refuse.add("0900000000")
    mailbox.refuse.add("nobody@example.vn")
    add_message(db, key="H26-0006:received:1:sms", address="0900000000")
    add_message(db, key="H26-0006:received:1:email", channel="email", address="nobody@example.vn")
    assert run(db, outlets).gave_up == 2
    _, log = state(db, "H26-0006:received:1:sms")
    assert [d.outcome for d in log] == ["failed", "gave_up"] and "invalid number" in log[0].answer
    _, log = state(db, "H26-0006:received:1:email")
    assert "550" in log[0].answer and log[1].answer.startswith("refused for good")


def test_a_channel_without_provider_fails_naming_its_setting(db, outlets):
    add_message(db, key="H26-0007:received:1:zalo", channel="zalo")
    report = run(db, outlets, providers=providers(outlets, zalo=True))
    assert report.failed == 1
    _, log = state(db, "H26-0007:received:1:zalo")
    assert log[0].answer == "no zalo provider: set MOTCUA_ZALO_WEBHOOK_URL"


def test_quiet_hours_hold_citizens_until_7_and_staff_until_the_next_working_morning(db, outlets):
    _, (gateway, _) = outlets
    friday_23 = local("2025-04-25T23:00")  # the next day is a make-up Saturday (26/04/2025), a working day
    add_message(db, key="H26-0008:supplement_reminder:1:sms", due=friday_23)
    add_message(
        db,
        key="digest:1:2025-04-25",
        channel="email",
        address="manager@example.vn",
        audience="staff",
        due=friday_23,
        agency_id=None,
    )
    report = run(db, outlets, at=friday_23)
    assert (report.held, report.sent) == (2, 0) and gateway.requests == []
    citizen, log = state(db, "H26-0008:supplement_reminder:1:sms")
    assert citizen.next_attempt_at.astimezone(LOCAL_TZ) == local("2025-04-26T07:00")
    assert log[0].outcome == "held" and log[0].answer == "quiet hours: held until 26/04/2025 07:00"
    staff, _ = state(db, "digest:1:2025-04-25")
    assert staff.next_attempt_at.astimezone(LOCAL_TZ) == local("2025-04-26T08:00")
    at_seven = run(db, outlets, at=local("2025-04-26T07:00"))
    assert (at_seven.sent, at_seven.held) == (1, 0)  # the citizen's; the staff's waits for 08:00
    assert run(db, outlets, at=local("2025-04-26T08:00")).sent == 1
    # a Saturday that is not a make-up day: the staff's message waits for Monday
    add_message(
        db,
        key="digest:1:2025-05-31",
        channel="email",
        address="manager@example.vn",
        audience="staff",
        due=local("2025-05-31T09:00"),
    )
    run(db, outlets, at=local("2025-05-31T09:00"))
    assert state(db, "digest:1:2025-05-31")[0].next_attempt_at.astimezone(LOCAL_TZ) == local("2025-06-02T08:00")


def test_motcua_notify_dispatch(db, outlets, monkeypatch):
    from typer.testing import CliRunner

    from api.cli import cli

    _, (gateway, gateway_url) = outlets
    monkeypatch.setenv("MOTCUA_DATABASE_URL", db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("MOTCUA_SMS_WEBHOOK_URL", f"{gateway_url}/sms")
    monkeypatch.setenv("MOTCUA_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("MOTCUA_CITIZEN_HOURS", "00:00-23:59")  # whenever the test runs
    add_message(db, key="H26-0009:received:1:sms")
    result = CliRunner().invoke(cli, ["notify", "dispatch"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("1 sent, 0 failed (to be retried), 0 given up, 0 held for quiet hours")
    assert list(gateway.shown) == ["H26-0009:received:1:sms"]


def test_the_recipients_address_stays_out_of_the_delivery_log(db, outlets):
    (mailbox, _), _ = outlets
    mailbox.refuse.add("hidden.person@example.vn")
    add_message(db, key="H26-0010:received:1:email", channel="email", address="hidden.person@example.vn")
    run(db, outlets)
    _, log = state(db, "H26-0010:received:1:email")
    assert all("hidden.person@example.vn" not in (d.answer or "") for d in log)
    assert "<*********************.vn>" in log[0].answer  # masked, the end kept
