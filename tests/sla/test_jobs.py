"""Nightly jobs: idempotent runs, crash recovery, one leader, catch-up, frozen periods and revisions."""

import threading
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from api.db import for_writes, session_scope
from dossiers import events as dossier_events
from dossiers import intake as dossier_intake
from dossiers import reading, search
from dossiers.models import DueChange
from dossiers.schemas import ApplicantIn, DossierCreate, EventCreate
from sla import jobs, snapshots
from sla.calendars import CalendarStore, OverrideCreate, add_override
from sla.core.calendar import DEFAULT_WORKING_HOURS, LOCAL_TZ
from sla.core.rates import ParScoring
from sla.models import DailySnapshot, JobRun, PeriodSnapshot

WARD = "000.01.01.H26"
PAR = ParScoring()


def calendars() -> CalendarStore:
    return CalendarStore(first_year=2020, last_year=2030, working_hours=DEFAULT_WORKING_HOURS)


def intake(engine, received: datetime, events: list[tuple[str, datetime]] = ()) -> str:
    store = calendars()
    with session_scope(for_writes(engine)) as session:
        calendar_for = lambda code: store.get(session, code)  # noqa: E731
        now = datetime.now(UTC)
        data = DossierCreate(
            procedure_code="1.004222", agency_code=WARD, received_at=received, applicant=ApplicantIn(name="A")
        )
        code = dossier_intake.receive(
            session, data=data, actor="test", calendar_for=calendar_for, now=now, rules=dossier_intake.HISTORY
        ).dossier.code
        for type_, at, *fields in events:
            body = EventCreate(type=type_, at=at, **(fields[0] if fields else {}))
            dossier_events.record(
                session,
                code=code,
                data=body,
                actor="test",
                calendar_for=calendar_for,
                now=now,
                rules=dossier_intake.HISTORY,
            )
    return code


def night(engine, day: date, **options):
    return jobs.run_nightly(engine, calendars=calendars(), par=PAR, day=day, **options)


def rows(engine, model) -> list[dict]:
    with Session(engine) as session:
        return [
            row.model_dump(exclude={"id", "frozen_at"})
            for row in session.execute(select(model).order_by(model.id)).scalars()
        ]


@pytest.fixture
def city(fresh_engine):
    intake(fresh_engine, datetime(2025, 6, 2, 9), [("resolved", datetime(2025, 6, 5, 10))])
    intake(fresh_engine, datetime(2025, 6, 20, 9))
    return fresh_engine


def test_two_runs_for_one_night_write_the_same_rows(city):
    first = night(city, date(2025, 6, 30))
    assert [(r.job, r.period_key, r.status) for r in first] == [
        ("rederive", "2025-06-30", "done"),
        ("daily_snapshot", "2025-06-30", "done"),
        ("freeze_period", "2025-06", "done"),
        ("freeze_period", "2025-Q2", "done"),
    ]
    daily, frozen = rows(city, DailySnapshot), rows(city, PeriodSnapshot)
    assert daily and frozen
    again = night(city, date(2025, 6, 30))
    assert {r.status for r in again} == {"skipped"}
    assert rows(city, DailySnapshot) == daily and rows(city, PeriodSnapshot) == frozen


def test_daily_snapshot_counts(city):
    night(city, date(2025, 6, 5))
    [ward] = [row for row in rows(city, DailySnapshot) if row["day"] == date(2025, 6, 5)]
    assert (ward["open"], ward["resolved_early"], ward["overdue"]) == (0, 1, 0)
    night(city, date(2025, 6, 30))
    night(city, date(2025, 7, 1))
    held = {row["day"]: (row["open"], row["overdue"], row["due_soon"]) for row in rows(city, DailySnapshot)}
    assert held[date(2025, 6, 30)] == (1, 0, 1)  # due Tue 01/07 09:00
    assert held[date(2025, 7, 1)] == (1, 1, 0)


