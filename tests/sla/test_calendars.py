"""Stored overrides and the versioned calendar cache shared by workers."""

from datetime import date, datetime

import numpy as np

from sla.calendars import CalendarStore, OverrideCreate, add_override, calendar_version, delete_override
from sla.core.calendar import DEFAULT_WORKING_HOURS, LOCAL_TZ


def store() -> CalendarStore:
    return CalendarStore(first_year=2024, last_year=2027, working_hours=DEFAULT_WORKING_HOURS)


def test_every_worker_rebuilds_when_the_stamp_moves(session):
    worker_a, worker_b = store(), store()
    received = datetime(2025, 6, 2, 9, tzinfo=LOCAL_TZ)
    assert worker_a.get(session).due_at(received, 1, "working_days")[1] == datetime(2025, 6, 3, 9, tzinfo=LOCAL_TZ)
    stamp = calendar_version(session)
    created = add_override(session, OverrideCreate(date=date(2025, 6, 3), kind="off", reason="Bão"))
    assert calendar_version(session) != stamp
    assert worker_a.get(session).due_at(received, 1, "working_days")[1] == datetime(2025, 6, 4, 9, tzinfo=LOCAL_TZ)
    assert not worker_b.get(session).is_working_day(np.array(["2025-06-03"], dtype="datetime64[D]"))[0]
    delete_override(session, created.id)
    assert worker_a.get(session).due_at(received, 1, "working_days")[1] == datetime(2025, 6, 3, 9, tzinfo=LOCAL_TZ)


def test_same_stamp_reuses_the_built_calendar(session):
    worker = store()
    assert worker.get(session) is worker.get(session)
    assert worker.get(session, "000.01.01.H26") is not worker.get(session)
