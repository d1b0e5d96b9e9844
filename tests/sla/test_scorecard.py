"""The Decision 766 scorecard on a hand-counted unit, on both databases.

A department of its own (000.00.99.H26) owns three procedure versions and receives five dossiers in
2025-Q3 (plus one refused at intake, left out). Every figure below is counted by hand from the rules
of index766.md (the split and thresholds of seed/data/index766_formulas.csv):

procedures (in force all quarter)
  P1 T.000001  5 working days, online full, result paper, fee lines [50,000], components, legal basis;
               decision 01/07 (Tue), legal basis in effect 15/07 (9 working days between: ≥ 5, on time),
               made public 03/07 (2 working days after: ≤ 5, on time)
  P2 T.000002  5 working days, online none, result electronic, no fee ([]), no components, legal basis;
               decision 01/08 (Fri), in effect 05/08 (1 working day between: late), public 15/08 (10: late)
  P3 T.000003  online partial, result paper, fee "100000" but no fee lines, components, no legal basis,
               no decision facts
dossiers
  d1 P1 counter 07/07, resolved 09/07 (early); component digitised + reused; fee paid cash; population ref;
     electronic_result false
  d2 P1 online 08/07, VNeID verified; two supplement requests, resolved within due; component digitised +
     from the citizen's store; fee paid dvcqg; electronic_result true
  d3 P1 online 10/07, VNeID not verified; resolved 20/08 (late); component not digitised
  d4 P2 counter 29/09, open within due at 30/09 (due 06/10)
  d5 P1 counter 01/07, withdrawn 02/07
"""

import html
from datetime import UTC, datetime

import pytest

from procedures.schemas import AgencyIn
from procedures.service import upsert_agencies
from sla import scorecard
from sla import reports
from tests.conftest import BACKDATE_REASON

API = "/api/v1"
UNIT = "000.00.99.H26"
PERIOD = "2025-Q3"
FIELDS = ("id", "group", "name", "formula", "numerator", "denominator", "rate", "threshold", "points",
          "max_points", "points_lost")  # fmt: skip


def _procedure(code: str, **extra) -> dict:
    return {
        "code": code,
        "name": f"Thủ tục thử {code}",
        "field_code": "tu_phap",
        "level": "department",
        "agency_code": UNIT,
        "processing_time": {"amount": 5, "unit": "working_days"},
        "effective_from": "2024-01-01",
        **extra,
    }


