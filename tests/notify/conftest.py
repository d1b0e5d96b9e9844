import pytest
from sqlalchemy import select

from notify.models import OutboxMessage
from tests.conftest import BACKDATE_REASON

API = "/api/v1/dossiers"
RESIDENCE = "1.004222"  # permanent residence, 7 working days, commune level: one stage at the ward
WARD = "000.01.01.H26"
PHONE = "0912345678"
CONSENT = {"contact_consent": True, "preferred_channel": "sms"}


@pytest.fixture
def receive(client):
    def receive(received_at="2025-06-02T09:00", expect=201, applicant=None, **extra):
        body = {
            "procedure_code": RESIDENCE,
            "agency_code": WARD,
            "channel": "counter",
            "applicant": {"name": "Nguyễn Thị Lan", "id_number": "001190012345", "phone": PHONE, **(applicant or {})},
            **extra,
        }
        if received_at is not None:
            body["received_at"] = received_at
            body.setdefault("backdate_reason", BACKDATE_REASON)
        response = client.post(API, json=body)
        assert response.status_code == expect, response.text
        return response.json()

    return receive


@pytest.fixture
def event(client):
    def event(code, type, expect=201, headers=None, **fields):
        if fields.get("at") and fields["at"].startswith("2025"):
            fields.setdefault("backdate_reason", BACKDATE_REASON)
        response = client.post(f"{API}/{code}/events", json={"type": type, **fields}, headers=headers or {})
        assert response.status_code == expect, response.text
        return response.json()

    return event


def outbox_of(session, code: str | None = None) -> list[OutboxMessage]:
    session.expire_all()
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if code is not None:
        query = query.where(OutboxMessage.key.startswith(f"{code}:"))
    return list(session.execute(query).scalars())
