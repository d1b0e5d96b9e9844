import pytest

from tests.conftest import BACKDATE_REASON

API = "/api/v1/dossiers"
RELIGION = "1.012644"  # 30 working days: Sở Dân tộc và Tôn giáo 21 → Văn phòng UBND 7 → Sở 2
RESIDENCE = "1.004222"  # permanent residence, 7 working days, commune level
DEPARTMENT = "000.00.03.H26"
CITY_OFFICE = "000.00.01.H26"
WARD = "000.01.01.H26"


@pytest.fixture
def receive(client):
    def receive(procedure_code=RESIDENCE, agency_code=WARD, received_at="2025-06-02T09:00", expect=201, **extra):
        body = {
            "procedure_code": procedure_code,
            "agency_code": agency_code,
            "channel": "counter",
            "applicant": {"name": "Nguyễn Thị Lan", "id_number": "001190012345", "phone": "0912345678"},
            **extra,
        }
        if received_at is not None:
            body["received_at"] = received_at
            body.setdefault("backdate_reason", BACKDATE_REASON)  # history in 2025: the admin says why
        response = client.post(API, json=body)
        assert response.status_code == expect, response.text
        return response.json()

    return receive


@pytest.fixture
def event(client):
    def event(code, type, expect=201, headers=None, **fields):
        if fields.get("at") and fields["at"].startswith("2025"):
            fields.setdefault("backdate_reason", BACKDATE_REASON)  # history in 2025: the admin says why
        response = client.post(f"{API}/{code}/events", json={"type": type, **fields}, headers=headers or {})
        assert response.status_code == expect, response.text
        return response.json()

    return event
