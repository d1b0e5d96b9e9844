"""The Decision 766 scorecard on a hand-counted unit (tests/sla/conftest.py: `unit`), on both databases."""

import html
import io
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook

from procedures.schemas import AgencyIn
from procedures.service import upsert_agencies
from sla import reports, scorecard
from tests.conftest import BACKDATE_REASON
from tests.sla.conftest import API, PERIOD, UNIT, by_id, card

FIELDS = ("id", "group", "name", "formula", "numerator", "denominator", "rate", "threshold", "points",
          "max_points", "points_lost")  # fmt: skip


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
    assert not [i for i, words in NEEDS_VI.items() if "/api/" in words]  # a page never cites an API path
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
    satisfaction = listed("5.4")  # no complaint, no rating: its late and overdue dossiers only
    assert [(r["code"], r["reasons"]) for r in satisfaction["rows"]] == [(r["code"], "late") for r in late["rows"]]
    assert satisfaction["dissatisfied_ratings"] == [] and satisfaction["dissatisfied_also_complained"] == 0
    assert {r["code"] for r in listed("4.1")["rows"]} == {unit["d1"], unit["d3"]}
    assert {r["code"] for r in listed("4.5a")["rows"]} == {unit["d3"]}
    page = listed("4.3", page=2, page_size=2)
    assert page["total"] == 4 and len(page["rows"]) == 2 and page["kind"] == "dossiers"
    procedures = listed("1.3")
    assert procedures["kind"] == "procedures"
    assert [r["procedure_code"] for r in procedures["rows"]] == ["T.000002", "T.000003"]
    assert [r["procedure_code"] for r in listed("3.5b")["rows"]] == ["T.000003"]
    assert listed("5.2")["kind"] == "complaints" and listed("5.2")["total"] == 0  # no complaint
    # every listed total is what the indicator lost: denominator − numerator (1.4 and 4.6: never recorded here)
    lines = by_id(card(client))
    assert set(scorecard.LISTED) == set(lines)  # every indicator has its drill-down
    for indicator in scorecard.LISTED:
        line = lines[indicator]
        if line["denominator"] is None:
            assert indicator in ("1.4", "4.6"), indicator
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
    unknown_indicator = status("/index/scorecard/9.9/dossiers", period=PERIOD, agency=UNIT)
    assert unknown_indicator.status_code == 422 and "5.2" in unknown_indicator.text  # the accepted ids
    assert status("/index/scorecard/5.2/dossiers", period=PERIOD, agency=UNIT).status_code == 200


def test_without_the_registers_their_drill_downs_are_refused(client, unit, no_registers):
    for indicator in ("5.2", "5.3", "5.4"):
        answer = client.get(f"{API}/index/scorecard/{indicator}/dossiers", params={"period": PERIOD, "agency": UNIT})
        assert answer.status_code == 422 and "complaints register" in answer.text, indicator


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


def test_publication_days_are_read_from_the_formulas(client, unit, monkeypatch):
    """1.1's and 1.2's working days are the formulas' parameters for a province (5 and 5 in the shipped file):
    with other values P2 (decision 01/08, in effect 05/08: 1 working day ahead; public 15/08: 10 after) is on time."""
    shipped = scorecard.formulas_by_id()
    assert shipped["1.1"].parameter("province") == 5 and shipped["1.1"].parameter("ministry") == 20
    assert shipped["1.2"].parameter("province") == 5 and shipped["1.2"].parameter("ministry") == 10
    other = {"1.1": "province=1;ministry=20", "1.2": "province=10;ministry=10"}
    changed = tuple(
        replace(f, parameters=scorecard.ix.parse_parameters(other[f.indicator])) if f.indicator in other else f
        for f in scorecard.load_formulas()
    )
    monkeypatch.setattr(scorecard, "load_formulas", lambda path=None: changed)
    lines = by_id(card(client))
    assert (lines["1.1"]["numerator"], lines["1.1"]["denominator"], lines["1.1"]["points"]) == (2, 2, 6)
    assert (lines["1.2"]["numerator"], lines["1.2"]["denominator"], lines["1.2"]["points"]) == (2, 2, 4)


def _sheet_rows(content: bytes) -> list[tuple]:
    return list(load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True))


