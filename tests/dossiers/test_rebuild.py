"""Rebuild re-derives dossiers from their events with the same replay as intake."""

from datetime import UTC, date, datetime

from sqlalchemy import select

from dossiers import events, reading, rebuild
from dossiers import intake as dossier_intake
from dossiers.models import DossierEvent, DueChange
from dossiers.schemas import ApplicantIn, DossierCreate, EventCreate
from sla.calendars import CalendarStore, OverrideCreate, add_override
from sla.core.calendar import DEFAULT_WORKING_HOURS, LOCAL_TZ
from tests.dossiers.conftest import RESIDENCE, WARD


def test_a_new_day_off_moves_open_dues_and_keeps_finished_outcomes(session):
    store = CalendarStore(first_year=2020, last_year=2030, working_hours=DEFAULT_WORKING_HOURS)
    calendar_for = lambda code: store.get(session, code)  # noqa: E731
    now = datetime.now(UTC)

    def intake():
        data = DossierCreate(
            procedure_code=RESIDENCE,
            agency_code=WARD,
            received_at=datetime(2025, 6, 2, 9),
            applicant=ApplicantIn(name="A"),
        )
        written = dossier_intake.receive(
            session, data=data, actor="test", calendar_for=calendar_for, now=now, rules=dossier_intake.HISTORY
        )
        return reading.get_dossier(session, written.dossier.code)  # the session's object: later writes keep it current

    open_dossier = intake()
    finished = intake()
    events.record(
        session,
        code=finished.code,
        data=EventCreate(type="resolved", at=datetime(2025, 6, 11, 16)),
        actor="test",
        calendar_for=calendar_for,
        now=now,
        rules=dossier_intake.HISTORY,
    )
    assert finished.outcome == "on_time"
    add_override(session, OverrideCreate(date=date(2025, 6, 4), kind="off", reason="Nghỉ đột xuất do bão"))

    report = rebuild.rebuild(session, calendar_for=calendar_for)
    assert (report.dossiers, report.due_moved, report.skipped_finished) == (1, 1, 1)
    assert reading.get_dossier(session, open_dossier.code).due_at == datetime(2025, 6, 12, 9, tzinfo=LOCAL_TZ)
    assert reading.get_dossier(session, finished.code).outcome == "on_time"

    moves = session.execute(select(DueChange).where(DueChange.dossier_id == open_dossier.id)).scalars().all()
    assert [(m.old_due_at, m.new_due_at) for m in moves] == [
        (datetime(2025, 6, 11, 9, tzinfo=LOCAL_TZ), datetime(2025, 6, 12, 9, tzinfo=LOCAL_TZ))
    ]
    assert "rebuild" in moves[0].reason

    refrozen = rebuild.rebuild(session, calendar_for=calendar_for, refreeze=True)
    assert refrozen.dossiers == 2 and refrozen.outcome_changed == 1
    assert reading.get_dossier(session, finished.code).outcome == "early"  # against the moved due of 12/06


def test_rebuild_of_one_agency_leaves_the_others(session):
    store = CalendarStore(first_year=2020, last_year=2030, working_hours=DEFAULT_WORKING_HOURS)
    report = rebuild.rebuild(session, calendar_for=lambda code: store.get(session, code), agency="000.00.13.H26")
    assert report.dossiers == 0


def test_a_dossier_the_clock_cannot_replay_is_reported_and_the_others_are_rebuilt(session):
    """An event log broken outside the service (here a second 'resolved' written straight into the table)
    must not stop the re-derivation of every other dossier: it is named in the report, its columns kept."""
    store = CalendarStore(first_year=2020, last_year=2030, working_hours=DEFAULT_WORKING_HOURS)
    calendar_for = lambda code: store.get(session, code)  # noqa: E731
    now = datetime.now(UTC)
    codes = []
    for _ in range(2):
        data = DossierCreate(
            procedure_code=RESIDENCE,
            agency_code=WARD,
            received_at=datetime(2025, 6, 2, 9),
            applicant=ApplicantIn(name="A"),
        )
        codes.append(
            dossier_intake.receive(
                session, data=data, actor="test", calendar_for=calendar_for, now=now, rules=dossier_intake.HISTORY
            ).dossier.code
        )
    broken = reading.get_dossier(session, codes[0])
    session.add(
        DossierEvent(
            dossier_id=broken.id, seq=2, type="result_returned", at=datetime(2025, 6, 3, 9, tzinfo=UTC), actor="x"
        )
    )
    session.flush()
    due_before = broken.due_at
    add_override(session, OverrideCreate(date=date(2025, 6, 4), kind="off", reason="Nghỉ đột xuất do bão"))

    report = rebuild.rebuild(session, calendar_for=calendar_for)
    assert list(report.failed) == [codes[0]] and "result_returned" in report.failed[codes[0]]
    assert (report.dossiers, report.due_moved) == (1, 1)
    assert reading.get_dossier(session, codes[0]).due_at == due_before
    assert reading.get_dossier(session, codes[1]).due_at == datetime(2025, 6, 12, 9, tzinfo=LOCAL_TZ)