@pytest.fixture
def unit(client, session):
    upsert_agencies(session, [AgencyIn(code=UNIT, name="Sở Thử nghiệm", parent_code="000.00.00.H26", level="department")])
    session.commit()
    fields = client.get(f"{API}/fields").json()
    field = fields[0]["code"]
    procedures = [
        _procedure(
            "T.000001", field_code=field, online_level="full", result_kind="paper", fee="50000",
            fee_lines=[{"name": "Lệ phí", "amount_vnd": 50000}], components=[{"name": "Tờ khai"}],
            legal_basis="Nghị định 1/2025/NĐ-CP", decision_number="1/QĐ-UBND", decision_date="2025-07-01",
            legal_basis_effective_date="2025-07-15", published_on="2025-07-03",
        ),
        _procedure(
            "T.000002", field_code=field, online_level="none", result_kind="electronic", fee_lines=[],
            legal_basis="Thông tư 2/2025/TT-BTP", decision_date="2025-08-01",
            legal_basis_effective_date="2025-08-05", published_on="2025-08-15",
        ),
        _procedure(
            "T.000003", field_code=field, online_level="partial", result_kind="paper", fee="100000",
            components=[{"name": "Đơn"}],
        ),
    ]  # fmt: skip
    for body in procedures:
        response = client.post(f"{API}/procedures", json=body)
        assert response.status_code == 201, response.text

    def receive(procedure, received_at, channel="counter", expect=201, **extra):
        body = {
            "procedure_code": procedure,
            "agency_code": UNIT,
            "channel": channel,
            "received_at": received_at,
            "backdate_reason": BACKDATE_REASON,
            "applicant": {"name": "Trần Văn Bình"},
            **extra,
        }
        response = client.post(f"{API}/dossiers", json=body)
        assert response.status_code == expect, response.text
        return response.json()

    def event(code, type, at, expect=201, **extra):
        body = {"type": type, "at": at, "backdate_reason": BACKDATE_REASON, **extra}
        response = client.post(f"{API}/dossiers/{code}/events", json=body)
        assert response.status_code == expect, response.text
        return response.json()

    d1 = receive(
        "T.000001", "2025-07-07T09:00", components=[{"seq": 1, "digitised": True, "reused": True}],
        fees=[{"name": "Lệ phí", "amount_vnd": 50000, "payment_channel": "cash", "paid_at": "2025-07-07T09:10"}],
        population_ref="DC-001190012345",
    )["code"]  # fmt: skip
    event(d1, "resolved", "2025-07-09T10:00", result="Giấy phép", electronic_result=False)
    d2 = receive(
        "T.000001", "2025-07-08T09:00", channel="online", vneid_verified=True,
        components=[{"seq": 1, "digitised": True, "from_citizen_store": True}],
        fees=[{"name": "Lệ phí", "amount_vnd": 50000, "payment_channel": "dvcqg", "paid_at": "2025-07-08T08:55"}],
    )["code"]  # fmt: skip
    event(d2, "supplement_requested", "2025-07-08T10:00", reason="Thiếu bản sao")
    event(d2, "supplement_received", "2025-07-09T09:00")
    event(d2, "supplement_requested", "2025-07-09T10:00", reason="Thiếu chữ ký")
    event(d2, "supplement_received", "2025-07-10T09:00")
    event(d2, "resolved", "2025-07-11T09:00", result="Giấy phép", electronic_result=True)
    d3 = receive(
        "T.000001", "2025-07-10T09:00", channel="online", vneid_verified=False,
        components=[{"seq": 1, "digitised": False}],
    )["code"]  # fmt: skip
    event(d3, "resolved", "2025-08-20T09:00", result="Giấy phép")
    receive("T.000002", "2025-09-29T09:00")
    d5 = receive("T.000001", "2025-07-01T09:00")["code"]
    event(d5, "withdrawn", "2025-07-02T09:00", reason="Người nộp rút")
    receive("T.000001", "2025-07-15T09:00", status="refused", reason="Không thuộc thẩm quyền")
    return {"d1": d1, "d2": d2, "d3": d3, "d5": d5}


@pytest.fixture
def figures():
    """Complaints and ratings as the other packages will give them (registered, then unregistered)."""
    given = {}

    def register(complaints, ratings):
        given["complaints"], given["ratings"] = complaints, ratings
        scorecard.register_figures("complaints", lambda session, ids, start, end: given["complaints"])
        scorecard.register_figures("ratings", lambda session, ids, start, end: given["ratings"])

    yield register
    for kind, source in scorecard.DEFAULT_SOURCES.items():
        scorecard.register_figures(kind, source)


@pytest.fixture
def no_registers():
    """As a system without the complaints register and the ratings (their indicators: missing data)."""
    scorecard.register_figures("complaints", None)
    scorecard.register_figures("ratings", None)
    yield
    for kind, source in scorecard.DEFAULT_SOURCES.items():
        scorecard.register_figures(kind, source)


def card(client, **params):
    response = client.get(f"{API}/index/scorecard", params={"period": PERIOD, "agency": UNIT, **params})
    assert response.status_code == 200, response.text
    return response.json()


def by_id(answer) -> dict:
    return {line["id"]: line for line in answer["indicators"]}


