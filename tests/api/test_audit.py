"""The audit trail is complete: refused writes (pages and API) with the user, the dossier of every write,
values made storable, a row that cannot be written failing the request closed, reads of personal data
and public lookups, and the administrator's filters."""

import logging
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlmodel import Session

from accounts import service as accounts
from accounts.audit import storable
from accounts.models import User
from api.deps import SessionDep
from api.limits import LookupAttempt, RateLimited
from api.web.auth import csrf_token
from api.web.common import PageRoute
from dossiers.models import Dossier
from kernel.errors import Conflict
from tests.conftest import OTHER_WARD, PASSWORD, WARD, sign_in_csrf

API = "/api/v1"
PHONE = "0912345678"


def intake_body(agency: str = WARD, name: str = "Phạm Thị D") -> dict:
    return {
        "procedure_code": "1.004222",
        "agency_code": agency,
        "applicant": {"name": name, "id_number": "001190099999", "phone": PHONE},
    }


def browser_as(app, username: str) -> tuple[TestClient, str]:
    """A page client signed in through the sign-in form, and its CSRF token."""
    browser = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
    response = browser.post("/login", data={"username": username, "password": PASSWORD, **sign_in_csrf(browser)})
    assert response.status_code == 303, response.text
    return browser, csrf_token(response.cookies["motcua_session"])


def trail(client, **params) -> list[dict]:
    response = client.get(f"{API}/audit", params={"page_size": 200, **params})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def code(client) -> str:
    response = client.post(f"{API}/dossiers", json=intake_body())
    assert response.status_code == 201, response.text
    return response.json()["code"]


# --- refused writes -------------------------------------------------------------------------------


def test_refused_page_writes_are_recorded_as_refused_with_the_user(app, client):
    clerk, csrf = browser_as(app, "clerk")
    foreign = {"procedure_code": "1.004222", "agency_code": OTHER_WARD, "name": "Vũ Văn E", "csrf_token": csrf}
    assert clerk.post("/desk/dossiers", data=foreign).status_code == 403
    forged = clerk.post("/desk/dossiers", data={**foreign, "agency_code": WARD, "csrf_token": "forged"})
    assert forged.status_code == 403
    viewer, viewer_csrf = browser_as(app, "viewer")
    assert viewer.post("/desk/dossiers", data={**foreign, "csrf_token": viewer_csrf}).status_code == 403
    rows = trail(client, path="/desk/dossiers")
    assert [(e["username"], e["role"], e["outcome"], e["action"]) for e in rows[:3]] == [
        ("viewer", "viewer", "refused 403", "POST /desk/dossiers"),
        ("clerk", "clerk", "refused 403", "POST /desk/dossiers"),
        ("clerk", "clerk", "refused 403", "POST /desk/dossiers"),
    ]


def test_a_refused_page_event_names_the_user_and_the_dossier(app, client, code):
    clerk, csrf = browser_as(app, "clerk")
    refused = clerk.post(
        f"/desk/dossiers/{code}/events", data={"type": "withdrawn", "at": "2001-01-01T08:00", "csrf_token": csrf}
    )
    assert refused.status_code == 422
    (row,) = trail(client, dossier=code, method="POST", path="/desk/")
    assert (row["username"], row["outcome"], row["action"]) == (
        "clerk",
        "refused 422",
        "POST /desk/dossiers/{code}/events",
    )


def test_a_page_write_without_a_session_is_refused_401(app, client):
    anonymous = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
    assert anonymous.post("/desk/dossiers", data={"procedure_code": "1.004222"}).status_code == 303
    row = trail(client, path="/desk/dossiers")[0]
    assert (row["username"], row["outcome"]) == (None, "refused 401")


def test_invalid_input_is_recorded_as_refused_422_not_as_an_error(client, client_as):
    response = client_as("clerk").post(f"{API}/dossiers", json={"procedure_code": "1.004222"})
    assert response.status_code == 422
    row = trail(client, username="clerk")[0]
    assert row["outcome"] == "refused 422" and row["action"] == "POST /api/v1/dossiers"


def test_a_page_that_refuses_keeps_nothing_but_its_audit_row(app, client, session):
    """A page route whose service wrote, then refused: the writes are rolled back, the refusal audited."""
    router = APIRouter(route_class=PageRoute)

    @router.post("/test-only/half-write")
    def half_write(session: SessionDep):
        accounts.create_user(
            session, username="half-written", password="long enough password", role="admin", agency_code=None
        )
        raise Conflict("refused after a write")

    app.include_router(router)
    response = client.post("/test-only/half-write")
    assert response.status_code == 409 and "xung đột với dữ liệu hiện có" in response.text  # the page's words
    assert session.execute(select(User).where(User.username == "half-written")).first() is None
    assert trail(client, path="/test-only/")[0]["outcome"] == "refused 409"


# --- every write names its dossier ----------------------------------------------------------------


