"""Scope on every surface: lists and searches, a foreign dossier answered as an unknown one, snapshots,
masked personal data, the agency an event is recorded in the name of, and hand-offs to active agencies."""

import re
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from api.web.auth import SESSION_COOKIE
from sla import jobs
from sla.core.rates import ParScoring
from sla.models import JobRun
from sla.reports import Period
from tests.conftest import DEPARTMENT, OTHER_WARD, WARD, signed_in

API = "/api/v1"
WARD_POLICE = "000.01.01.H26.CA"  # under the ward: in the scope of the ward's staff
CITY_POLICE = "000.00.10.H26"
INACTIVE_DISTRICT = "000.01.00.H26"  # dissolved on 01/07/2025
UNKNOWN = "000.01.01.H26-250602-9999"


def receive(client, agency: str, **applicant) -> str:
    body = {
        "procedure_code": "1.004222",
        "agency_code": agency,
        "applicant": {"name": "Phạm Thị D", "id_number": "001190099999", "phone": "0911222333", **applicant},
    }
    response = client.post(f"{API}/dossiers", json=body)
    assert response.status_code == 201, response.text
    return response.json()["code"]


@pytest.fixture
def page_as(app, tokens):
    """`page_as("clerk")`: a browser-like client signed in to the pages as that test user."""
    clients = []

    def make(username: str) -> TestClient:
        token = tokens[username]
        page = TestClient(app, raise_server_exceptions=False, headers=signed_in(token), cookies={SESSION_COOKIE: token})
        clients.append(page)
        return page

    yield make
    for page in clients:
        page.close()


@pytest.fixture
def dossiers(client) -> dict[str, str]:
    codes = {
        "ward": receive(client, WARD, name="Lê Văn Phường", phone="0901000001", id_number="001190000001"),
        "ward police": receive(client, WARD_POLICE, name="Đỗ Thị Công", phone="0901000002"),
        "other ward": receive(client, OTHER_WARD, name="Hồ Văn Khác", phone="0901000003", id_number="001190000003"),
    }
    return codes


# --- lists and searches --------------------------------------------------------------------------


def test_the_desk_lists_only_the_dossiers_of_the_users_scope(page_as, dossiers):
    desk = page_as("clerk").get("/desk").text
    assert dossiers["ward"] in desk and dossiers["ward police"] in desk  # its agency and the one under it
    assert dossiers["other ward"] not in desk and "Hồ Văn Khác" not in desk
    city = page_as("city-manager").get("/desk").text
    assert all(code in city for code in dossiers.values())


@pytest.mark.parametrize("q", ["0901000003", "001190000003", "ho van khac"])
def test_the_desk_search_finds_nobody_outside_the_scope(page_as, dossiers, q):
    assert dossiers["other ward"] in page_as("other-clerk").get("/desk", params={"q": q}).text
    found = page_as("clerk").get("/desk", params={"q": q})
    assert found.status_code == 200
    assert dossiers["other ward"] not in found.text and "Hồ Văn Khác" not in found.text


def test_the_api_list_and_the_desk_follow_one_rule(client_as, page_as, dossiers):
    for username in ("clerk", "city-manager", "other-clerk", "officer"):
        listed = {
            d["code"] for d in client_as(username).get(f"{API}/dossiers", params={"page_size": 100}).json()["items"]
        }
        desk = page_as(username).get("/desk").text
        assert {code for code in dossiers.values() if code in desk} == listed & set(dossiers.values()), username
    clerk = client_as("clerk")
    assert {d["code"] for d in clerk.get(f"{API}/dossiers").json()["items"]} >= {
        dossiers["ward"],
        dossiers["ward police"],
    }
    only_police = clerk.get(f"{API}/dossiers", params={"agency": WARD_POLICE}).json()["items"]
    assert [d["code"] for d in only_police] == [dossiers["ward police"]]
    assert clerk.get(f"{API}/dossiers", params={"agency": OTHER_WARD}).status_code == 403


# --- a foreign dossier is an unknown one ---------------------------------------------------------

READS = ["{api}/dossiers/{code}", "{api}/dossiers/{code}/receipt", "{api}/dossiers/{code}/apology"]
PAGES = ["/desk/dossiers/{code}", "/desk/dossiers/{code}/receipt", "/desk/dossiers/{code}/apology"]


def _same_answers(first, second, foreign: str) -> None:
    assert first.status_code == second.status_code == 404
    assert first.headers["content-type"] == second.headers["content-type"]
    assert first.content.replace(UNKNOWN.encode(), b"<code>") == second.content.replace(foreign.encode(), b"<code>")


@pytest.fixture
def statements(connection):
    """The SQL of every statement the requests run (their sessions share the test's connection)."""
    captured: list[str] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        captured.append(statement)

    event.listen(connection, "before_cursor_execute", capture)
    yield captured
    event.remove(connection, "before_cursor_execute", capture)