EXPECTED = {  # id: (numerator, denominator, points)
    "1.1": (1, 2, 6 * 1 / 2),
    "1.2": (1, 2, 4 * 1 / 2),
    "1.3": (1, 3, 2 * 1 / 3),
    "2.1": (3, 5, 20 * 3 / 5),  # d2 (two supplement requests) and d3 (late) cost it
    "3.1": (2, 3, 4 * (2 / 3) / 0.8),
    "3.3": (1, 5, 8 * (1 / 5) / 0.5),  # d2 only: online, paper result with the electronic file
    "3.5": (1, 2, 2 * (1 / 2) / 0.8),  # P3's fee has no lines
    "3.5b": (1, 2, 2 * (1 / 2) / 0.8),  # P1 was paid online (d2), P3 never
    "3.6": (1, 2, 6 * 1 / 2),  # d1 paid cash, d2 dvcqg
    "4.1": (1, 3, 6 * 1 / 3),  # d1, d2, d3 resolved with a paper result; only d2 has the file
    "4.2": (1, 3, 4 * (1 / 3) / 0.8),  # d2: digitised and electronic result
    "4.3": (1, 5, 2 * (1 / 5) / 0.8),  # d1 reused
    "4.4": (1, 5, 4 * 1 / 5),  # d2 from the citizen's store
    "4.5a": (1, 2, 2 * 1 / 2),  # online d2 (verified), d3 (not)
    "4.5b": (1, 5, 2 * 1 / 5),  # d1
}


def test_the_page_says_what_an_unscored_indicator_needs_in_the_readers_language(client, unit, no_registers):
    from api.web.scorecard import NEEDS_VI

    assert set(NEEDS_VI) == set(scorecard.NEEDS)  # every need the core can name has its Vietnamese words
    params = {"period": PERIOD, "agency": UNIT}
    vi = html.unescape(client.get("/dashboard/scorecard", params={**params, "lang": "vi"}).text)
    en = html.unescape(client.get("/dashboard/scorecard", params={**params, "lang": "en"}).text)
    assert f"Cần: {NEEDS_VI['5.2']}" in vi and scorecard.NEEDS["5.2"] not in vi
    assert f"Needs: {scorecard.NEEDS['5.2']}" in en and NEEDS_VI["5.2"] not in en


def test_every_indicator_counted_by_hand_and_missing_data_named(client, unit, no_registers):
    answer = card(client)
    assert list(answer) == ["period", "agency", "total_points", "max_points", "indicators", "missing_data"]
    assert answer["period"] == PERIOD and answer["agency"] == UNIT and answer["max_points"] == 100
    lines = by_id(answer)
    assert all(list(line) == list(FIELDS) for line in answer["indicators"])
    assert sum(line["max_points"] for line in answer["indicators"]) == 100
    for indicator, (numerator, denominator, points) in EXPECTED.items():
        line = lines[indicator]
        assert (line["numerator"], line["denominator"]) == (numerator, denominator), indicator
        assert line["points"] == pytest.approx(points, abs=1e-4), indicator
        assert line["points_lost"] == pytest.approx(line["max_points"] - points, abs=1e-4), indicator
        assert line["formula"] == f"766-{indicator}-v1"
    assert lines["2.1"]["rate"] == pytest.approx(0.6) and lines["3.1"]["threshold"] == 0.8
    # never recorded here: the portal's sync record, the e-certified-copy setting, complaints and ratings
    assert [m["id"] for m in answer["missing_data"]] == ["1.4", "4.6", "5.2", "5.3", "5.4"]
    for indicator in ("1.4", "4.6", "5.2", "5.3", "5.4"):
        assert lines[indicator]["points"] is None and lines[indicator]["points_lost"] is None
    assert answer["total_points"] == pytest.approx(sum(p for _, _, p in EXPECTED.values()), abs=0.01)