def test_a_crash_half_way_is_completed_by_the_next_run(city, monkeypatch):
    real_freeze = jobs.freeze_period

    def crash_after_writing(session, run, **kwargs):
        real_freeze(session, run, **kwargs)
        raise RuntimeError("power cut")

    monkeypatch.setattr(jobs, "freeze_period", crash_after_writing)
    crashed = night(city, date(2025, 6, 30))
    assert [r.status for r in crashed if r.job == "freeze_period"] == ["failed", "failed"]
    assert rows(city, PeriodSnapshot) == []
    monkeypatch.setattr(jobs, "freeze_period", real_freeze)
    completed = night(city, date(2025, 6, 30))
    assert [(r.job, r.status) for r in completed] == [
        ("rederive", "skipped"),
        ("daily_snapshot", "skipped"),
        ("freeze_period", "done"),
        ("freeze_period", "done"),
    ]
    frozen = rows(city, PeriodSnapshot)
    assert len(frozen) == len({(r["period_key"], r["scope"], r["revision"]) for r in frozen})
    with Session(city) as session:
        run = session.execute(select(JobRun).where(JobRun.period_key == "2025-06")).scalar_one()
        assert (run.status, run.attempts, run.error) == ("done", 2, None)


def test_a_run_left_running_by_a_dead_process_is_taken_over(city):
    with Session(city) as session:
        session.add(JobRun(job="daily_snapshot", period_key="2025-06-10", status="running"))
        session.commit()
    results = night(city, date(2025, 6, 10))
    assert [r.status for r in results] == ["done", "done"]
    with Session(city) as session:
        assert session.execute(select(func.count()).select_from(JobRun)).scalar_one() == 2


def test_two_schedulers_run_one_night_once(city):
    outcomes: list = []

    def run():
        try:
            outcomes.append(night(city, date(2025, 6, 30)))
        except jobs.LockBusy as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with Session(city) as session:
        keys = session.execute(select(JobRun.job, JobRun.period_key, JobRun.revision)).all()
    assert len(keys) == len(set(keys)) == 4
    done = [r for outcome in outcomes if isinstance(outcome, list) for r in outcome if r.status == "done"]
    assert len(done) == 4


def test_only_one_scheduler_leads(city):
    with jobs.leader_lock(city, "scheduler") as first, jobs.leader_lock(city, "scheduler") as second:
        assert (first, second) == (True, False)
    with jobs.leader_lock(city, "scheduler") as again:
        assert again


def test_three_missed_nights_run_in_order(city):
    night(city, date(2025, 6, 10))
    results = jobs.run_nightly(city, calendars=calendars(), par=PAR, now=datetime(2025, 6, 14, 1, 0, tzinfo=LOCAL_TZ))
    assert [(r.job, r.period_key) for r in results if r.job == "daily_snapshot"] == [
        ("daily_snapshot", "2025-06-11"),
        ("daily_snapshot", "2025-06-12"),
        ("daily_snapshot", "2025-06-13"),
    ]
    assert jobs.run_nightly(city, calendars=calendars(), par=PAR, now=datetime(2025, 6, 14, 2, tzinfo=LOCAL_TZ)) == []


def test_a_frozen_month_stays_equal_and_force_keeps_both_revisions(city):
    night(city, date(2025, 6, 30))
    with Session(city) as session:
        before = snapshots.feed(session, period="2025-06")
    code = intake(city, datetime(2025, 6, 25, 9))  # a back-dated dossier arrives for June
    with Session(city) as session:
        assert snapshots.feed(session, period="2025-06") == before
    rerun = night(city, date(2025, 6, 30), force=True)
    assert {(r.job, r.revision) for r in rerun if r.job == "freeze_period"} == {("freeze_period", 2)}
    assert {r.status for r in rerun} == {"done"}  # the day's snapshot is replaced, not duplicated
    daily = [row for row in rows(city, DailySnapshot) if row["day"] == date(2025, 6, 30)]
    assert len(daily) == len({row["agency_id"] for row in daily}) > 0
    with Session(city) as session:
        newest = session.execute(
            select(JobRun.id).where(JobRun.job == "daily_snapshot", JobRun.period_key == "2025-06-30")
            .order_by(JobRun.revision.desc()).limit(1)
        ).scalar_one()  # fmt: skip
    assert {row["run_id"] for row in daily} == {newest}
    with Session(city) as session:
        history = snapshots.snapshot_history(session, period="2025-06", agency=WARD)["snapshots"]
        after = snapshots.feed(session, period="2025-06")
    assert [(s["revision"], s["counts"]["total"]) for s in history] == [(1, 2), (2, 3)]
    ward = next(a for a in after["agencies"] if a["agency_code"] == WARD)
    assert ward["snapshot_revision"] == 2 and ward["counts"]["total"] == 3
    assert code


