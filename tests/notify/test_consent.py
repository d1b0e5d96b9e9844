"""The applicant's contact after intake (dossiers/contact.py, notify/consent.py), on both databases, through its
three doors: `PUT /api/v1/dossiers/{code}/contact`, the desk's dossier page, and the citizen's "stop the messages"
on the lookup. A change stops the messages written under the old terms; who may change it; bad changes refused
in the page's language with nothing written; every change audited without the address."""

import html
import re

from sqlalchemy import select

from accounts.models import AuditEntry
from dossiers.models import Dossier
from notify.models import Delivery
from tests.notify.conftest import API, CONSENT, PHONE, outbox_of
from tests.notify.test_notify_pages import as_page, text  # noqa: F401  (the fixture)

DEPARTMENT = "000.00.03.H26"


def contact(session, code) -> tuple:
    session.expire_all()
    row = session.execute(select(Dossier).where(Dossier.code == code)).scalar_one()
    return row.contact_consent, row.preferred_channel, row.applicant_email


def audited(session, code) -> list[tuple]:
    rows = session.execute(
        select(AuditEntry.username, AuditEntry.outcome, AuditEntry.detail)
        .where(AuditEntry.dossier_code == code, AuditEntry.action.like("%contact%") | AuditEntry.action.like("%stop%"))
        .order_by(AuditEntry.id)
    ).all()
    return [tuple(row) for row in rows]


def test_the_route_changes_the_channel_and_stops_what_waits_under_the_old_terms(client_as, session, receive, event):
    code = receive(received_at=None, applicant=CONSENT)["code"]  # now: the receipt waits (quiet hours or not)
    [receipt] = outbox_of(session, code)
    assert receipt.status == "pending" and receipt.channel == "sms"
    clerk = client_as("clerk")
    changed = clerk.put(f"{API}/{code}/contact", json={
        "contact_consent": True, "preferred_channel": "email", "email": "lan@example.vn"})  # fmt: skip
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["before"] == {"contact_consent": True, "preferred_channel": "sms", "email_on_file": False}
    assert body["after"] == {"contact_consent": True, "preferred_channel": "email", "email_on_file": True}
    assert body["stopped_messages"] == 1 and "lan@example.vn" not in changed.text
    assert contact(session, code) == (True, "email", "lan@example.vn")
    [stopped] = outbox_of(session, code)
    assert stopped.status == "gave_up"
    log = session.execute(select(Delivery).where(Delivery.message_id == stopped.id)).scalars().all()
    assert [(d.outcome, d.answer) for d in log] == [("gave_up", "contact changed")]
    event(code, "supplement_requested", reason="Thiếu bản sao giấy khai sinh")
    assert [m.channel for m in outbox_of(session, code) if m.status == "pending"] == ["email"]  # the new terms
    withdrawn = clerk.put(f"{API}/{code}/contact", json={"contact_consent": False})
    assert withdrawn.json()["after"]["contact_consent"] is False and withdrawn.json()["stopped_messages"] == 1
    event(code, "supplement_received")
    assert all(m.status == "gave_up" for m in outbox_of(session, code))  # no consent, no message
    assert audited(session, code) == [
        ("clerk", "ok", f"dossier {code}: contact: sms -> email; 1 pending messages stopped"),
        ("clerk", "ok", f"dossier {code}: contact: email -> none; 1 pending messages stopped"),
    ]


