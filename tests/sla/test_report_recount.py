"""The SQL report equals a naive recount in plain Python over a random set of dossiers."""

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from dossiers import events, intake
from dossiers.models import Dossier
from dossiers.schemas import ApplicantIn, DossierCreate, EventCreate
from kernel.errors import DomainError
from procedures.models import Agency
from sla import reports
from sla.calendars import CalendarStore
from sla.core.calendar import DEFAULT_WORKING_HOURS, LOCAL_TZ
from sla.core.rates import months_between

AGENCIES = ["000.01.01.H26", "000.02.01.H26", "000.03.01.H26"]
PROCEDURES = ["1.004222", "1.004194", "1.004873", "2.001035", "1.001193"]
PATHS = [
    ["resolved"],
    ["resolved", "result_returned"],
    ["supplement_requested", "supplement_received", "resolved"],
    ["paused", "resumed", "resolved"],
    ["withdrawn"],
    ["supplement_requested", "abandoned"],
    [],
]


@pytest.fixture
def random_city(session):
    store = CalendarStore(first_year=2020, last_year=2030, working_hours=DEFAULT_WORKING_HOURS)
    calendar_for = lambda code: store.get(session, code)  # noqa: E731
    now = datetime.now(UTC)
    rng = random.Random(20250601)
    for _ in range(80):
        received = datetime(2025, 4, 1, 8, tzinfo=LOCAL_TZ) + timedelta(minutes=rng.randrange(0, 100 * 24 * 60))
        status = "refused" if rng.random() < 0.05 else "received"
        data = DossierCreate(
            procedure_code=rng.choice(PROCEDURES),
            agency_code=rng.choice(AGENCIES),
            channel=rng.choice(["counter", "counter", "online", "post"]),
            received_at=received,
            status=status,
            applicant=ApplicantIn(name="Người nộp"),
        )
        code = intake.receive(
            session, data=data, actor="test", calendar_for=calendar_for, now=now, rules=intake.HISTORY
        ).dossier.code
        at = received
        for event_type in [] if status == "refused" else rng.choice(PATHS):
            at += timedelta(hours=rng.randrange(2, 24 * 12))
            body = EventCreate(type=event_type, at=at, reason="lý do" if event_type == "supplement_requested" else None)
            try:
                events.record(
                    session,
                    code=code,
                    data=body,
                    actor="test",
                    calendar_for=calendar_for,
                    now=now,
                    rules=intake.HISTORY,
                )
            except DomainError:
                break
    session.flush()


def naive_recount(session, first: date, last: date, key: str = "agency") -> dict[str, dict[str, int]]:
    """Counts per receiving agency (or per channel, procedure code, or "all"), one dossier at a time."""
    codes = dict(session.execute(select(Agency.id, Agency.code)).all())
    key_of = {
        "agency": lambda dossier: codes[dossier.receiving_agency_id],
        "channel": lambda dossier: dossier.channel,
        "procedure": lambda dossier: dossier.procedure_code,
        "all": lambda dossier: "all",
    }[key]
    counts: dict[str, dict[str, int]] = {}
    for dossier in session.execute(select(Dossier)).scalars():
        if dossier.status_code in (1, 3):
            continue
        received = dossier.received_at.astimezone(LOCAL_TZ).date()
        finished = dossier.finished_at.astimezone(LOCAL_TZ).date() if dossier.finished_at else None
        if received > last or (finished is not None and finished < first):
            continue
        row = counts.setdefault(key_of(dossier), dict.fromkeys(
            ["carried_over", "received_new", "received_counter", "received_online", "received_post", "total",
             "resolved", "early", "on_time", "late", "withdrawn", "open", "open_within", "open_overdue",
             "resolution_minutes"], 0))  # fmt: skip
        row["total"] += 1
        if received < first:
            row["carried_over"] += 1
        else:
            row["received_new"] += 1
            row[f"received_{dossier.channel}"] += 1
        if finished is not None and finished <= last:
            if dossier.outcome == "withdrawn":
                row["withdrawn"] += 1
            else:
                row["resolved"] += 1
                row[dossier.outcome] += 1
                row["resolution_minutes"] += dossier.resolution_working_minutes
        else:
            row["open"] += 1
            due = dossier.original_due_at.astimezone(LOCAL_TZ).date()
            clock_stopped = finished is None and dossier.status_code in (5, 6)
            row["open_within" if due >= last or clock_stopped else "open_overdue"] += 1
    return counts


@pytest.mark.parametrize("first, last", [(date(2025, 5, 1), date(2025, 5, 31)), (date(2025, 4, 1), date(2025, 12, 31))])
def test_report_equals_naive_recount(session, random_city, first, last):
    report = reports.period_report(session, period=reports.Period(first, last), group_by="agency")
    expected = naive_recount(session, first, last)
    assert _counts(report) == _approximately(expected)
    assert sum(row["total"] for row in expected.values()) > 20


def _counts(report) -> dict[str, dict[str, int]]:
    """The report's rows as naive_recount counts them (the total row apart)."""
    counted = {}
    for row in report.to_dict("records"):
        if row["group"] == "total":
            continue
        counted[row["group"]] = {key: row[key] for key in reports.COUNT_COLUMNS}
        average = row["avg_resolution_working_days"]
        counted[row["group"]]["resolution_minutes"] = round(average * 480 * row["resolved"]) if average else 0
    return counted


def _approximately(counts: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """Resolution minutes to the precision of the report's average (2 decimals of a working day)."""
    return {
        group: {**row, "resolution_minutes": pytest.approx(row["resolution_minutes"], abs=2.4 * row["resolved"])}
        for group, row in counts.items()
    }


@pytest.mark.parametrize("group_by", ["channel", "procedure"])
def test_other_groupings_equal_naive_recount(session, random_city, group_by):
    first, last = date(2025, 5, 1), date(2025, 6, 30)
    report = reports.period_report(session, period=reports.Period(first, last), group_by=group_by)
    expected = naive_recount(session, first, last, key=group_by)
    assert _counts(report) == _approximately(expected)


def test_each_month_and_the_total_equal_naive_recount(session, random_city):
    """Month by month over April–August: each row is that month's own report; the last is the whole span."""
    first, last = date(2025, 4, 1), date(2025, 8, 31)
    report = reports.period_report(session, period=reports.Period(first, last), group_by="month")
    rows = {row["group"]: row for row in report.to_dict("records")}
    assert list(rows) == ["2025-04", "2025-05", "2025-06", "2025-07", "2025-08", "total"]
    for month_first, month_last in months_between(first, last):
        expected = naive_recount(session, month_first, month_last, key="all")["all"]
        got = {key: rows[f"{month_first:%Y-%m}"][key] for key in reports.COUNT_COLUMNS}
        assert got == {key: expected[key] for key in reports.COUNT_COLUMNS}, month_first
    whole = naive_recount(session, first, last, key="all")["all"]
    assert {key: rows["total"][key] for key in reports.COUNT_COLUMNS} == {
        key: whole[key] for key in reports.COUNT_COLUMNS
    }
    assert rows["2025-06"]["carried_over"] > 0 and rows["2025-05"]["open_overdue"] + rows["2025-06"]["late"] > 0
