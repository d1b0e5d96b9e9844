"""The notification jobs as the scheduler and `motcua notify …` run them, on a database they commit to."""

import uuid
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlmodel import Session
from typer.testing import CliRunner

from accounts.service import create_user, issue_token
from api.app import create_app
from api.cli import cli
from api.scheduler import notify_job
from api.settings import Settings
from notify.dispatcher import dispatch
from notify.jobs import run_digest
from notify.models import OutboxMessage, StaffNotification
from notify.outbox import Links
from notify.providers import Providers
from sla.calendars import CalendarStore
from sla.core.calendar import DEFAULT_WORKING_HOURS
from tests.notify.conftest import CONSENT, PHONE, SECRET, local

PASSWORD = "correct horse battery staple"
WARD = "000.01.01.H26"
STORE = CalendarStore(first_year=2024, last_year=2026, working_hours=DEFAULT_WORKING_HOURS)


def _users(engine, **roles) -> dict[str, int]:
    """New users (role → id), named uniquely: the module's database keeps its users between tests."""
    made = {}
    with Session(engine) as session:
        for role, email in roles.items():
            user = create_user(
                session,
                username=f"{role}-{uuid.uuid4().hex[:6]}",
                password=PASSWORD,
                role=role,
                agency_code=None if role == "admin" else WARD,
            )
            user.email = email
            session.flush()
            made[role] = (user.id, user.username)
        session.commit()
    return made


def test_the_scheduled_job_tells_the_citizen(db, outlets, monkeypatch):
    _, (gateway, gateway_url) = outlets
    url = db.url.render_as_string(hide_password=False)
    for name, value in {
        "DATABASE_URL": url, "SMS_WEBHOOK_URL": f"{gateway_url}/sms", "WEBHOOK_SECRET": SECRET,
        "CITIZEN_HOURS": "00:00-23:59", "PUBLIC_URL": "https://motcua.hanoi.example",
    }.items():  # fmt: skip
        monkeypatch.setenv(f"MOTCUA_{name}", value)
    users = _users(db, clerk=None)
    with Session(db) as session:
        token = issue_token(session, username=users["clerk"][1], password=PASSWORD, lifetime=timedelta(hours=1))
        session.commit()
    with TestClient(create_app(Settings()), headers={"Authorization": f"Bearer {token}"}) as client:
        response = client.post(
            "/api/v1/dossiers",
            json={"procedure_code": "1.004222", "agency_code": WARD,
                  "applicant": {"name": "Lê Văn Hùng", "phone": PHONE, **CONSENT}},
        )  # fmt: skip
        assert response.status_code == 201, response.text
        code = response.json()["code"]
        notify_job()
        [(channel, key)] = gateway.requests
        assert (channel, key) == ("sms", f"{code}:received:1:sms")
        assert f"https://motcua.hanoi.example/lookup?code={code}" in gateway.shown[key]["text"]
        listed = client.get(f"/api/v1/dossiers/{code}/messages").json()["messages"]
        assert listed[0]["status"] == "sent" and listed[0]["deliveries"][0]["outcome"] == "sent"
        notify_job()  # nothing twice
        assert len(gateway.requests) == 1


def test_motcua_notify_evaluate(db, monkeypatch):
    monkeypatch.setenv("MOTCUA_DATABASE_URL", db.url.render_as_string(hide_password=False))
    result = CliRunner().invoke(cli, ["notify", "evaluate", "--at", "2025-06-02T09:00"])
    assert result.exit_code == 0, result.output
    assert "running dossiers" in result.output and "notifications" in result.output
    bad = CliRunner().invoke(cli, ["notify", "evaluate", "--at", "tomorrow"])
    assert bad.exit_code == 2 and "is not an instant" in bad.output


def test_the_daily_digest_emails_each_user_their_unread_notifications(db, outlets):
    (mailbox, smtp_url), _ = outlets
    users = _users(db, manager="truong.phong@phuong.example.vn", officer=None)
    manager_id, officer_id = users["manager"][0], users["officer"][0]
    dossier_id = _a_dossier(db)
    monday = local("2025-06-02T07:30")
    with Session(db) as session:
        for user in (manager_id, officer_id):
            session.add(
                StaffNotification(
                    key=f"test:{uuid.uuid4().hex}:u{user}",
                    user_id=user,
                    dossier_id=dossier_id,
                    kind="escalation",
                    level=1,
                    visible_at=monday - timedelta(days=1),
                    due_at=monday - timedelta(days=2),
                )
            )
        session.commit()
    links = Links("https://motcua.hanoi.example")
    assert run_digest(db, store=STORE, links=links, now=monday) == 1  # the officer has no email
    assert run_digest(db, store=STORE, links=links, now=monday + timedelta(hours=1)) == 0  # once a day
    providers = Providers.configured(
        smtp_url=smtp_url, smtp_from="motcua@example.vn", sms_webhook_url=None, zalo_webhook_url=None, webhook_secret=""
    )
    early = dispatch(db, providers=providers, store=STORE, now=lambda: monday)  # 07:30: before working time
    assert early.sent == 0
    with Session(db) as session:
        digest = session.execute(select(OutboxMessage).where(OutboxMessage.kind == "digest")).scalar_one()
        assert digest.next_attempt_at == local("2025-06-02T08:00") and digest.audience == "staff"
    sent = dispatch(db, providers=providers, store=STORE, now=lambda: local("2025-06-02T08:00"))
    providers.close()
    assert sent.sent == 1
    [mail] = mailbox.received
    assert mail["To"] == "truong.phong@phuong.example.vn" and mail["Subject"] == "motcua: 1 thông báo chưa đọc"
    content = mail.get_content()
    assert "Quá hạn (cấp 1)" in content and "https://motcua.hanoi.example/desk/dossiers/" in content


def _a_dossier(engine) -> int:
    from dossiers.intake import HISTORY, receive
    from dossiers.schemas import DossierCreate

    with Session(engine) as session:
        written = receive(
            session,
            data=DossierCreate(
                procedure_code="1.004222",
                agency_code=WARD,
                received_at="2025-05-26T09:00",
                applicant={"name": "Phạm Thị Hoa"},
            ),
            actor="test",
            calendar_for=lambda code: STORE.get(session, code),
            now=datetime.now(UTC),
            rules=HISTORY,
        )
        session.commit()
        return written.dossier.id
