"""The seeded catalogue's Decision 766 facts score in a generated city: the publication indicators (1.1, 1.2, 1.3)
and the fee data one (3.5) are counted from the shipped versions, neither missing nor all won or all lost."""

import csv
import json

from sqlmodel import Session

from seed.loader import DATA, read_components
from sla import reports, scorecard
from sla.calendars import CalendarStore
from sla.core.calendar import DEFAULT_WORKING_HOURS
from tests.seed.test_generator import city  # noqa: F401  (fixture: a small generated year 2025)
from tests.seed.test_seed import publication_lead_and_lag

PERIOD = "2025"
CITY = "000.00.00.H26"
WARD = "000.01.01.H26"


def card_of(session: Session, agency: str, calendar) -> dict:
    card = scorecard.scorecard(
        session,
        period=reports.period_of(PERIOD, None, None),
        period_key=PERIOD,
        agency=agency,
        include_children=True,
        calendar=calendar,
    )
    return {
        "lines": {line["id"]: line for line in card["indicators"]},
        "missing": {m["id"] for m in card["missing_data"]},
    }


def expected(rows: list[dict], calendar) -> dict[str, tuple[int, int]]:
    """(numerator, denominator) of 1.1, 1.2, 1.3 and 3.5 over the shipped versions, counted from index766.md's rules."""
    decided = [row for row in rows if row["decision_date"].startswith(PERIOD)]
    lead_lag = [publication_lead_and_lag(calendar, row) for row in decided]
    listed = set(read_components())
    complete = [row for row in rows if row["online_level"] and row["code"] in listed]  # every other part is shipped
    fee_procedures = [
        row
        for row in rows
        if (row["fee"].isdigit() and int(row["fee"]) > 0) or sum(x["amount_vnd"] for x in json.loads(row["fee_lines"]))
    ]
    return {
        "1.1": (sum(lead >= 5 for lead, _ in lead_lag), len(decided)),
        "1.2": (sum(lag <= 5 for _, lag in lead_lag), len(decided)),
        "1.3": (len(complete), len(rows)),
        "3.5": (len(fee_procedures), len(fee_procedures)),
    }


def test_the_seeded_catalogue_scores_its_publication_and_fee_data_indicators(city):  # noqa: F811
    engine, _, _ = city
    store = CalendarStore(first_year=2015, last_year=2035, working_hours=DEFAULT_WORKING_HOURS)  # the app's years
    with (DATA / "procedures.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    with Session(engine) as session:
        calendar = store.get(session, None)
        whole = card_of(session, CITY, calendar)
        ward = card_of(session, WARD, calendar)
    counts = expected(rows, calendar)
    assert not whole["missing"] & set(counts)
    for indicator, (numerator, denominator) in counts.items():
        line = whole["lines"][indicator]
        assert (line["numerator"], line["denominator"]) == (numerator, denominator), indicator
    for indicator in ("1.1", "1.2", "1.3"):
        assert 0 < whole["lines"][indicator]["points"] < whole["lines"][indicator]["max_points"], indicator
    assert whole["lines"]["3.5"]["points"] == 2  # every fee procedure has its fee lines
    # a ward scores the commune-level versions: its own figures, also neither missing nor all won or lost
    assert not ward["missing"] & set(counts)
    for indicator in ("1.1", "1.2"):
        line = ward["lines"][indicator]
        assert 0 < line["numerator"] < line["denominator"] < whole["lines"][indicator]["denominator"], indicator
