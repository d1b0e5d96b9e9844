"""Consent at intake, and the messages events write into the outbox in their own transaction (#17)."""

from sqlalchemy import func, select

from dossiers.models import Dossier
from notify.models import OutboxMessage
from tests.notify.conftest import API, CONSENT, PHONE, outbox_of


def test_consent_is_recorded_and_the_receipt_message_written(client, session, receive):
    dossier = receive(applicant=CONSENT)
    assert dossier["applicant"]["contact_consent"] is True
    assert dossier["applicant"]["preferred_channel"] == "sms"
    [message] = outbox_of(session, dossier["code"])
    assert message.key == f"{dossier['code']}:received:1:sms"
    assert (message.kind, message.channel, message.audience) == ("received", "sms", "citizen")
    assert message.status == "pending"
    assert message.address == PHONE
    assert dossier["code"] in message.body and "11/06/2025 09:00" in message.body  # the appointment
    assert f"/lookup?code={dossier['code']}" in message.body
    # nothing personal beyond what the message is for: no name, identity number or phone in the text
    assert "Lan" not in message.body and "001190012345" not in message.body and PHONE not in message.body
    listed = client.get(f"{API}/{dossier['code']}/messages").json()
    assert [m["kind"] for m in listed["messages"]] == ["received"]
    assert listed["messages"][0]["status"] == "pending" and "address" not in listed["messages"][0]


def test_email_channel_and_read_back(client, session, receive):
    dossier = receive(applicant={"contact_consent": True, "preferred_channel": "email", "email": "lan@example.vn"})
    read = client.get(f"{API}/{dossier['code']}").json()
    assert read["applicant"]["email"] == "lan@example.vn"
    [message] = outbox_of(session, dossier["code"])
    assert message.channel == "email" and message.address == "lan@example.vn"
    assert message.subject == f"Đã tiếp nhận hồ sơ {dossier['code']}"


def test_no_consent_no_message(session, receive, event):
    code = receive()["code"]
    event(code, "supplement_requested", at="2025-06-03T10:00", reason="Bản sao giấy khai sinh")
    event(code, "supplement_received", at="2025-06-04T10:00")
    event(code, "resolved", at="2025-06-05T10:00")
    assert outbox_of(session, code) == []
    # a channel chosen without consent is not kept: the consent is what allows messages
    code = receive(applicant={"preferred_channel": "sms"})["code"]
    assert outbox_of(session, code) == []


def test_consent_needs_a_reachable_channel(client, session):
    def post(applicant):
        return client.post(
            API,
            json={
                "procedure_code": "1.004222",
                "agency_code": "000.01.01.H26",
                "applicant": {"name": "Trần Văn Bình", **applicant},
            },
        )

    before = session.execute(select(func.count()).select_from(Dossier)).scalar_one()
    cases = [
        ({"contact_consent": True}, "contact_consent needs preferred_channel"),
        ({"contact_consent": True, "preferred_channel": "sms"}, "needs the applicant's phone"),
        ({"contact_consent": True, "preferred_channel": "zalo"}, "needs the applicant's phone"),
        ({"contact_consent": True, "preferred_channel": "email", "phone": PHONE}, "needs the applicant's email"),
        ({"contact_consent": True, "preferred_channel": "email", "email": "not-an-email"}, "email"),
        ({"contact_consent": True, "preferred_channel": "fax", "phone": PHONE}, "preferred_channel"),
    ]
    for applicant, words in cases:
        response = post(applicant)
        assert response.status_code == 422, (applicant, response.text)
        assert response.json()["error"] == "invalid_input"
        assert words in response.text, (applicant, response.text)
    assert session.execute(select(func.count()).select_from(Dossier)).scalar_one() == before
    assert outbox_of(session) == []