def test_the_scorecard_as_xlsx_from_the_api_and_the_dashboard(client, unit, no_registers):
    live = card(client)
    for path, params in (
        (f"{API}/index/scorecard", {"period": PERIOD, "agency": UNIT, "format": "xlsx"}),
        ("/dashboard/scorecard/download", {"period": PERIOD, "agency": UNIT}),
    ):
        response = client.get(path, params=params)
        assert response.status_code == 200, (path, response.text)
        assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
        assert f'filename="scorecard-{UNIT}-{PERIOD}.xlsx"' in response.headers["content-disposition"]
        rows = _sheet_rows(response.content)
        assert rows[0][0] == "BỘ CHỈ SỐ PHỤC VỤ NGƯỜI DÂN, DOANH NGHIỆP (QĐ 766/QĐ-TTG) – SỞ THỬ NGHIỆM", path
        assert rows[1][0] == f"Kỳ đánh giá: {PERIOD}"
        assert rows[2][:4] == ("Nhóm chỉ số", "Chỉ số", "Tên chỉ số", "Công thức")
        headers = list(rows[2])
        points, lost = headers.index("Điểm đạt"), headers.index("Điểm bị trừ")
        by_indicator = {row[1]: row for row in rows[3:] if row[1]}
        assert set(by_indicator) == {line["id"] for line in live["indicators"]}
        assert by_indicator["2.1"][points] == 12 and by_indicator["2.1"][lost] == 8  # 20 × 3/5
        assert by_indicator["4.1"][points] == pytest.approx(2.0)  # 6 × 1/3
        assert by_indicator["5.2"][points] is None  # missing data: not scored, not zero
        total = next(row for row in rows[3:] if row[points] == live["total_points"] and row[1] is None)
        assert total[0] == "Tổng cộng" and total[headers.index("Điểm tối đa")] == 100
    english = _sheet_rows(client.get(f"{API}/index/scorecard", params={
        "period": PERIOD, "agency": UNIT, "format": "xlsx", "lang": "en"}).content)  # fmt: skip
    assert english[0][0].startswith("DECISION 766 SCORECARD") and "Points" in english[2]


def test_a_parent_unit_sums_its_children(client, unit, session):
    """A child office under the unit (000.00.97.H26) owns P4 (online full) and received two dossiers in 2025-Q3:
    c1 resolved early, c2 open and overdue at the period's end. With include_children the unit counts its five
    dossiers and the child's two, and its three procedure versions and the child's one."""
    child = "000.00.97.H26"
    upsert_agencies(session, [AgencyIn(code=child, name="Chi cục Thử nghiệm", parent_code=UNIT, level="department")])
    session.commit()
    field = client.get(f"{API}/fields").json()[0]["code"]
    response = client.post(f"{API}/procedures", json={
        "code": "T.000004", "name": "Thủ tục thử T.000004", "field_code": field, "level": "department",
        "agency_code": child, "processing_time": {"amount": 5, "unit": "working_days"},
        "effective_from": "2024-01-01", "online_level": "full",
    })  # fmt: skip
    assert response.status_code == 201, response.text
    codes = []
    for received_at in ("2025-07-14T09:00", "2025-08-04T09:00"):
        response = client.post(f"{API}/dossiers", json={
            "procedure_code": "T.000004", "agency_code": child, "channel": "counter", "received_at": received_at,
            "backdate_reason": BACKDATE_REASON, "applicant": {"name": "Lê Văn Cường"},
        })  # fmt: skip
        assert response.status_code == 201, response.text
        codes.append(response.json()["code"])
    resolved = {"type": "resolved", "at": "2025-07-15T09:00", "backdate_reason": BACKDATE_REASON, "result": "Giấy phép"}
    response = client.post(f"{API}/dossiers/{codes[0]}/events", json=resolved)
    assert response.status_code == 201, response.text

    alone, the_child = by_id(card(client)), by_id(card(client, agency=child))
    both = by_id(card(client, include_children="true"))
    assert (alone["2.1"]["numerator"], alone["2.1"]["denominator"]) == (3, 5)
    assert (the_child["2.1"]["numerator"], the_child["2.1"]["denominator"]) == (1, 2)
    assert the_child["2.1"]["points"] == pytest.approx(20 * 1 / 2)
    # 2.1: (3 + 1) / (5 + 2) × 20; 3.3: d2 only online of 7: 8 × (1/7) / 0.5
    assert (both["2.1"]["numerator"], both["2.1"]["denominator"]) == (4, 7)
    assert both["2.1"]["points"] == pytest.approx(20 * 4 / 7, abs=1e-4)
    assert (both["3.3"]["numerator"], both["3.3"]["denominator"]) == (1, 7)
    assert both["3.3"]["points"] == pytest.approx(8 * (1 / 7) / 0.5, abs=1e-4)
    # 3.1: P1 (full), P3 (partial) and P4 (full) online of 4 versions: 4 × 0.75 / 0.8; 4.5b: d1 only of 7
    assert (both["3.1"]["numerator"], both["3.1"]["denominator"]) == (3, 4)
    assert both["3.1"]["points"] == pytest.approx(4 * 0.75 / 0.8)
    assert (both["4.5b"]["numerator"], both["4.5b"]["denominator"]) == (1, 7)
    late = client.get(f"{API}/index/scorecard/2.1/dossiers",
                      params={"period": PERIOD, "agency": UNIT, "include_children": "true"}).json()  # fmt: skip
    assert late["total"] == 3 and codes[1] in {r["code"] for r in late["rows"]}
