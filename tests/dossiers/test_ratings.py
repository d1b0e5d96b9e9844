"""Citizens' ratings: once per dossier, only after the result was returned, the dossier named as the lookup
names it (and limited as the lookup is); staff see counts per unit, procedure and period, never a dossier's."""

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlmodel import Session

from accounts.models import AuditEntry
from api.app import create_app
from api.settings import Settings
from dossiers import ratings
from dossiers.models import DossierRating
from procedures.service import get_agency
from tests.dossiers.conftest import RESIDENCE, WARD

API = "/api/v1"
PHONE = "0912345678"
OTHER_WARD = "000.02.01.H26"


@pytest.fixture
def returned(receive, event):
    """A dossier whose result was returned: the citizen may rate it."""

    def returned(agency_code=WARD):
        code = receive(agency_code=agency_code)["code"]
        event(code, "resolved", at="2025-06-04T10:00", result="Đã đăng ký thường trú")
        event(code, "result_returned", at="2025-06-05T09:00")
        return code

    return returned


def public(app) -> TestClient:
    return TestClient(app, raise_server_exceptions=False)


def rate(app, code, digits=PHONE[-4:], **body):
    return public(app).post(f"{API}/lookup/rating", json={"code": code, "phone_last4": digits, **body})


def test_a_dossier_is_rated_once_after_its_return(app, client, receive, event, returned, session):
    code = returned()
    first = rate(app, code.lower(), rating="very_satisfied", indices={"1": 2, "7": 1, "11": 2})
    assert first.status_code == 201, first.text
    assert first.json()["rating"] == "very_satisfied" and first.json()["source"] == "lookup"
    assert first.json()["indices"] == {"1": 2, "7": 1, "11": 2}
    second = rate(app, code, rating="dissatisfied")
    assert second.status_code == 409 and second.json()["error"] == "conflict"
    stored = session.execute(select(DossierRating)).scalars().all()
    assert [(r.rating, r.index_points, r.index_max_points, r.recorded_by) for r in stored] == [
        ("very_satisfied", 5, 6, None)
    ]
    status = public(app).get(f"{API}/lookup", params={"code": code, "phone_last4": PHONE[-4:]}).json()
    assert status["rating"] == "given"
    audit = session.execute(select(AuditEntry).where(AuditEntry.action == "POST /api/v1/lookup/rating")).scalars()
    assert [(a.dossier_code, a.outcome) for a in audit] == [(code.lower(), "ok"), (code, "refused 409")]


def test_no_rating_before_the_return(app, receive, event):
    code = receive()["code"]
    assert public(app).get(f"{API}/lookup", params={"code": code, "phone_last4": PHONE[-4:]}).json()["rating"] == (
        "not_yet"
    )
    early = rate(app, code, rating="satisfied")
    assert early.status_code == 422 and "once its result has been returned" in early.json()["detail"]
    event(code, "resolved", at="2025-06-04T10:00", result="Đã đăng ký")
    assert rate(app, code, rating="satisfied").status_code == 422  # resolved, not yet returned
    event(code, "result_returned", at="2025-06-05T09:00")
    assert public(app).get(f"{API}/lookup", params={"code": code, "phone_last4": PHONE[-4:]}).json()["rating"] == (
        "open"
    )
    assert rate(app, code, rating="satisfied").status_code == 201


def test_wrong_digits_and_unknown_codes_get_the_lookups_404(app, returned):
    code = returned()
    wrong = rate(app, code, digits="0000", rating="satisfied")
    unknown = rate(app, f"{WARD}-250101-9999", rating="satisfied")
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.json() == unknown.json()


@pytest.mark.parametrize(
    "body",
    [
        {"rating": "happy"},
        {"rating": "satisfied", "indices": {"12": 1}},
        {"rating": "satisfied", "indices": {"3": 5}},
        {"rating": "satisfied", "indices": {}},
        {"rating": "satisfied", "name": "Nguyễn Thị Lan"},  # exactly code, phone_last4, rating, indices
    ],
)
def test_a_malformed_rating_is_a_422_and_writes_nothing(app, returned, session, body):
    response = rate(app, returned(), **body)
    assert response.status_code == 422, response.text
    assert session.execute(select(DossierRating)).first() is None