def test_every_event_that_tells_the_citizen_writes_its_message(client, session, receive, event):
    code = receive(applicant=CONSENT)["code"]
    event(code, "supplement_requested", at="2025-06-03T10:00", reason="Bản sao giấy khai sinh có chứng thực")
    event(code, "supplement_received", at="2025-06-04T10:00")
    event(code, "paused", at="2025-06-04T11:00", reason="Chờ nộp lệ phí")
    event(code, "resumed", at="2025-06-05T09:00")
    event(code, "apology_issued", at="2025-06-06T10:00", new_due_at="2025-06-20T17:00", reason="Cần xác minh thêm")
    event(code, "resolved", at="2025-06-13T10:00")
    event(code, "result_returned", at="2025-06-13T15:00")
    messages = outbox_of(session, code)
    assert [(m.kind, m.cause) for m in messages] == [
        ("received", "received:1"),
        ("supplement_requested", "supplement_requested:2"),
        ("resumed", "supplement_received:3"),
        ("paused", "paused:4"),
        ("resumed", "resumed:5"),
        ("apology", "apology_issued:6"),
        ("result_ready", "resolved:7"),
        ("rating", "result_returned:8"),
    ]
    by_kind = {m.cause: m.body for m in messages}
    assert "Ban sao giay khai sinh" not in by_kind["supplement_requested:2"]  # staff's words kept as written
    assert "Bản sao giấy khai sinh có chứng thực" in by_kind["supplement_requested:2"]
    assert "24/06/2025 10:00" in by_kind["supplement_requested:2"]  # 15 working days to bring it
    assert "20/06/2025 17:00" in by_kind["apology_issued:6"] and "Cần xác minh thêm" in by_kind["apology_issued:6"]
    assert f"/lookup?code={code}#rating" in by_kind["result_returned:8"]
    assert len({m.key for m in messages}) == len(messages)


def test_a_refused_event_or_a_replayed_request_writes_no_message(client, session, receive, event):
    code = receive(applicant=CONSENT)["code"]
    event(code, "result_returned", expect=409)  # not allowed now: nothing written, its message neither
    key = {"Idempotency-Key": "notify-replay-1"}
    event(code, "paused", at="2025-06-03T10:00", reason="Chờ", headers=key)
    event(code, "paused", at="2025-06-03T10:00", reason="Chờ", headers=key)  # the retry: replayed
    assert [m.kind for m in outbox_of(session, code)] == ["received", "paused"]


def test_an_administrator_edits_a_template_and_previews_it(client, session, receive):
    listed = client.get("/api/v1/notify/templates").json()
    pairs = {(t["kind"], t["channel"]) for t in listed}
    assert pairs >= {("received", "sms"), ("apology", "zalo"), ("digest", "email")}
    assert all(not t["customised"] for t in listed)
    body = {"body": "Hồ sơ {code} đã nhận, hẹn {due}. {lookup_url}"}
    preview = client.post("/api/v1/notify/templates/received/sms/preview", json=body).json()
    assert preview["body"].startswith("Hồ sơ 000.01.01.H26-250602-0001 đã nhận, hẹn 11/06/2025 09:00.")
    unknown = client.put("/api/v1/notify/templates/received/sms", json={"body": "Gọi {phone} ngay"})
    assert unknown.status_code == 422 and "unknown placeholder {phone}" in unknown.json()["detail"]
    braces = client.put("/api/v1/notify/templates/received/sms", json={"body": "Hồ sơ {code"})
    assert braces.status_code == 422
    saved = client.put("/api/v1/notify/templates/received/sms", json=body)
    assert saved.status_code == 200 and saved.json()["customised"]
    code = receive(applicant=CONSENT)["code"]
    [message] = outbox_of(session, code)
    assert message.body == f"Hồ sơ {code} đã nhận, hẹn 11/06/2025 09:00. http://testserver/lookup?code={code}"
    clerk = client.put("/api/v1/notify/templates/received/sms", json=body, headers={"Authorization": "Bearer x"})
    assert clerk.status_code == 401
    reset = client.delete("/api/v1/notify/templates/received/sms").json()
    assert not reset["customised"] and reset["body"].startswith("Ho so {code}")


def test_templates_are_for_administrators(client_as):
    clerk = client_as("clerk")
    assert clerk.get("/api/v1/notify/templates").status_code == 403
    assert clerk.put("/api/v1/notify/templates/received/sms", json={"body": "x"}).status_code == 403


def test_messages_are_scoped_like_the_dossier(client_as, receive):
    code = receive(applicant=CONSENT)["code"]
    assert client_as("clerk").get(f"{API}/{code}/messages").status_code == 200
    assert client_as("other-clerk").get(f"{API}/{code}/messages").status_code == 404


def test_outbox_key_is_unique(session):
    keys = [c.name for c in OutboxMessage.__table__.c if c.unique]
    assert keys == ["key"]