def test_complaints_and_ratings_through_the_figures_interface(client, unit, session, figures):
    unit_id = session.execute(scorecard.select(scorecard.Agency.id).where(scorecard.Agency.code == UNIT)).scalar_one()
    complaints = {"complaints": 2, "handled_on_time": 1, "disliked": 1, "overdue": 1, "repeated": 0,
                  "dossiers_with_complaint": 1}  # fmt: skip
    figures({unit_id: complaints}, {unit_id: {"ratings": 3, "dissatisfied": 1, "dossiers_dissatisfied": 1}})
    lines = by_id(card(client))
    assert lines["5.2"]["points"] == pytest.approx(6 * 1 / 2)
    assert lines["5.3"]["points"] == pytest.approx(0.0)  # 2 − 1 disliked − 1 overdue − 0 repeated = 0
    # 5.4: 5 dossiers, 2 late (d2: two supplement requests; d3), 2 with a complaint or a dissatisfied rating
    assert (lines["5.4"]["numerator"], lines["5.4"]["denominator"]) == (1, 5)
    assert lines["5.4"]["points"] == pytest.approx(6 * 0.2 / 0.9, abs=1e-4)
    # a unit without complaints: the full 12 points of 5.2 and 5.3
    figures({}, {})
    lines = by_id(card(client))
    assert lines["5.2"]["points"] == 6 and lines["5.3"]["points"] == 6
    assert lines["5.4"]["points"] == pytest.approx(6 * (3 / 5) / 0.9, abs=1e-4)


def test_the_dossiers_and_procedures_that_cost_points(client, unit):
    def listed(indicator, **params):
        response = client.get(
            f"{API}/index/scorecard/{indicator}/dossiers", params={"period": PERIOD, "agency": UNIT, **params}
        )
        assert response.status_code == 200, response.text
        return response.json()

    late = listed("2.1")
    assert late["total"] == 2 and {r["code"] for r in late["rows"]} == {unit["d2"], unit["d3"]}
    assert [r["code"] for r in listed("5.4")["rows"]] == [r["code"] for r in late["rows"]]
    assert {r["code"] for r in listed("4.1")["rows"]} == {unit["d1"], unit["d3"]}
    assert {r["code"] for r in listed("4.5a")["rows"]} == {unit["d3"]}
    page = listed("4.3", page=2, page_size=2)
    assert page["total"] == 4 and len(page["rows"]) == 2 and page["kind"] == "dossiers"
    procedures = listed("1.3")
    assert procedures["kind"] == "procedures"
    assert [r["procedure_code"] for r in procedures["rows"]] == ["T.000002", "T.000003"]
    assert [r["procedure_code"] for r in listed("3.5b")["rows"]] == ["T.000003"]
    # every listed total is what the indicator lost: denominator − numerator
    lines = by_id(card(client))
    for indicator in scorecard.LISTED:
        line = lines[indicator]
        if indicator == "5.4":  # scored with complaints and ratings; lists its late and overdue dossiers
            continue
        assert listed(indicator)["total"] == line["denominator"] - line["numerator"], indicator


def test_refusals(client, unit):
    def status(path="/index/scorecard", **params):
        return client.get(f"{API}{path}", params=params)

    bad_period = status(period="2025-Q5", agency=UNIT)
    assert bad_period.status_code == 422 and "YYYY-Qn" in bad_period.text
    assert status(period="2025-13", agency=UNIT).status_code == 422
    unknown = status(period=PERIOD, agency="000.00.98.H26")
    assert unknown.status_code == 422 and "000.00.98.H26" in unknown.text
    assert status(period=PERIOD).status_code == 422  # the administrator names a unit
    assert status(f"/index/scorecard/9.9/dossiers", period=PERIOD, agency=UNIT).status_code == 422
    assert status(f"/index/scorecard/5.2/dossiers", period=PERIOD, agency=UNIT).status_code == 422


