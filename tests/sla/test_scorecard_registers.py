"""The scorecard over the registers this system keeps, on both databases: real complaints and ratings (5.2, 5.3,
5.4), the national sync's record (1.4 and 3.3's sync rate), the agencies' electronic certified copies (4.6), and
what cost each of them points. The unit is tests/sla/conftest.py's (five dossiers in 2025-Q3, d2 and d3 late in
2.1); every figure is counted by hand from index766.md's rules.
"""

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.web.auth import SESSION_COOKIE
from complaints import service as complaints
from complaints.schemas import ComplaintCreate, ComplaintEventCreate
from dossiers import ratings
from dossiers.models import Dossier
from exchange.models import DossierSync
from sla.core.calendar import LOCAL_TZ
from tests.conftest import BACKDATE_REASON
from tests.sla.conftest import API, PERIOD, UNIT, by_id, card

SECRET = "Nội dung riêng của người phản ánh, số điện thoại 0912345678"


def local(*args) -> datetime:
    return datetime(*args, tzinfo=LOCAL_TZ)


def listed(client, indicator, **params):
    response = client.get(
        f"{API}/index/scorecard/{indicator}/dossiers", params={"period": PERIOD, "agency": UNIT, **params}
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def registers(client, session, app, unit):
    """Complaints received at the unit in 2025-Q3 (July and August 2025 have no holiday), through the register's
    own service (the API receives a complaint now: these are back in 2025), and ratings typed in from paper.

    A  Mon 07/07 10:00, answered Fri 11/07 (answer due Mon 28/07), published Mon 14/07 (due Tue 15/07), liked:
       every clock kept
    B  Tue 08/07 10:00, about d3, answered Thu 31/07 (due Tue 29/07: late), published Fri 01/08 (due Mon 04/08)
    C  Wed 09/07 10:00, answered Tue 15/07, published Wed 16/07, disliked Fri 18/07: clocks kept, disliked
    D  Mon 14/07 09:00, answered Mon 21/07, published Mon 28/07 (due Wed 23/07: late), complained again 01/08
    F  Mon 21/07 10:00, refused Tue 22/07 (due Wed 23/07): kept
    and one received Mon 30/06, before the period (not counted).
    Ratings (after each result was returned): d1 satisfied, d2 dissatisfied, d3 dissatisfied.
    """

    def calendar_for(code):
        return app.state.calendars.get(session, code)

    def complaint(received_at, *events, dossier_code=None):
        data = ComplaintCreate(
            agency_code=UNIT, channel="portal", category="staff_conduct", content=SECRET, dossier_code=dossier_code
        )
        made = complaints.receive(session, data=data, actor="clerk", calendar_for=calendar_for, now=received_at)
        for type, at in events:
            note = {"note": "Trả lời"} if type in ("answered", "refused") else {}
            complaints.record(
                session, complaint_id=made.id, data=ComplaintEventCreate(type=type, **note), actor="clerk",
                calendar_for=calendar_for, now=at,
            )  # fmt: skip
        return made.id

    made = {
        "A": complaint(local(2025, 7, 7, 10), ("answered", local(2025, 7, 11, 10)),
                       ("published", local(2025, 7, 14, 9)), ("liked", local(2025, 7, 15, 9))),
        "B": complaint(local(2025, 7, 8, 10), ("answered", local(2025, 7, 31, 10)),
                       ("published", local(2025, 8, 1, 9)), dossier_code=unit["d3"]),
        "C": complaint(local(2025, 7, 9, 10), ("answered", local(2025, 7, 15, 10)),
                       ("published", local(2025, 7, 16, 9)), ("disliked", local(2025, 7, 18, 9))),
        "D": complaint(local(2025, 7, 14, 9), ("answered", local(2025, 7, 21, 10)),
                       ("published", local(2025, 7, 28, 9)), ("repeated", local(2025, 8, 1, 9))),
        "F": complaint(local(2025, 7, 21, 10), ("refused", local(2025, 7, 22, 10))),
    }  # fmt: skip
    complaint(local(2025, 6, 30, 10), dossier_code=unit["d1"])
    for name, returned, rated, level in (
        ("d1", "2025-07-10T09:00", local(2025, 7, 11, 9), "satisfied"),
        ("d2", "2025-07-14T09:00", local(2025, 7, 15, 9), "dissatisfied"),
        ("d3", "2025-08-21T09:00", local(2025, 8, 22, 9), "dissatisfied"),
    ):
        response = client.post(
            f"{API}/dossiers/{unit[name]}/events",
            json={"type": "result_returned", "at": returned, "backdate_reason": BACKDATE_REASON},
        )
        assert response.status_code == 201, response.text
        dossier = session.execute(select(Dossier).where(Dossier.code == unit[name])).scalar_one()
        ratings.record_paper(session, dossier=dossier, data=ratings.RatingIn(rating=level), actor="clerk", now=rated)
    session.flush()
    return made


def test_satisfaction_counted_by_hand_from_real_complaints_and_ratings(client, unit, registers):
    lines = by_id(card(client))
    # 5.2: 5 complaints (A, B, C, D, F); B (answer) and D (publication) missed a clock: 6 × 3/5
    assert (lines["5.2"]["numerator"], lines["5.2"]["denominator"]) == (3, 5)
    assert lines["5.2"]["points"] == pytest.approx(6 * 3 / 5)
    # 5.3: (5 − 1 disliked (C) − 2 late (B, D) − 1 repeated (D)) / 5 × 6
    assert (lines["5.3"]["numerator"], lines["5.3"]["denominator"]) == (1, 5)
    assert lines["5.3"]["points"] == pytest.approx(6 * 1 / 5)
    # 5.4: 100 % − (late share 2/5 (d2, d3) + share with a complaint or a dissatisfied rating 2/5 (d3 named by B
    # and rated dissatisfied, counted once; d2 rated dissatisfied)) = 1/5; points = 6 × 0.2 / 0.9
    assert (lines["5.4"]["numerator"], lines["5.4"]["denominator"]) == (1, 5)
    assert lines["5.4"]["points"] == pytest.approx(6 * 0.2 / 0.9, abs=1e-4)
    assert lines["5.4"]["points_lost"] == pytest.approx(6 - 6 * 0.2 / 0.9, abs=1e-4)


def test_the_complaints_and_dossiers_that_cost_satisfaction_points(client, unit, registers):
    on_time = listed(client, "5.2")
    assert on_time["kind"] == "complaints" and on_time["total"] == 2
    assert [(r["id"], r["missed_clocks"]) for r in on_time["rows"]] == [
        (registers["B"], "answer"),
        (registers["D"], "publish"),
    ]
    row = on_time["rows"][0]
    assert list(row) == ["id", "agency_code", "category", "received_at", "complaint_status", "missed_clocks"]
    assert row["agency_code"] == UNIT and row["category"] == "staff_conduct" and row["complaint_status"] == "published"
    assert row["received_at"] == "2025-07-08T10:00:00+07:00"
    judged = listed(client, "5.3")
    assert [(r["id"], r["missed_clocks"], r["disliked"], r["repeated"]) for r in judged["rows"]] == [
        (registers["B"], "answer", False, False),
        (registers["C"], "", True, False),
        (registers["D"], "publish", False, True),
    ]
    for answer in (on_time, judged):  # what a staff complaint list shows, never the content
        assert SECRET not in str(answer) and "content" not in answer["rows"][0]

    satisfaction = listed(client, "5.4")
    assert [(r["code"], r["reasons"]) for r in satisfaction["rows"]] == [
        (unit["d2"], "late"),
        (unit["d3"], "late,complaint"),
    ]
    # the dissatisfied ratings as counts per unit and procedure, never per dossier
    assert satisfaction["dissatisfied_ratings"] == [
        {"agency_code": UNIT, "procedure_code": "T.000001", "procedure_name": "Thủ tục thử T.000001", "dissatisfied": 2}
    ]
    assert satisfaction["dissatisfied_also_complained"] == 1
    assert all("rating" not in key for key in satisfaction["rows"][0])
    # what was listed is what the rule subtracted: 2 late + (1 named by a complaint + 2 dissatisfied − 1 both)
    lost = 5 - by_id(card(client))["5.4"]["numerator"]
    late = sum("late" in r["reasons"] for r in satisfaction["rows"])
    named = sum("complaint" in r["reasons"] for r in satisfaction["rows"])
    assert late + named + 2 - satisfaction["dissatisfied_also_complained"] == lost

    csv = client.get(f"{API}/index/scorecard/5.3/dossiers", params={"period": PERIOD, "agency": UNIT, "format": "csv"})
    assert csv.status_code == 200 and "Thời hạn bị trễ" in csv.text and "Về hành vi của cán bộ" in csv.text


def test_the_drill_down_pages_show_complaints_and_counted_ratings(client, unit, registers):
    params = {"period": PERIOD, "agency": UNIT, "lang": "vi"}
    scorecard_page = client.get("/dashboard/scorecard", params=params).text
    assert "/dashboard/scorecard/5.2?" in scorecard_page and "/dashboard/scorecard/5.3?" in scorecard_page
    page = client.get("/dashboard/scorecard/5.3", params=params)
    assert page.status_code == 200
    text = page.text
    for name in ("B", "C", "D"):
        assert f'href="/desk/complaints/{registers[name]}"' in text
    assert f'href="/desk/complaints/{registers["A"]}"' not in text
    assert "Trả lời (15 ngày)" in text and "Không hài lòng với trả lời" in text and "Phản ánh lại" in text
    assert SECRET not in text
    satisfaction = client.get("/dashboard/scorecard/5.4", params=params).text
    assert unit["d3"] in satisfaction and unit["d2"] in satisfaction and unit["d1"] not in satisfaction
    assert 'id="dissatisfied-table"' in satisfaction and "Bị phản ánh, kiến nghị" in satisfaction


def _synced(session, codes):
    at = datetime(2025, 10, 1, 2, tzinfo=UTC)
    for code in codes:
        dossier_id = session.execute(select(Dossier.id).where(Dossier.code == code)).scalar_one()
        session.add(DossierSync(dossier_id=dossier_id, synced_change_id=1, state="synced", first_synced_at=at,
                                synced_at=at))  # fmt: skip
    session.flush()


def test_the_sync_rate_scores_1_4_and_weighs_3_3(client, session, unit):
    assert "1.4" in [m["id"] for m in card(client)["missing_data"]]  # nothing ever accepted by the portal
    _synced(session, [unit["d1"], unit["d2"], unit["d3"], unit["d4"]])  # d5 never accepted
    answer = card(client)
    lines = by_id(answer)
    assert "1.4" not in [m["id"] for m in answer["missing_data"]]
    # 1.4: 4 of the 5 dossiers received in the period (the refused one aside) synced: 6 × 4/5
    assert (lines["1.4"]["numerator"], lines["1.4"]["denominator"]) == (4, 5)
    assert lines["1.4"]["points"] == pytest.approx(6 * 4 / 5)
    # 3.3: d2 filed online with its electronic result, 1 of 5, × the sync rate 4/5 = 0.16; full marks at 50 %:
    # 8 × 0.16 / 0.5 (with every dossier synced it would be 8 × 0.2 / 0.5)
    assert (lines["3.3"]["numerator"], lines["3.3"]["denominator"]) == (1, 5)
    assert lines["3.3"]["rate"] == pytest.approx(0.16)
    assert lines["3.3"]["points"] == pytest.approx(8 * 0.16 / 0.5)
    not_synced = listed(client, "1.4")
    assert not_synced["kind"] == "dossiers" and not_synced["total"] == 1
    assert [r["code"] for r in not_synced["rows"]] == [unit["d5"]]
    page = client.get("/dashboard/scorecard/1.4", params={"period": PERIOD, "agency": UNIT}).text
    assert unit["d5"] in page and unit["d1"] not in page


def patch(client, code, expect=200, **body):
    response = client.patch(f"{API}/agencies/{code}", json=body)
    assert response.status_code == expect, response.text
    return response.json()


def test_certified_copies_recorded_per_agency_and_scored(client, client_as, unit):
    assert "4.6" in [m["id"] for m in card(client)["missing_data"]]  # never recorded
    # a unit without a commune is judged on its own setting
    assert patch(client, UNIT, e_certified_copies=False)["e_certified_copies"] is False
    line = by_id(card(client))["4.6"]
    assert (line["numerator"], line["denominator"], line["points"], line["formula"]) == (0, 1, 0, "766-4.6-v2")
    assert [r["agency_code"] for r in listed(client, "4.6")["rows"]] == [UNIT]
    patch(client, UNIT, e_certified_copies=True, e_certified_copies_from="2025-10-01")  # after the period
    assert by_id(card(client))["4.6"]["points"] == 0
    row = listed(client, "4.6")["rows"][0]
    assert (row["e_certified_copies"], row["e_certified_copies_from"]) == (True, "2025-10-01")
    shown = patch(client, UNIT, e_certified_copies_from="2025-09-30")
    assert shown["e_certified_copies"] is True and shown["e_certified_copies_from"] == "2025-09-30"
    line = by_id(card(client))["4.6"]
    assert (line["numerator"], line["denominator"], line["points"]) == (1, 1, 2)
    assert listed(client, "4.6")["total"] == 0
    # refusals: a start day without offering them, nothing to record, someone else's unit, an unknown agency
    early = patch(client, "000.01.01.H26", 422, e_certified_copies_from="2025-01-01")
    assert "e_certified_copies true" in early["detail"]
    patch(client, "000.01.01.H26", 422)
    patch(client, "000.01.01.H26", 422, e_certified_copies="maybe")
    manager = client_as("manager").patch(f"{API}/agencies/000.01.01.H26", json={"e_certified_copies": True})
    assert manager.status_code == 403  # the catalogue's writes are the administrators'
    patch(client, "000.98.98.H26", 404, e_certified_copies=True)
    # no longer offering: its start day goes too; null: never recorded again
    assert patch(client, UNIT, e_certified_copies=False)["e_certified_copies_from"] is None
    patch(client, UNIT, e_certified_copies=None)
    assert "4.6" in [m["id"] for m in card(client)["missing_data"]]


def test_a_units_communes_make_4_6_and_a_reload_of_the_agency_list_keeps_them(client, session, unit):
    from procedures.service import upsert_agencies
    from seed.loader import read_agencies  # the shipped agency list, as `motcua seed` loads it

    city = "000.00.00.H26"
    communes = [a for a in client.get(f"{API}/agencies", params={"level": "commune"}).json() if a["active"]]
    assert len(communes) >= 5
    offering = [c["code"] for c in communes[:3]]
    for code in offering:
        patch(client, code, e_certified_copies=True)
    patch(client, communes[3]["code"], e_certified_copies=False)
    patch(client, communes[4]["code"], e_certified_copies=True, e_certified_copies_from="2026-01-01")  # not yet
    line = by_id(card(client, agency=city, include_children="true"))["4.6"]
    # the city's active communes: 3 offering of them all (the departments do not count: the city has communes)
    assert (line["numerator"], line["denominator"]) == (3, len(communes))
    assert line["points"] == pytest.approx(2 * 3 / len(communes), abs=1e-4)
    costly = listed(client, "4.6", agency=city, include_children="true", page_size=200)
    assert costly["kind"] == "agencies" and costly["total"] == len(communes) - 3
    assert not set(offering) & {r["agency_code"] for r in costly["rows"]}
    one = by_id(card(client, agency=offering[0]))["4.6"]
    assert (one["numerator"], one["denominator"], one["points"]) == (1, 1, 2)
    never = card(client, agency=communes[5]["code"]) if len(communes) > 5 else None
    if never is not None:
        assert "4.6" in [m["id"] for m in never["missing_data"]]

    upsert_agencies(session, read_agencies())  # the shipped list does not say: what was recorded stays
    session.flush()
    assert client.get(f"{API}/agencies/{offering[0]}").json()["e_certified_copies"] is True
    assert by_id(card(client, agency=city, include_children="true"))["4.6"]["numerator"] == 3


def test_4_6_of_every_unit_at_once_is_the_one_unit_rule():
    """`_certified_copy_figures` (every unit in one grouped pass, the scorecards and the freeze) counts what
    `_certified_copy_agencies` (one unit, the drill-down) lists, unit by unit."""
    import numpy as np
    import pandas as pd

    from sla.scorecard import Unit, _certified_copy_agencies, _certified_copy_figures

    rng = np.random.default_rng(3)
    n = 300
    agencies = pd.DataFrame({
        "id": np.arange(n), "code": [f"A{i:03d}" for i in range(n)],
        "level": rng.choice(["commune", "department", "province", "district"], n), "active": rng.random(n) < 0.9,
        "recorded": rng.random(n) < 0.6,
    })  # fmt: skip
    agencies["offers"] = agencies["recorded"] & (rng.random(n) < 0.5)
    units = [Unit(f"A{i:03d}", frozenset({i}), frozenset()) for i in range(n)]
    units += [Unit(f"G{k}", frozenset(rng.choice(n, size=int(rng.integers(0, 40)), replace=False).tolist()),
                   frozenset()) for k in range(60)]  # fmt: skip
    for unit, figures in zip(units, _certified_copy_figures(agencies, units), strict=True):
        counted = _certified_copy_agencies(agencies, unit)
        expected = (int(counted["offers"].sum()), len(counted), bool(counted["recorded"].any()))
        assert (figures.numerator, figures.denominator, figures.recorded) == expected, unit.code


def test_the_drill_downs_keep_to_the_readers_scope(app, tokens, client_as, unit, registers):
    manager = client_as("manager")  # a ward's manager: its ward and the agencies under it
    outside = manager.get(f"{API}/index/scorecard/5.3/dossiers", params={"period": PERIOD, "agency": UNIT})
    assert outside.status_code == 403
    own = manager.get(f"{API}/index/scorecard/5.3/dossiers", params={"period": PERIOD})
    assert own.status_code == 200 and own.json()["agency"] == "000.01.01.H26" and own.json()["total"] == 0
    cookies = {SESSION_COOKIE: tokens["manager"]}
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False, cookies=cookies) as page:
        assert page.get("/dashboard/scorecard/5.2", params={"period": PERIOD, "agency": UNIT}).status_code == 403
        assert page.get("/dashboard/scorecard/5.2", params={"period": PERIOD}).status_code == 200
