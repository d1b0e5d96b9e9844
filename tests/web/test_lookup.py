"""The citizen's lookup (service and public route): no personal data, and no oracle on codes."""

import pytest

from dossiers import lookup
from kernel.errors import InvalidInput, NotFound
from tests.conftest import BACKDATE_REASON

API = "/api/v1"
WARD = "000.01.01.H26"
NAME, ID_NUMBER, PHONE = "Phạm Thị Hoa", "001190099887", "0912345678"


@pytest.fixture
def dossier(client):
    body = {
        "procedure_code": "1.004222",
        "agency_code": WARD,
        "received_at": "2025-06-02T09:00",
        "backdate_reason": BACKDATE_REASON,
        "applicant": {"name": NAME, "id_number": ID_NUMBER, "phone": PHONE, "address": "12 Hàng Bạc"},
    }
    response = client.post(f"{API}/dossiers", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_lookup_gives_status_and_appointment_without_personal_data(client, dossier):
    response = client.get(f"{API}/lookup", params={"code": dossier["code"], "phone_last4": "5678"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["code"] == dossier["code"]
    assert body["status"] == "received" and body["status_code"] == 2
    assert body["procedure_code"] == "1.004222" and body["procedure_name"]
    assert body["agency_name"] == "Phường Hoàn Kiếm"
    assert body["received_at"] == "2025-06-02T09:00:00+07:00"
    assert body["appointment_at"] == dossier["due_at"] == body["original_appointment_at"]
    assert body["apology"] is None
    for private in (NAME, ID_NUMBER, PHONE, "Hàng Bạc", "applicant"):
        assert private not in response.text


def test_wrong_digits_and_wrong_code_get_the_same_404(client, dossier):
    wrong_digits = client.get(f"{API}/lookup", params={"code": dossier["code"], "phone_last4": "0000"})
    wrong_code = client.get(f"{API}/lookup", params={"code": dossier["code"][:-1] + "9", "phone_last4": "5678"})
    unknown = client.get(f"{API}/lookup", params={"code": "nothing-like-a-code", "phone_last4": "5678"})
    assert wrong_digits.status_code == wrong_code.status_code == unknown.status_code == 404
    assert (
        wrong_digits.json() == wrong_code.json() == unknown.json() == {"error": "not_found", "detail": lookup.NOT_FOUND}
    )
    assert wrong_digits.headers.get("content-length") == wrong_code.headers.get("content-length")


def test_a_dossier_without_phone_cannot_be_looked_up(client):
    body = {"procedure_code": "1.004222", "agency_code": WARD, "applicant": {"name": "Lê Văn C"}}
    code = client.post(f"{API}/dossiers", json=body).json()["code"]
    response = client.get(f"{API}/lookup", params={"code": code, "phone_last4": "0000"})
    assert response.status_code == 404 and response.json()["detail"] == lookup.NOT_FOUND


@pytest.mark.parametrize("digits", ["12a4", "123", "12345", ""])
def test_digits_must_be_four_digits(client, dossier, digits):
    response = client.get(f"{API}/lookup", params={"code": dossier["code"], "phone_last4": digits})
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_input"


def test_apology_shows_the_new_appointment(client, dossier):
    apology = {
        "type": "apology_issued",
        "at": "2025-06-09T10:00",
        "reason": "Cần xác minh thêm",
        "new_due_at": "2025-06-19T16:00",
        "backdate_reason": BACKDATE_REASON,
    }
    assert client.post(f"{API}/dossiers/{dossier['code']}/events", json=apology).status_code == 201
    body = client.get(f"{API}/lookup", params={"code": dossier["code"], "phone_last4": "5678"}).json()
    assert body["apology"] == {
        "issued_at": "2025-06-09T10:00:00+07:00",
        "reason": "Cần xác minh thêm",
        "new_appointment_at": "2025-06-19T16:00:00+07:00",
    }
    assert body["appointment_at"] == "2025-06-19T16:00:00+07:00"
    assert body["original_appointment_at"] == dossier["original_due_at"]


def test_waiting_for_a_supplement_says_the_clock_is_stopped(client, dossier):
    event = {
        "type": "supplement_requested",
        "at": "2025-06-03T09:00",
        "reason": "Thiếu giấy tờ",
        "backdate_reason": "x",
    }
    assert client.post(f"{API}/dossiers/{dossier['code']}/events", json=event).status_code == 201
    body = client.get(f"{API}/lookup", params={"code": dossier["code"], "phone_last4": "5678"}).json()
    assert body["status"] == "waiting_supplement" and body["clock_stopped"] is True


def test_service_raises_one_neutral_not_found(session, client, dossier):
    found = lookup.lookup(session, code=f" {dossier['code']} ", phone_last4="5678")
    assert found.code == dossier["code"]
    for code, digits in ((dossier["code"], "1234"), ("000.01.01.H26-250602-9999", "5678"), ("x" * 200, "5678")):
        with pytest.raises(NotFound) as raised:
            lookup.lookup(session, code=code, phone_last4=digits)
        assert raised.value.detail == lookup.NOT_FOUND
    with pytest.raises(InvalidInput):
        lookup.lookup(session, code=dossier["code"], phone_last4="56 78")


def test_phone_with_country_code_matches_its_last_digits(client):
    body = {"procedure_code": "1.004222", "agency_code": WARD, "applicant": {"name": "B", "phone": "+84987654321"}}
    code = client.post(f"{API}/dossiers", json=body).json()["code"]
    assert client.get(f"{API}/lookup", params={"code": code, "phone_last4": "4321"}).status_code == 200