def test_intake_and_event_refusals(client, unit):
    def post(path, body):
        return client.post(f"{API}{path}", json={"backdate_reason": BACKDATE_REASON, **body})

    base = {"procedure_code": "T.000001", "agency_code": UNIT, "received_at": "2025-07-07T09:00",
            "applicant": {"name": "A"}}  # fmt: skip
    vneid = post("/dossiers", {**base, "vneid_verified": True})
    assert vneid.status_code == 422 and "online" in vneid.text
    half_paid = post("/dossiers", {**base, "fees": [{"name": "Lệ phí", "amount_vnd": 1, "payment_channel": "cash"}]})
    assert half_paid.status_code == 422 and "paid_at" in half_paid.text
    channel = post("/dossiers", {**base, "fees": [{"name": "x", "amount_vnd": 1, "payment_channel": "momo",
                                                  "paid_at": "2025-07-07T09:00"}]})  # fmt: skip
    assert channel.status_code == 422 and "dvcqg" in channel.text
    assert post("/dossiers", {**base, "population_ref": "có dấu cách"}).status_code == 422
    future = post("/dossiers", {**base, "fees": [{"name": "x", "amount_vnd": 1, "payment_channel": "bank",
                                                 "paid_at": "2099-01-01T09:00"}]})  # fmt: skip
    assert future.status_code == 422
    early = post(f"/dossiers/{unit['d5']}/events", {"type": "withdrawn", "at": "2025-07-03T09:00"})
    assert early.status_code in (409, 422)  # already withdrawn
    code = post("/dossiers", base).json()["code"]
    wrong = post(f"/dossiers/{code}/events", {"type": "paused", "at": "2025-07-07T10:00", "electronic_result": True})
    assert wrong.status_code == 422 and "resolved or result_returned" in wrong.text
    shown = client.get(f"{API}/dossiers/{unit['d2']}").json()
    assert shown["vneid_verified"] is True and shown["electronic_result"] is True and shown["result_kind"] == "paper"
    assert shown["fees"][0]["payment_channel"] == "dvcqg" and shown["components"][0]["from_citizen_store"] is True


def test_formulas_are_data_adding_up_to_100():
    formulas = scorecard.load_formulas()
    assert sum(f.max_points for f in formulas) == 100
    assert {f.formula for f in formulas} >= {"766-2.1-v1", "766-5.4-v1"}
    assert datetime.now(UTC)  # the module imports no clock of its own


def test_the_nightly_freeze_keeps_the_scorecard_and_the_feed_carries_it(client, unit, session, app):
    from sla import jobs
    from sla.core.rates import ParScoring
    from sla.models import JobRun

    run = JobRun(job=jobs.FREEZE, period_key=PERIOD, revision=1, status="done")
    session.add(run)
    session.flush()
    calendar = app.state.calendars.get(session, None)
    period = reports.period_of(PERIOD, None, None)
    jobs.freeze_period(session, run, period_key=PERIOD, period=period, par=ParScoring(), calendar=calendar)
    session.commit()
    feed = client.get(f"{API}/index/feed", params={"period": PERIOD}).json()
    frozen = next(a for a in feed["agencies"] if a["agency_code"] == UNIT)["scores"][scorecard.SCORECARD]
    live = card(client)
    assert frozen["value"] == live["total_points"] and frozen["max_points"] == 100
    assert frozen["indicators"] == live["indicators"] and frozen["missing_data"] == live["missing_data"]
    city = feed["agencies"][-1]
    assert city["agency_code"] is None and scorecard.SCORECARD in city["scores"]


def test_the_registers_of_this_system_feed_the_satisfaction_group(client, unit):
    """Wired to the complaints register and the ratings this system keeps: a unit without complaints scores the
    full 12 points of 5.2 and 5.3, and 5.4 is scored (none of its dossiers has a complaint or a dislike)."""
    answer = card(client)
    lines = {line["id"]: line for line in answer["indicators"]}
    assert [m["id"] for m in answer["missing_data"]] == ["1.4", "4.6"]
    assert lines["5.2"]["points"] == 6 and lines["5.3"]["points"] == 6
    assert lines["5.4"]["points"] is not None and lines["5.4"]["denominator"] == 5
