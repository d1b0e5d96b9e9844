"""The SQL report equals a naive recount in plain Python over a random set of dossiers."""

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from dossiers import service
from dossiers.models import Dossier
from dossiers.schemas import ApplicantIn, DossierCreate, EventCreate
from procedures.errors import DomainError
from procedures.models import Agency
from sla import reports
from sla.calendars import CalendarStore
from sla.core.calendar import DEFAULT_WORKING_HOURS, LOCAL_TZ

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
        code = service.receive(session, data=data, actor="test", calendar_for=calendar_for, now=now).code
        at = received
        for event_type in [] if status == "refused" else rng.choice(PATHS):
            at += timedelta(hours=rng.randrange(2, 24 * 12))
            body = EventCreate(type=event_type, at=at, reason="lý do" if event_type == "supplement_requested" else None)
            try:
                service.record(session, code=code, data=body, actor="test", calendar_for=calendar_for, now=now)
            except DomainError:
                break
    session.flush()


def naive_recount(session, first: date, last: date) -> dict[str, dict[str, int]]:
    codes = dict(session.execute(select(Agency.id, Agency.code)).all())
    counts: dict[str, dict[str, int]] = {}
    for dossier in session.execute(select(Dossier)).scalars():
        if dossier.status_code in (1, 3):
            continue
        received = dossier.received_at.astimezone(LOCAL_TZ).date()
        finished = dossier.finished_at.astimezone(LOCAL_TZ).date() if dossier.finished_at else None
        if received > last or (finished is not None and finished < first):
            continue
        row = counts.setdefault(codes[dossier.receiving_agency_id], dict.fromkeys(
            ["carried_over", "received_new", "total", "resolved", "early", "on_time", "late", "withdrawn",
             "open", "open_within", "open_overdue"], 0))  # fmt: skip
        row["total"] += 1
        row["carried_over" if received < first else "received_new"] += 1
        if finished is not None and finished <= last:
            if dossier.outcome == "withdrawn":
                row["withdrawn"] += 1
            else:
                row["resolved"] += 1
                row[dossier.outcome] += 1
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
    got = {
        row["group"]: {key: row[key] for key in next(iter(expected.values()))}
        for row in report.to_dict("records")
        if row["group"] != "total"
    }
    assert got == expected
    assert sum(row["total"] for row in expected.values()) > 20