def test_page_writes_name_the_dossier(app, client):
    clerk, csrf = browser_as(app, "clerk")
    form = {"procedure_code": "1.004222", "agency_code": WARD, "name": "Vũ Văn E", "csrf_token": csrf}
    received = clerk.post("/desk/dossiers", data=form)
    assert received.status_code == 303
    code = received.headers["location"].split("/")[3]
    forwarded = clerk.post(f"/desk/dossiers/{code}/events", data={"type": "paused", "reason": "x", "csrf_token": csrf})
    assert forwarded.status_code == 303
    rows = trail(client, dossier=code, method="POST")
    assert [(e["action"], e["outcome"], e["username"]) for e in rows] == [
        ("POST /desk/dossiers/{code}/events", "ok", "clerk"),
        ("POST /desk/dossiers", "ok", "clerk"),
    ]


def test_api_writes_name_the_dossier(client, client_as, code):
    response = client_as("clerk").post(f"{API}/dossiers/{code}/events", json={"type": "paused", "reason": "x"})
    assert response.status_code == 201
    rows = trail(client, dossier=code, method="POST")
    assert [(e["action"], e["personal_data"]) for e in rows] == [
        ("POST /api/v1/dossiers/{code}/events", "unmasked"),
        ("POST /api/v1/dossiers", "unmasked"),
    ]


# --- values made storable; a row that cannot be written fails the request closed ---------------------


def test_a_nul_byte_in_the_path_keeps_the_answer_and_the_row(client, client_as):
    """On PostgreSQL the row used to be lost and the answer changed with it; now the input rule answers (422
    naming the path parameter, before anything reads the database) alike on both databases, and the row is kept."""
    event = {"type": "paused", "reason": "x"}
    for who in (None, "viewer"):
        answer = client_as(who).post(f"{API}/dossiers/abc%00def/events", json=event)
        assert answer.status_code == 422 and answer.json()["error"] == "invalid_input"
        assert answer.json()["detail"].startswith("code: contains U+0000 (NUL)")
    rows = trail(client, dossier="abc\\x00def")
    assert [(e["outcome"], e["path"]) for e in rows] == [
        ("refused 422", "/api/v1/dossiers/abc\\x00def/events"),
        ("refused 422", "/api/v1/dossiers/abc\\x00def/events"),
    ]


def test_control_characters_are_escaped_and_long_values_clipped(client, client_as):
    path = f"{API}/dossiers/{'x' * 600}%0A%E2%80%AE/events"
    assert client_as(None).post(path, json={}).status_code == 422  # the input rule refuses the line break
    row = trail(client, method="POST", outcome="refused 422")[0]
    assert len(row["path"]) == 500 and row["path"].startswith("/api/v1/dossiers/xxx")
    assert len(row["dossier_code"]) == 80
    assert storable("a\x00b\n\u202e\u200bc", 100) == "a\\x00b\\n\\u202e\\u200bc"


@pytest.fixture
def refusing_audit(connection):
    """The database refuses every new audit row (a trigger), as it would refuse a value it cannot store."""
    if connection.dialect.name == "postgresql":
        connection.execute(
            text(
                "CREATE FUNCTION refuse_audit() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'audit refused'; END; "
                "$$ LANGUAGE plpgsql"
            )
        )
        connection.execute(
            text(
                "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_entry FOR EACH ROW EXECUTE FUNCTION refuse_audit()"
            )
        )
    else:
        connection.execute(
            text("CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_entry BEGIN SELECT RAISE(ABORT, 'refused'); END")
        )


def _dossiers_named(session: Session, name: str) -> int:
    return session.execute(select(func.count()).where(Dossier.applicant_name == name)).scalar_one()


def test_a_write_whose_audit_row_fails_answers_500_and_writes_nothing(client_as, session, refusing_audit, caplog):
    with caplog.at_level(logging.ERROR, logger="motcua.audit"):
        response = client_as("clerk").post(f"{API}/dossiers", json=intake_body(name="Không Ghi Được"))
    assert response.status_code == 500 and response.json()["error"] == "audit_unavailable"
    assert _dossiers_named(session, "Không Ghi Được") == 0
    assert "audit row not written, request refused (POST /api/v1/dossiers)" in caplog.text


def test_a_refusal_or_a_read_whose_audit_row_fails_answers_500(client_as, code, refusing_audit):
    assert client_as(None).post(f"{API}/dossiers", json=intake_body()).status_code == 500
    assert client_as("clerk").get(f"{API}/dossiers/{code}").status_code == 500
    assert client_as(None).get(f"{API}/lookup", params={"code": code, "phone_last4": "5678"}).status_code == 500
    assert client_as("clerk").get(f"{API}/dossiers", params={"q": "x"}).status_code == 200  # not audited


# --- reads of personal data and public lookups --------------------------------------------------------