def test_the_rating_is_limited_as_the_lookup_is(engine, connection, returned):
    app = create_app(
        Settings(database_url=engine.url.render_as_string(hide_password=False), lookup_code_failure_limit="3/hour")
    )
    app.state.open_session = lambda write: Session(
        connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    code = returned()
    try:
        answers = [rate(app, code, digits=f"{n:04d}", rating="satisfied").status_code for n in range(3)]
        refused = rate(app, code, rating="satisfied")  # the right digits after three wrong ones
        assert answers == [404, 404, 404]
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    finally:
        app.state.lookup_guard.counters.storage.reset()


def test_a_clerk_types_in_a_paper_form_once(client_as, returned, session):
    code = returned()
    other = client_as("other-clerk").post(f"{API}/dossiers/{code}/rating", json={"rating": "satisfied"})
    assert other.status_code == 404  # another ward's dossier is unknown to its clerk
    officer = client_as("officer").post(f"{API}/dossiers/{code}/rating", json={"rating": "satisfied"})
    assert officer.status_code == 403
    paper = client_as("clerk").post(f"{API}/dossiers/{code}/rating", json={"rating": "dissatisfied"})
    assert paper.status_code == 201, paper.text
    assert paper.json()["source"] == "paper"
    again = client_as("clerk").post(f"{API}/dossiers/{code}/rating", json={"rating": "satisfied"})
    assert again.status_code == 409
    row = session.execute(select(DossierRating)).scalar_one()
    assert (row.source, row.recorded_by, row.rating) == ("paper", "clerk", "dissatisfied")
    audit = session.execute(
        select(AuditEntry.username, AuditEntry.dossier_code, AuditEntry.outcome).where(
            AuditEntry.action == "POST /api/v1/dossiers/{code}/rating"
        )
    ).all()
    assert ("clerk", code, "ok") in audit


def test_staff_see_counts_per_unit_and_procedure_only(client_as, returned, app, session):
    codes = [returned() for _ in range(3)]
    other = returned(OTHER_WARD)
    for code, level in zip(codes, ("very_satisfied", "satisfied", "dissatisfied"), strict=True):
        indices = {"1": 2, "11": 1 if level == "satisfied" else 0}
        assert rate(app, code, rating=level, indices=indices).status_code == 201
    assert rate(app, other, rating="dissatisfied").status_code == 201
    year = datetime.now(UTC).year
    response = client_as("manager").get(f"{API}/ratings", params={"period": str(year)})
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["rows"]) == 1  # the ward's own: the other ward is outside the manager's scope
    row = body["rows"][0]
    assert (row["agency_code"], row["procedure_code"]) == (WARD, RESIDENCE)
    assert (row["ratings"], row["very_satisfied"], row["satisfied"], row["dissatisfied"]) == (3, 1, 1, 1)
    assert row["satisfied_rate"] == pytest.approx(2 / 3)
    assert row["index_averages"] == {"1": 2.0, "11": pytest.approx(1 / 3, abs=0.01)}
    assert row["index_rate"] == pytest.approx(7 / 12)
    text = response.text
    assert not any(code in text for code in codes) and "Nguyễn" not in text  # no dossier, no citizen
    assert client_as("viewer").get(f"{API}/ratings", params={"period": str(year)}).json()["total"]["ratings"] == 4
    assert client_as("clerk").get(f"{API}/ratings", params={"period": str(year)}).status_code == 403
    outside = client_as("manager").get(f"{API}/ratings", params={"period": str(year), "agency": OTHER_WARD})
    assert outside.status_code == 403


def test_rating_figures_count_per_unit_with_zeros(returned, app, session):
    codes = [returned() for _ in range(3)]
    for code, level in zip(codes, ("dissatisfied", "satisfied", "dissatisfied"), strict=True):
        assert rate(app, code, rating=level, indices={"2": 1} if level == "satisfied" else None).status_code == 201
    ward, other = get_agency(session, WARD).id, get_agency(session, OTHER_WARD).id
    now = datetime.now(UTC)
    figures = ratings.rating_figures(session, [ward, other], now - timedelta(days=1), now + timedelta(days=1))
    assert figures[ward] == {
        "ratings": 3, "very_satisfied": 0, "satisfied": 1, "dissatisfied": 2,
        "indexed": 1, "index_points": 1, "index_max_points": 2,
    }  # fmt: skip
    assert figures[other] == dict.fromkeys(ratings.FIGURE_KEYS, 0)
    before = ratings.rating_figures(session, [ward], now - timedelta(days=3), now - timedelta(days=1))
    assert before[ward]["ratings"] == 0  # a rating counts in the period it was given
    counted = ratings.dissatisfied_counts(session, [ward, other], now - timedelta(days=1), now + timedelta(days=1))
    assert counted == [{"agency_id": ward, "procedure_code": RESIDENCE, "procedure_name": counted[0]["procedure_name"],
                        "dissatisfied": 2}]  # fmt: skip
