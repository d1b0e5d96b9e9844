"""The permission matrix: each role × each write route × own / foreign agency, and who reads what."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import DEPARTMENT, OTHER_WARD, PASSWORD, WARD

API = "/api/v1"
ROLES = ("admin", "manager", "clerk", "officer", "viewer", None)


def intake_body(agency: str) -> dict:
    return {
        "procedure_code": "1.004222",
        "agency_code": agency,
        "applicant": {"name": "Phạm Thị D", "id_number": "001190099999", "phone": "0911222333"},
    }


@pytest.fixture
def dossiers(client):
    """Received at the ward; received at another ward; received at the ward and held by the department."""

    def receive(agency: str) -> str:
        response = client.post(f"{API}/dossiers", json=intake_body(agency))
        assert response.status_code == 201, response.text
        return response.json()["code"]

    codes = {"own": receive(WARD), "foreign": receive(OTHER_WARD), "held": receive(WARD)}
    forwarded = client.post(
        f"{API}/dossiers/{codes['held']}/events", json={"type": "forwarded", "to_agency": DEPARTMENT}
    )
    assert forwarded.status_code == 201
    return codes


def apology() -> dict:
    new_due = (datetime.now(UTC) + timedelta(days=14)).isoformat()  # after the due, within 7 more working days
    return {"type": "apology_issued", "new_due_at": new_due, "reason": "Cần xác minh"}


ALLOWED = {  # case → roles that may (admins may everything)
    "intake own": {"clerk"},
    "intake foreign": set(),
    "event on own dossier": {"clerk", "manager"},
    "event on foreign dossier": set(),
    "event on dossier held by own agency": {"clerk", "officer", "manager"},
    "apology on own dossier": {"manager"},
    "apology on foreign dossier": set(),
    "create procedure": set(),
    "new procedure version": set(),
    "patch procedure": set(),
    "import catalogue": set(),
    "add calendar override": set(),
    "delete calendar override": set(),
    "create user": set(),
}
UNSEEN = {  # case → roles for which the dossier lies outside their scope: unknown to them (404), as a wrong code
    "event on own dossier": {"officer"},
    "event on foreign dossier": {"manager", "clerk", "officer"},
    "apology on own dossier": {"officer"},
    "apology on foreign dossier": {"manager", "clerk", "officer"},
}


def request_for(case: str, dossiers: dict[str, str], override_id: int):
    event = {"type": "paused", "reason": "Chờ nộp phí"}
    version = {
        "name": "Đăng ký thường trú", "field_code": "cu_tru", "level": "commune",
        "processing_time": {"amount": 5, "unit": "working_days"}, "effective_from": "2030-01-01",
    }  # fmt: skip
    return {
        "intake own": ("post", "/dossiers", {"json": intake_body(WARD)}),
        "intake foreign": ("post", "/dossiers", {"json": intake_body(OTHER_WARD)}),
        "event on own dossier": ("post", f"/dossiers/{dossiers['own']}/events", {"json": event}),
        "event on foreign dossier": ("post", f"/dossiers/{dossiers['foreign']}/events", {"json": event}),
        "event on dossier held by own agency": ("post", f"/dossiers/{dossiers['held']}/events", {"json": event}),
        "apology on own dossier": ("post", f"/dossiers/{dossiers['own']}/events", {"json": apology()}),
        "apology on foreign dossier": ("post", f"/dossiers/{dossiers['foreign']}/events", {"json": apology()}),
        "create procedure": ("post", "/procedures", {"json": {**version, "code": "9.123456"}}),
        "new procedure version": ("post", "/procedures/1.004222/versions", {"json": version}),
        "patch procedure": ("patch", "/procedures/1.004222", {"json": {"fee": "15000"}}),
        "import catalogue": ("post", "/catalogue/import", {"files": {"file": ("c.csv", b"code\n", "text/csv")}}),
        "add calendar override": ("post", "/calendar/overrides", {"json": {"date": "2030-05-05", "kind": "off", "reason": "x"}}),  # noqa: E501
        "delete calendar override": ("delete", f"/calendar/overrides/{override_id}", {}),
        "create user": ("post", "/users", {"json": {"username": "newbie", "password": "long enough pw", "role": "viewer", "agency_code": WARD}}),  # noqa: E501
    }[case]  # fmt: skip


@pytest.mark.parametrize("role", ROLES)
def test_permission_matrix(client, client_as, dossiers, role):
    override_id = client.get(f"{API}/calendar/overrides").json()[0]["id"]
    user = client_as(role)
    verdicts = {}
    for case in ALLOWED:
        method, path, arguments = request_for(case, dossiers, override_id)
        response = getattr(user, method)(API + path, **arguments)
        assert response.status_code < 500, (case, response.text)
        verdicts[case] = {401: "unauthenticated", 403: "forbidden", 404: "unknown"}.get(response.status_code, "allowed")
        if role is None:
            assert response.headers["WWW-Authenticate"] == "Bearer"
    expected = {
        case: "unauthenticated"
        if role is None
        else "allowed"
        if role == "admin" or role in allowed
        else "unknown"
        if role in UNSEEN.get(case, ())
        else "forbidden"
        for case, allowed in ALLOWED.items()
    }
    assert verdicts == expected


def test_reads_follow_role_and_scope(client_as, dossiers):
    manager, viewer, clerk = client_as("manager"), client_as("viewer"), client_as("clerk")
    assert manager.get(f"{API}/dossiers/{dossiers['own']}").status_code == 200
    assert manager.get(f"{API}/dossiers/{dossiers['foreign']}").status_code == 404
    assert viewer.get(f"{API}/dossiers/{dossiers['own']}").status_code == 403
    assert viewer.get(f"{API}/reports/period", params={"from": "2025-01-01", "to": "2025-01-31"}).status_code == 200
    assert viewer.get(f"{API}/queues/overdue", params={"agency": WARD}).status_code == 403
    assert manager.get(f"{API}/queues/overdue", params={"agency": OTHER_WARD}).status_code == 403
    assert manager.get(f"{API}/queues/overdue", params={"agency": WARD}).status_code == 200
    listed = clerk.get(f"{API}/dossiers").json()["items"]
    assert {d["receiving_agency_code"] for d in listed} == {WARD}
    assert clerk.get(f"{API}/dossiers", params={"agency": OTHER_WARD}).status_code == 403
    assert client_as(None).get(f"{API}/procedures").status_code == 401
    assert client_as(None).get(f"{API}/healthz").status_code == 200


def test_personal_data_is_masked_outside_the_handling_agencies(client, client_as, dossiers):
    handling = client_as("clerk").get(f"{API}/dossiers/{dossiers['own']}").json()["applicant"]
    assert (handling["id_number"], handling["phone"]) == ("001190099999", "0911222333")
    city = client_as("city-manager").get(f"{API}/dossiers/{dossiers['own']}").json()["applicant"]
    assert city["id_number"] == "*********999" and city["phone"] == "*******333"
    held = client_as("officer").get(f"{API}/dossiers/{dossiers['held']}").json()["applicant"]
    assert held["phone"] == "0911222333"  # the department handles it now


def test_sign_in_and_failed_sign_in_are_audited(client, client_as):
    anonymous = client_as(None)
    good = anonymous.post(f"{API}/auth/token", data={"username": "clerk", "password": PASSWORD})
    assert good.status_code == 200 and good.json()["token_type"] == "bearer"
    me = anonymous.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {good.json()['access_token']}"})
    assert me.json() == {"username": "clerk", "role": "clerk", "agency_code": WARD}
    bad = anonymous.post(f"{API}/auth/token", data={"username": "clerk", "password": "wrong password"})
    assert bad.status_code == 401 and bad.json()["detail"] == "wrong username or password"
    nobody = anonymous.post(f"{API}/auth/token", data={"username": "ghost", "password": "whatever123"})
    assert nobody.json()["detail"] == "wrong username or password"
    trail = client.get(f"{API}/audit").json()
    assert [(e["outcome"], e["detail"]) for e in trail[:3]] == [
        ("failed sign-in", "sign-in as 'ghost'"),  # as on the sign-in page; it keeps its failure count
        ("failed sign-in", "sign-in as 'clerk'"),
        ("ok", "sign-in as 'clerk'"),
    ]
    assert trail[0]["client_address"] == "testclient"
    assert client_as("manager").get(f"{API}/audit").status_code == 403


def test_every_write_is_audited_with_who_and_what(client, client_as):
    response = client_as("clerk").post(f"{API}/dossiers", json=intake_body(WARD))
    code = response.json()["code"]
    refused = client_as("clerk").post(f"{API}/dossiers", json=intake_body(OTHER_WARD))
    assert refused.status_code == 403
    trail = client.get(f"{API}/audit", params={"username": "clerk"}).json()
    assert [(e["method"], e["path"], e["outcome"], e["role"]) for e in trail[:2]] == [
        ("POST", "/api/v1/dossiers", "refused 403", "clerk"),
        ("POST", "/api/v1/dossiers", "ok", "clerk"),
    ]
    assert trail[1]["dossier_code"] == code and trail[1]["action"] == "POST /api/v1/dossiers"
