"""The nightly re-derivation after a calendar change moves only the open dossiers whose clock window
(receipt to the latest of due, stage dues and last event) holds a changed day; the others take the new
stamp untouched. The calendar change log (sla.calendars.CalendarChanges) says which days changed."""

from datetime import date, datetime

from sqlalchemy import select, update
from sqlmodel import Session

from api.db import session_scope
from dossiers import reading, rebuild
from dossiers.models import Dossier, DueChange
from sla import jobs
from sla.calendars import (
    CalendarChanges,
    OverrideCreate,
    add_override,
    calendar_changes,
    calendar_version,
    delete_override,
)
from sla.core.calendar import LOCAL_TZ
from tests.sla.test_jobs import calendars, intake, night

WARD = "000.01.01.H26"


def test_the_change_log_names_the_days_changed_since_a_stamp():
    changes = CalendarChanges(
        [
            ("a", None, None),
            ("b", date(2025, 6, 23), "national"),
            ("c", date(2025, 7, 1), "X"),
            ("d", date(2025, 7, 2), "Y"),
        ]
    )
    assert changes.since("a", "X") == [date(2025, 6, 23), date(2025, 7, 1)]
    assert changes.since("b", "Y") == [date(2025, 7, 2)]
    assert changes.since("d", "X") == []
    assert changes.since("unknown", "X") is None


def test_adding_and_deleting_an_override_are_logged_with_their_stamps(fresh_engine):
    with session_scope(fresh_engine) as session:
        before = calendar_version(session)
        added = add_override(session, OverrideCreate(date=date(2025, 6, 23), kind="off", reason="Bão"))
        after_add = calendar_version(session)
        delete_override(session, added.id)
        changes = calendar_changes(session)
        assert changes.since(before, WARD) == [date(2025, 6, 23)]
        assert changes.since(after_add, WARD) == [date(2025, 6, 23)]  # deleted again: may differ once more
        assert changes.since(calendar_version(session), WARD) == []


def _state(engine, code):
    with Session(engine) as session:
        dossier = reading.get_dossier(session, code)
        moves = session.execute(select(DueChange).where(DueChange.dossier_id == dossier.id)).scalars().all()
        return dossier, moves, calendar_version(session)


def test_a_day_off_moves_only_the_dossiers_whose_window_holds_it(fresh_engine):
    early = intake(fresh_engine, datetime(2025, 6, 2, 9))  # due 11/06: overdue by 23/06, window 02/06–11/06
    late = intake(fresh_engine, datetime(2025, 6, 20, 10))  # due 01/07: window holds 23/06
    early_before, _, _ = _state(fresh_engine, early)
    with session_scope(fresh_engine) as session:
        add_override(session, OverrideCreate(date=date(2025, 6, 23), kind="off", reason="Bão số 2"))
    [rederived] = [r for r in night(fresh_engine, date(2025, 6, 21)) if r.job == jobs.REDERIVE]
    assert rederived.status == "done" and rederived.rows_written == 1

    moved, moves, stamp = _state(fresh_engine, late)
    assert moved.due_at == datetime(2025, 7, 2, 10, tzinfo=LOCAL_TZ) and len(moves) == 1
    kept, kept_moves, _ = _state(fresh_engine, early)
    assert kept_moves == [] and kept.due_at == early_before.due_at
    assert kept.derived_at == early_before.derived_at  # not re-derived ...
    assert kept.calendar_version == moved.calendar_version == stamp  # ... but no longer stale
    [again] = [r for r in night(fresh_engine, date(2025, 6, 22)) if r.job == jobs.REDERIVE]
    assert again.rows_written == 0


def test_a_dossier_derived_before_the_log_began_is_re_derived(fresh_engine):
    code = intake(fresh_engine, datetime(2025, 6, 2, 9))
    with session_scope(fresh_engine) as session:
        session.execute(update(Dossier).where(Dossier.code == code).values(calendar_version="0" * 32))
        add_override(session, OverrideCreate(date=date(2025, 9, 2), kind="off", reason="outside its window"))
    store = calendars()
    with session_scope(fresh_engine) as session:
        report = rebuild.rebuild(
            session,
            calendar_for=lambda agency: store.get(session, agency),
            stale_for=calendar_version(session),
            changed_days=calendar_changes(session).since,
        )
    assert (report.dossiers, report.outside_changes) == (1, 0)
    dossier, _, stamp = _state(fresh_engine, code)
    assert dossier.calendar_version == stamp