def test_who_may_change_it_and_what_is_refused(client_as, session, receive, event):
    code = receive(received_at=None, applicant=CONSENT)["code"]
    event(code, "forwarded", to_agency=DEPARTMENT)
    refusals = [
        ("officer", {"contact_consent": False}, 403, "forbidden"),
        ("department-clerk", {"contact_consent": False}, 403, "receiving agency's clerks"),  # holds, did not receive
        ("other-clerk", {"contact_consent": False}, 404, "not_found"),  # outside the scope: as an unknown code
        ("clerk", {"contact_consent": True}, 422, "contact_consent needs preferred_channel"),
        ("clerk", {"contact_consent": True, "preferred_channel": "email"}, 422, "email needs the applicant's email"),
        ("clerk", {"contact_consent": True, "preferred_channel": "fax"}, 422, "invalid_input"),
        ("clerk", {"contact_consent": False, "phone": "0900000000"}, 422, "invalid_input"),  # the phone stays
    ]
    for who, body, status, words in refusals:
        answer = client_as(who).put(f"{API}/{code}/contact", json=body)
        assert answer.status_code == status and words in answer.text, (who, body, answer.text)
    assert contact(session, code) == (True, "sms", None)  # nothing written
    no_phone = receive(received_at=None, applicant={"phone": None})["code"]
    refused = client_as("manager").put(f"{API}/{no_phone}/contact", json={
        "contact_consent": True, "preferred_channel": "zalo"})  # fmt: skip
    assert refused.status_code == 422 and "zalo needs the applicant's phone" in refused.text
    assert client_as("manager").put(f"{API}/{code}/contact", json={"contact_consent": False}).status_code == 200


def test_the_desk_page_changes_it_and_names_a_bad_change_in_vietnamese(as_page, session, receive):  # noqa: F811
    code = receive(received_at=None)["code"]  # no consent at intake
    clerk = as_page("clerk")
    page = clerk.get(f"/desk/dossiers/{code}")
    assert 'id="contact-change"' in page.text and 'id="contact-consent"' in page.text
    bad = clerk.post(f"/desk/dossiers/{code}/contact", data={
        "contact_consent": "true", "preferred_channel": "email", "email": ""})  # fmt: skip
    assert bad.status_code == 422
    assert "Nhận thông báo qua thư điện tử thì cần địa chỉ thư điện tử." in text(bad)
    assert re.search(r'<details class="action" id="contact-change" open>', bad.text)  # open, as typed
    assert re.search(r'<option value="email" selected>', bad.text)
    assert contact(session, code) == (False, None, None)
    good = clerk.post(f"/desk/dossiers/{code}/contact", data={
        "contact_consent": "true", "preferred_channel": "zalo"})  # fmt: skip
    assert good.status_code == 303 and good.headers["location"] == f"/desk/dossiers/{code}?done=contact#contact"
    shown = clerk.get(good.headers["location"])
    assert "Đã lưu cách thông báo cho người nộp." in text(shown)
    assert html.unescape(re.search(r"<dd id=\"contact\">(.*?)</dd>", shown.text).group(1)) == "Đồng ý, qua Zalo"
    assert contact(session, code) == (True, "zalo", None)


def test_the_citizen_stops_the_messages_from_the_lookup(client, session, receive):
    code = receive(received_at=None, applicant=CONSENT)["code"]
    public = client.__class__(client.app, raise_server_exceptions=False)  # anonymous, as a phone's browser
    found = public.post("/lookup", data={"code": code, "phone_last4": PHONE[-4:]})
    assert 'id="stop-messages-button"' in found.text
    wrong = public.post("/lookup/stop-messages", data={"code": code, "phone_last4": "0000"})
    assert wrong.status_code == 404 and contact(session, code)[0] is True
    stopped = public.post("/lookup/stop-messages", data={"code": code, "phone_last4": PHONE[-4:]})
    assert stopped.status_code == 200, stopped.text
    assert "Đã ngừng gửi thông báo về hồ sơ này." in html.unescape(stopped.text)
    assert 'id="stop-messages-button"' not in stopped.text and 'id="result"' in stopped.text
    assert contact(session, code) == (False, None, None)
    assert [m.status for m in outbox_of(session, code)] == ["gave_up"]
    assert stopped.headers["cache-control"] == "no-store"
    again = public.post("/lookup", data={"code": code, "phone_last4": PHONE[-4:]})
    assert 'id="stop-messages-button"' not in again.text  # nothing more to stop
    rows = session.execute(
        select(AuditEntry.username, AuditEntry.detail).where(AuditEntry.dossier_code == code,
                                                             AuditEntry.path == "/lookup/stop-messages")
    ).all()  # fmt: skip
    assert [tuple(r) for r in rows][-1] == (None, f"dossier {code} (the applicant): contact: sms -> none; "
                                                  "1 pending messages stopped")  # fmt: skip