def test_reads_of_a_dossier_are_recorded_masked_or_unmasked(app, client, client_as, code):
    assert client_as("clerk").get(f"{API}/dossiers/{code}").status_code == 200
    assert client_as("city-manager").get(f"{API}/dossiers/{code}").status_code == 200
    assert client_as("clerk").get(f"{API}/dossiers/{code}/receipt").status_code == 200
    clerk, _ = browser_as(app, "clerk")
    assert clerk.get(f"/desk/dossiers/{code}").status_code == 200
    assert clerk.get(f"/desk/dossiers/{code}/receipt").status_code == 200
    assert clerk.get(f"/desk/dossiers/{code}/apology").status_code == 404  # shown, then refused: none issued
    rows = trail(client, dossier=code, method="GET")
    assert [(e["username"], e["action"], e["personal_data"], e["outcome"]) for e in rows] == [
        ("clerk", "GET /desk/dossiers/{code}/apology", "unmasked", "refused 404"),
        ("clerk", "GET /desk/dossiers/{code}/receipt", "unmasked", "ok"),
        ("clerk", "GET /desk/dossiers/{code}", "unmasked", "ok"),
        ("clerk", "GET /api/v1/dossiers/{code}/receipt", "unmasked", "ok"),
        ("city-manager", "GET /api/v1/dossiers/{code}", "masked", "ok"),
        ("clerk", "GET /api/v1/dossiers/{code}", "unmasked", "ok"),
    ]
    assert {e["client_address"] for e in rows} == {"testclient"}


def test_public_lookups_record_the_code_and_the_answer_not_the_digits(app, client, client_as, code):
    citizen = client_as(None)
    assert citizen.get(f"{API}/lookup", params={"code": code, "phone_last4": "5678"}).status_code == 200
    assert citizen.get(f"{API}/lookup", params={"code": f" {code} ", "phone_last4": "4321"}).status_code == 404
    assert citizen.get(f"{API}/lookup", params={"code": code, "phone_last4": "12a4"}).status_code == 422
    page = citizen.post("/lookup", data={"code": code, "phone_last4": "9876"})
    assert page.status_code == 404
    rows = trail(client, dossier=code, path="/")
    looked_up = [(e["username"], e["action"], e["outcome"]) for e in rows if "lookup" in e["path"]]
    assert looked_up == [
        (None, "POST /lookup", "refused 404"),
        (None, "GET /api/v1/lookup", "refused 422"),
        (None, "GET /api/v1/lookup", "refused 404"),
        (None, "GET /api/v1/lookup", "ok"),
    ]
    for row in rows:
        texts = [str(value) for name, value in row.items() if name not in ("id", "at")]
        assert not any(digits in value for value in texts for digits in ("5678", "4321", "9876"))


def test_a_rate_limited_lookup_is_recorded(app, client, client_as, code, monkeypatch):
    def refuse(attempt, code):
        raise RateLimited("too many lookups from your address", retry_after=60)

    monkeypatch.setattr(LookupAttempt, "admit", refuse)
    assert client_as(None).get(f"{API}/lookup", params={"code": code, "phone_last4": "5678"}).status_code == 429
    assert trail(client, dossier=code, path=f"{API}/lookup")[0]["outcome"] == "refused 429"


def test_queue_downloads_carry_no_personal_columns():
    """Exports of personal columns would have to be audited as reads; the queues hold none."""
    from sla.queues import QUEUE_COLUMNS

    assert not [column for column in QUEUE_COLUMNS if column.startswith("applicant") or "phone" in column]


# --- the administrator's view -------------------------------------------------------------------------


def test_audit_filters_by_user_dossier_action_outcome_and_period(client, client_as, code):
    clerk = client_as("clerk")
    apology = {"type": "apology_issued", "reason": "x", "new_due_at": "2030-01-01T08:00"}
    assert clerk.post(f"{API}/dossiers/{code}/events", json=apology).status_code == 403
    assert clerk.post(f"{API}/dossiers/{code}/events", json={"type": "paused", "reason": "x"}).status_code == 201
    assert clerk.post(f"{API}/dossiers", json={"procedure_code": "1.004222"}).status_code == 422
    action = "POST /api/v1/dossiers/{code}/events"
    rows = trail(client, username="clerk", dossier=code, action=action)
    assert [e["outcome"] for e in rows] == ["ok", "refused 403"]
    assert [e["action"] for e in trail(client, username="clerk", outcome="refused")] == [
        "POST /api/v1/dossiers",
        action,
    ]
    assert [e["action"] for e in trail(client, username="clerk", outcome="refused 403")] == [action]
    now = datetime.now(UTC)
    assert len(trail(client, username="clerk", **{"from": (now - timedelta(minutes=5)).isoformat()})) == 3
    assert trail(client, username="clerk", to=(now - timedelta(minutes=5)).isoformat()) == []
    assert trail(client, username="clerk", **{"from": (now + timedelta(minutes=5)).isoformat()}) == []
    first = client.get(f"{API}/audit", params={"username": "clerk", "page_size": 2})
    second = client.get(f"{API}/audit", params={"username": "clerk", "page_size": 2, "page": 2})
    assert first.headers["X-Total-Count"] == second.headers["X-Total-Count"] == "3"
    assert len(first.json()) == 2 and len(second.json()) == 1
    assert {e["id"] for e in first.json()}.isdisjoint(e["id"] for e in second.json())
    assert trail(client, path="/api/v1/dossiers/%_") == []  # wildcards are taken literally
    assert client_as("manager").get(f"{API}/audit").status_code == 403