def _answer_and_work(statements: list[str], ask):
    """The answer and the statements it took, once the caches (token, agency tree) are warm."""
    ask()
    statements.clear()
    response = ask()
    return response, [re.sub(r"savepoint_\d+", "savepoint", sql) for sql in statements if "audit" not in sql]


@pytest.mark.parametrize("path", READS)
def test_a_foreign_dossier_reads_as_an_unknown_one(client_as, dossiers, statements, path):
    manager = client_as("manager")
    foreign = dossiers["other ward"]
    unknown, unknown_work = _answer_and_work(statements, lambda: manager.get(path.format(api=API, code=UNKNOWN)))
    hidden, hidden_work = _answer_and_work(statements, lambda: manager.get(path.format(api=API, code=foreign)))
    _same_answers(unknown, hidden, foreign)
    assert unknown.json()["error"] == "not_found"
    assert hidden_work == unknown_work  # the same statements, in the same order


def test_an_event_on_a_foreign_dossier_is_refused_as_on_an_unknown_one(client_as, dossiers, statements):
    clerk, foreign = client_as("clerk"), dossiers["other ward"]
    body = {"type": "paused", "reason": "Chờ nộp phí"}
    unknown, unknown_work = _answer_and_work(
        statements, lambda: clerk.post(f"{API}/dossiers/{UNKNOWN}/events", json=body)
    )
    hidden, hidden_work = _answer_and_work(
        statements, lambda: clerk.post(f"{API}/dossiers/{foreign}/events", json=body)
    )
    _same_answers(unknown, hidden, foreign)
    assert hidden_work == unknown_work
    # a dossier the user sees but may not act on is a 403 that says why
    held = client_as("officer").post(f"{API}/dossiers/{dossiers['ward']}/events", json=body)
    assert held.status_code == 404
    apology = client_as("clerk").post(
        f"{API}/dossiers/{dossiers['ward']}/events",
        json={"type": "apology_issued", "reason": "x", "new_due_at": "2099-01-01T09:00"},
    )
    assert apology.status_code == 403 and "apologies are the manager's" in apology.json()["detail"]


@pytest.mark.parametrize("path", PAGES)
def test_a_foreign_dossier_page_reads_as_an_unknown_one(page_as, dossiers, path):
    page, foreign = page_as("manager"), dossiers["other ward"]
    _same_answers(page.get(path.format(code=UNKNOWN)), page.get(path.format(code=foreign)), foreign)


def test_an_event_posted_on_a_foreign_dossier_page_reads_as_on_an_unknown_one(page_as, dossiers, client):
    page, foreign = page_as("clerk"), dossiers["other ward"]
    form = {"type": "paused", "reason": "Chờ nộp phí"}
    unknown = page.post(f"/desk/dossiers/{UNKNOWN}/events", data=form)
    hidden = page.post(f"/desk/dossiers/{foreign}/events", data=form)
    _same_answers(unknown, hidden, foreign)
    assert client.get(f"{API}/dossiers/{foreign}").json()["status"] == "received"  # nothing written


# --- snapshots -----------------------------------------------------------------------------------


def _two_wards_frozen(client, session) -> None:
    """A dossier received at each ward in June 2025, and June frozen."""
    for agency in (WARD, OTHER_WARD):
        body = {"procedure_code": "1.004222", "agency_code": agency, "received_at": "2025-06-02T09:00",
                "backdate_reason": "history for the test", "applicant": {"name": "A"}}  # fmt: skip
        assert client.post(f"{API}/dossiers", json=body).status_code == 201
    _freeze(session)


def _freeze(session) -> None:
    run = JobRun(job=jobs.FREEZE, period_key="2025-06", revision=1, status="done")
    session.add(run)
    session.flush()
    period = Period(date(2025, 6, 1), date(2025, 6, 30))
    jobs.freeze_period(session, run, period_key="2025-06", period=period, par=ParScoring())


def test_snapshots_are_read_within_the_users_scope(client, client_as, session):
    _two_wards_frozen(client, session)
    june = {"period": "2025-06"}
    everything = {s["scope"] for s in client.get(f"{API}/index/snapshots", params=june).json()["snapshots"]}
    assert {WARD, OTHER_WARD, "total"} <= everything
    manager = client_as("manager")
    assert {s["scope"] for s in manager.get(f"{API}/index/snapshots", params=june).json()["snapshots"]} == {WARD}
    refused = manager.get(f"{API}/index/snapshots", params={**june, "agency": OTHER_WARD})
    assert refused.status_code == 403 and "outside your scope" in refused.json()["detail"]
    assert manager.get(f"{API}/index/scores", params={**june, "agency": OTHER_WARD}).status_code == 403  # the model
    city = client_as("viewer")  # the city's scope: every agency, not the total row
    assert {WARD, OTHER_WARD} <= {
        s["scope"] for s in city.get(f"{API}/index/snapshots", params=june).json()["snapshots"]
    }