def test_a_new_day_off_moves_open_dues_and_records_why(city):
    open_code = intake(city, datetime(2025, 6, 20, 10))
    with session_scope(city) as session:
        add_override(session, OverrideCreate(date=date(2025, 6, 23), kind="off", reason="Bão số 2"))
    night(city, date(2025, 6, 21))
    with Session(city) as session:
        dossier = reading.get_dossier(session, open_code)
        moves = session.execute(select(DueChange).where(DueChange.dossier_id == dossier.id)).scalars().all()
        resolved = reading.get_dossier(session, search.search(session, status=9)[0][0].code)
    assert dossier.due_at == datetime(2025, 7, 2, 10, tzinfo=LOCAL_TZ)
    assert len(moves) == 1 and "Bão số 2" in moves[0].reason
    assert moves[0].old_due_at == datetime(2025, 7, 1, 10, tzinfo=LOCAL_TZ)
    assert resolved.outcome == "early"


def test_a_day_off_that_overtakes_an_apology_keeps_the_apology_as_history(city):
    """Received Fri 20/06 10:00, due Tue 01/07 10:00; an apology on 27/06 moves it to 02/07 10:00. A decree
    then closes Mon 23/06: the original due moves to 02/07 10:00 too. The apology was lawful when it was
    recorded; the night re-derives the dossier anyway, and its next event can still be recorded."""
    code = intake(
        city,
        datetime(2025, 6, 20, 10),
        [("apology_issued", datetime(2025, 6, 27, 9), {"new_due_at": datetime(2025, 7, 2, 10), "reason": "xác minh"})],
    )
    with session_scope(city) as session:
        add_override(session, OverrideCreate(date=date(2025, 6, 23), kind="off", reason="Bão số 3"))
    [rederived] = [r for r in night(city, date(2025, 6, 27)) if r.job == jobs.REDERIVE]
    assert rederived.status == "done" and rederived.rows_written >= 1  # with the city's other open dossier
    with Session(city) as session:
        dossier = reading.get_dossier(session, code)
    assert dossier.original_due_at == datetime(2025, 7, 2, 10, tzinfo=LOCAL_TZ)
    assert dossier.rescheduled_due_at == dossier.due_at == datetime(2025, 7, 2, 10, tzinfo=LOCAL_TZ)
    store = calendars()
    with session_scope(for_writes(city)) as session:
        dossier_events.record(
            session,
            code=code,
            data=EventCreate(type="resolved", at=datetime(2025, 6, 30, 9, tzinfo=LOCAL_TZ)),
            actor="test",
            calendar_for=lambda agency: store.get(session, agency),
            now=datetime.now(UTC),
            rules=dossier_intake.HISTORY,
        )
    with Session(city) as session:
        assert reading.get_dossier(session, code).outcome == "early"


def test_a_history_written_at_once_gets_its_whole_periods_frozen_and_its_last_days_closed(city):
    now = datetime(2025, 10, 2, 9, 0, tzinfo=LOCAL_TZ)
    since = date(2025, 5, 15)
    results = jobs.close_history(city, since=since, calendars=calendars(), par=PAR, now=now, snapshot_days=5)
    frozen = [r.period_key for r in results if r.job == jobs.FREEZE]
    assert frozen == ["2025-06", "2025-07", "2025-08", "2025-09", "2025-Q3"]  # May and Q2 begin before the history
    snapshots_ = [r.period_key for r in results if r.job == jobs.DAILY]
    assert snapshots_ == ["2025-09-27", "2025-09-28", "2025-09-29", "2025-09-30", "2025-10-01"]
    assert all(r.status == "done" for r in results)
    with Session(city) as session:
        june = session.execute(select(PeriodSnapshot).where(PeriodSnapshot.period_key == "2025-06")).scalars().all()
    assert any(row.counts["received_new"] == 2 for row in june)
    again = jobs.close_history(city, since=since, calendars=calendars(), par=PAR, now=now, snapshot_days=5)
    assert again and all(r.status == "skipped" for r in again)
    assert jobs.run_nightly(city, calendars=calendars(), par=PAR, now=now) == []  # the nightly catch-up: nothing left