def test_the_index_feed_is_read_within_the_users_scope(client, client_as, session):
    _two_wards_frozen(client, session)
    june = {"period": "2025-06"}

    def agencies(who) -> set:
        return {a["agency_code"] for a in who.get(f"{API}/index/feed", params=june).json()["agencies"]}

    assert {WARD, OTHER_WARD, None} <= agencies(client)  # None: the city total
    assert agencies(client_as("manager")) == {WARD}
    csv = client_as("manager").get(f"{API}/index/feed", params={**june, "format": "csv"}).text
    assert WARD in csv and OTHER_WARD not in csv
    city = agencies(client_as("viewer"))
    assert {WARD, OTHER_WARD} <= city and None not in city


# --- personal data -------------------------------------------------------------------------------


def test_the_address_is_masked_like_the_phone_and_the_identity_number(client, client_as, page_as):
    address = "12 Hàng Bạc, phường Hoàn Kiếm"
    code = receive(client, WARD, address=address)
    assert client_as("clerk").get(f"{API}/dossiers/{code}").json()["applicant"]["address"] == address
    outside = client_as("city-manager").get(f"{API}/dossiers/{code}").json()["applicant"]
    assert outside["address"] == "*" * (len(address) - 3) + "iếm"
    assert outside["phone"] == "*******333" and outside["id_number"] == "*********999"
    for where in (f"{API}/dossiers/{code}/receipt",):
        assert address not in client_as("city-manager").get(where).text
    for where in (f"/desk/dossiers/{code}", f"/desk/dossiers/{code}/receipt"):
        shown = page_as("city-manager").get(where)
        assert shown.status_code == 200 and address not in shown.text and "0911222333" not in shown.text
        assert address in page_as("clerk").get(where).text


# --- in whose name, to whom ----------------------------------------------------------------------


def test_an_event_is_recorded_in_the_name_of_the_holder_or_an_agency_of_ones_scope(client, client_as):
    code = receive(client, WARD)
    clerk = client_as("clerk")
    supplement = {"type": "supplement_requested", "reason": "Thiếu bản sao giấy khai sinh"}
    refused = clerk.post(f"{API}/dossiers/{code}/events", json={**supplement, "from_agency": CITY_POLICE})
    assert refused.status_code == 403
    detail = refused.json()["detail"]
    assert f"from_agency {CITY_POLICE}" in detail and WARD in detail and "leave from_agency out" in detail
    assert client.get(f"{API}/dossiers/{code}").json()["status"] == "received"  # nothing written
    own = clerk.post(f"{API}/dossiers/{code}/events", json={**supplement, "from_agency": WARD})
    assert own.status_code == 201 and own.json()["timeline"][-1]["agency_code"] == WARD
    received = clerk.post(f"{API}/dossiers/{code}/events", json={"type": "supplement_received", "from_agency": WARD})
    assert received.status_code == 201
    forwarded = clerk.post(f"{API}/dossiers/{code}/events", json={"type": "forwarded", "to_agency": DEPARTMENT})
    assert forwarded.status_code == 201
    holder = client_as("officer").post(
        f"{API}/dossiers/{code}/events", json={"type": "paused", "reason": "Chờ xác minh", "from_agency": DEPARTMENT}
    )
    assert holder.status_code == 201
    not_holder = client_as("officer").post(
        f"{API}/dossiers/{code}/events", json={"type": "resumed", "from_agency": CITY_POLICE}
    )
    assert not_holder.status_code == 403 and f"({DEPARTMENT})" in not_holder.json()["detail"]
    anyone = client.post(f"{API}/dossiers/{code}/events", json={"type": "resumed", "from_agency": CITY_POLICE})
    assert anyone.status_code == 201  # administrators record in any agency's name


def test_dossiers_are_forwarded_only_to_active_agencies(client):
    code = receive(client, WARD)
    refused = client.post(f"{API}/dossiers/{code}/events", json={"type": "forwarded", "to_agency": INACTIVE_DISTRICT})
    assert refused.status_code == 422
    assert f"agency {INACTIVE_DISTRICT} is inactive" in refused.json()["detail"]
    assert "active agency" in refused.json()["detail"]
    dossier = client.get(f"{API}/dossiers/{code}").json()
    assert dossier["current_agency_code"] == WARD and len(dossier["timeline"]) == 1  # nothing written
    assert (
        client.post(f"{API}/dossiers/{code}/events", json={"type": "forwarded", "to_agency": DEPARTMENT}).status_code
        == 201
    )
