"""Nightly jobs: re-derive what a calendar or catalogue change moved, snapshot each agency's day, and
freeze the period reports and index scores that feed the indexes.

Each job for each period claims a `job_run` row before it works and marks it done in the same
transaction as its rows, so a repeat is a no-op, a crash leaves nothing half-written and the next
run completes it. One run at a time: a leader lock (a PostgreSQL advisory lock, or a file lock
beside a SQLite database) is held for the whole run.
"""

import fcntl
import hashlib
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pandas as pd
from sqlalchemy import Engine, and_, case, delete, func, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from dossiers.models import Dossier
from dossiers.rebuild import rebuild
from procedures.models import Agency
from sla.calendars import CalendarStore, calendar_changes, calendar_version
from sla.core.calendar import LOCAL_TZ, WorkingCalendar
from sla.core.lifecycle import CLOCK_STOPPED_STATUSES, Status
from sla.core.rates import ParScoring, index_scores
from sla.models import CalendarOverride, DailySnapshot, JobRun, PeriodSnapshot
from sla.reports import Period, day_start, period_report
from sla.scorecard import every_unit, scorecard_score, scorecards

log = logging.getLogger("motcua.jobs")

REDERIVE, DAILY, FREEZE = "rederive", "daily_snapshot", "freeze_period"
DUE_SOON_WORKING_DAYS = 2


@dataclass
class RunResult:
    job: str
    period_key: str
    status: str  # done | skipped | failed
    revision: int | None = None
    rows_written: int = 0
    error: str | None = None


# --- one run at a time ---------------------------------------------------------------------------


class LockBusy(RuntimeError):
    """Another scheduler or nightly run holds the lock."""


@contextmanager
def leader_lock(engine: Engine, name: str) -> Iterator[bool]:
    """Hold the lock `name` for the block; yields False (and holds nothing) when another process has it."""
    if engine.dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(f"motcua:{name}".encode()).digest()[:8], "big", signed=True)
        with engine.connect() as connection:
            acquired = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar_one()
            connection.commit()
            try:
                yield bool(acquired)
            finally:
                if acquired:
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                    connection.commit()
        return
    database = engine.url.database
    path = f"{database}.{name}.lock" if database and database != ":memory:" else None
    if path is None:
        yield True
        return
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- claiming runs -------------------------------------------------------------------------------


def claim(engine: Engine, job: str, period_key: str, *, force: bool = False) -> JobRun | None:
    """The run row to work under, or None when the period is already done (and not forced).

    A run left `running` or `failed` by a crash is taken over (its attempts counted); `force` opens
    a new revision beside the done one.
    """
    with Session(engine, expire_on_commit=False) as session:
        latest = session.execute(
            select(JobRun)
            .where(JobRun.job == job, JobRun.period_key == period_key)
            .order_by(JobRun.revision.desc())
            .limit(1)
        ).scalar_one_or_none()
        if latest is not None and latest.status != "done":
            latest.status, latest.error, latest.attempts = "running", None, latest.attempts + 1
            latest.started_at, latest.finished_at = datetime.now(UTC), None
            session.commit()
            return latest
        if latest is not None and not force:
            return None
        run = JobRun(job=job, period_key=period_key, revision=latest.revision + 1 if latest else 1)
        session.add(run)
        try:
            session.commit()
        except IntegrityError:
            return None
        return run


def _finish(session: Session, run: JobRun, rows: int) -> None:
    stored = session.get(JobRun, run.id)
    stored.status, stored.rows_written, stored.finished_at = "done", rows, datetime.now(UTC)
    session.add(stored)


def _fail(engine: Engine, run: JobRun, error: BaseException) -> None:
    with Session(engine) as session:
        stored = session.get(JobRun, run.id)
        stored.status, stored.finished_at = "failed", datetime.now(UTC)
        stored.error = f"{type(error).__name__}: {error}"[:4000]
        session.commit()


def _run(engine: Engine, job: str, period_key: str, work: Callable[[Session, JobRun], int], force: bool) -> RunResult:
    run = claim(engine, job, period_key, force=force)
    if run is None:
        return RunResult(job, period_key, "skipped")
    try:
        with Session(engine.execution_options(sqlite_immediate=True), expire_on_commit=False) as session:
            rows = work(session, run)
            _finish(session, run, rows)
            session.commit()
    except Exception as exc:  # the run is recorded as failed; the next night takes it over
        log.exception("job %s for %s failed", job, period_key)
        _fail(engine, run, exc)
        return RunResult(job, period_key, "failed", run.revision, 0, f"{type(exc).__name__}: {exc}")
    return RunResult(job, period_key, "done", run.revision, rows)


# --- the jobs ------------------------------------------------------------------------------------


def rederive_open(session: Session, *, calendars: CalendarStore) -> int:
    """Re-derive open dossiers whose procedure version changed since their derivation, or whose clock window
    holds a day the calendar changed since (the others take the new calendar stamp: nothing of theirs moves)."""
    stamp = calendar_version(session)
    recent = session.execute(select(CalendarOverride).order_by(CalendarOverride.created_at.desc()).limit(5)).scalars()
    changes = "; ".join(f"{o.day:%d/%m/%Y} {o.kind}: {o.reason}" for o in recent)
    reason = "working calendar or procedure changed (nightly re-derivation)" + (
        f"; latest overrides: {changes}" if changes else ""
    )
    changes = calendar_changes(session)
    report = rebuild(
        session,
        calendar_for=calendars.calendar_for(session),
        stale_for=stamp,
        changed_days=changes.since,
        reason=reason[:2000],
    )
    return report.dossiers


def daily_snapshot(session: Session, run: JobRun, *, day: date, calendars: CalendarStore) -> int:
    """Per agency at the end of `day`: open, overdue and due-soon dossiers it holds; what it finished that day."""
    start, end = day_start(day), day_start(day + timedelta(days=1))
    national = calendars.get(session, None)
    soon = national.shift(end, DUE_SOON_WORKING_DAYS * national.minutes_per_day)
    d = Dossier
    still_open = and_(
        d.received_at < end,
        d.status_code != Status.REFUSED,
        or_(d.finished_at.is_(None), d.finished_at >= end),
    )
    on_hold = and_(d.finished_at.is_(None), d.status_code.in_(CLOCK_STOPPED_STATUSES))

    def count(condition):
        return func.sum(case((condition, 1), else_=0))

    held = pd.DataFrame(
        session.execute(
            select(
                d.current_agency_id.label("agency_id"),
                func.count().label("open"),
                count(and_(~on_hold, d.due_at < end)).label("overdue"),
                count(and_(~on_hold, d.due_at >= end, d.due_at < soon)).label("due_soon"),
            )
            .where(still_open, d.current_agency_id.is_not(None))
            .group_by(d.current_agency_id)
        ).all(),
        columns=["agency_id", "open", "overdue", "due_soon"],
        dtype="int64",
    )
    finished = pd.DataFrame(
        session.execute(
            select(
                d.receiving_agency_id.label("agency_id"),
                count(d.outcome == "early").label("resolved_early"),
                count(d.outcome == "on_time").label("resolved_on_time"),
                count(d.outcome == "late").label("resolved_late"),
                count(d.outcome == "withdrawn").label("withdrawn"),
            )
            .where(d.finished_at >= start, d.finished_at < end, d.status_code != Status.REFUSED)
            .group_by(d.receiving_agency_id)
        ).all(),
        columns=["agency_id", "resolved_early", "resolved_on_time", "resolved_late", "withdrawn"],
        dtype="int64",
    )
    rows = held.merge(finished, on="agency_id", how="outer").fillna(0)
    session.execute(delete(DailySnapshot).where(DailySnapshot.day == day))  # a forced re-run replaces the day
    session.add_all(
        DailySnapshot(day=day, run_id=run.id, **{k: int(v) for k, v in row.items()}) for row in rows.to_dict("records")
    )
    session.flush()
    return len(rows)


def freeze_period(
    session: Session,
    run: JobRun,
    *,
    period_key: str,
    period: Period,
    par: ParScoring,
    calendar: WorkingCalendar | None = None,
) -> int:
    """The period report by agency, its index scores and (given the national `calendar`) each agency's Decision
    766 scorecard beside them (a score of formula `766-scorecard-v1`), as immutable rows of this run's revision."""
    report = period_report(session, period=period, group_by="agency")
    scores = {row["group"]: row for row in index_scores(report, par)}
    if calendar is not None:
        cards = scorecards(
            session, period=period, period_key=period_key, units=every_unit(session), calendar=calendar
        )
        for card in cards:
            if card["agency"] in scores:
                scores[card["agency"]]["scores"].append(scorecard_score(card))
    agency_ids = dict(session.execute(select(Agency.code, Agency.id)).all())
    frozen_at = datetime.now(UTC)
    count_columns = [c for c in report.columns if c not in ("group", "agency_code", "agency_name")]
    for row in report.to_dict("records"):
        session.add(
            PeriodSnapshot(
                period_key=period_key,
                first_day=period.first,
                last_day=period.last,
                scope=row["group"],
                agency_id=agency_ids.get(row["group"]),
                revision=run.revision,
                frozen_at=frozen_at,
                counts={column: row[column] for column in count_columns},
                scores=scores[row["group"]]["scores"],
                run_id=run.id,
            )
        )
    session.flush()
    return len(report)


def periods_ending(day: date) -> list[tuple[str, Period]]:
    """The month, quarter and year that end on `day` (their keys: 2025-03, 2025-Q1, 2025)."""
    if (day + timedelta(days=1)).day != 1:
        return []
    month_first = day.replace(day=1)
    periods = [(f"{day:%Y-%m}", Period(month_first, day))]
    if day.month % 3 == 0:
        quarter_first = date(day.year, day.month - 2, 1)
        periods.append((f"{day.year}-Q{day.month // 3}", Period(quarter_first, day)))
    if day.month == 12:
        periods.append((f"{day.year}", Period(date(day.year, 1, 1), day)))
    return periods


# --- the night -----------------------------------------------------------------------------------


def run_night(
    engine: Engine,
    day: date,
    *,
    calendars: CalendarStore,
    par: ParScoring,
    force: bool = False,
    snapshot: bool = True,
    periods_from: date | None = None,
) -> list[RunResult]:
    """Close `day`: re-derive stale dossiers, snapshot the day, freeze the periods that end on it.

    `snapshot=False` only freezes; `periods_from` leaves out the periods that start before it.
    """
    key = day.isoformat()
    results = []
    if snapshot:
        results = [
            _run(engine, REDERIVE, key, lambda session, run: rederive_open(session, calendars=calendars), force),
            _run(
                engine,
                DAILY,
                key,
                lambda session, run: daily_snapshot(session, run, day=day, calendars=calendars),
                force,
            ),
        ]
    for period_key, period in periods_ending(day):
        if periods_from is not None and period.first < periods_from:
            continue
        results.append(
            _run(
                engine,
                FREEZE,
                period_key,
                lambda session, run, k=period_key, p=period: freeze_period(
                    session, run, period_key=k, period=p, par=par, calendar=calendars.get(session, None)
                ),
                force,
            )
        )
    return results


def nights_to_run(engine: Engine, today: date, *, catch_up_days: int) -> list[date]:
    """Every day not yet closed since the last closed one, oldest first (at most `catch_up_days`)."""
    yesterday = today - timedelta(days=1)
    with Session(engine) as session:
        last = session.execute(
            select(func.max(JobRun.period_key)).where(JobRun.job == DAILY, JobRun.status == "done")
        ).scalar_one_or_none()
    first = (
        max(date.fromisoformat(last) + timedelta(days=1), yesterday - timedelta(days=catch_up_days - 1))
        if last
        else yesterday
    )
    return [first + timedelta(days=n) for n in range((yesterday - first).days + 1)]


def close_history(
    engine: Engine,
    *,
    since: date,
    calendars: CalendarStore,
    par: ParScoring,
    now: datetime | None = None,
    snapshot_days: int = 31,
) -> list[RunResult]:
    """Close the nights of a history written at once (a generated or imported city) from `since` to
    yesterday: every month, quarter and year lying wholly in it is frozen, and its last `snapshot_days`
    days (the nightly catch-up's reach) get their re-derivation and daily snapshot too. Done periods
    and days are skipped, as the nightly run skips them.

    Raises LockBusy when another run holds the lock.
    """
    with leader_lock(engine, "nightly") as acquired:
        if not acquired:
            raise LockBusy("another nightly run is in progress; nothing was done")
        yesterday = (now or datetime.now(UTC)).astimezone(LOCAL_TZ).date() - timedelta(days=1)
        snapshots_from = yesterday - timedelta(days=snapshot_days - 1)
        results: list[RunResult] = []
        for offset in range((yesterday - since).days + 1):
            day = since + timedelta(days=offset)
            results.extend(
                run_night(
                    engine, day, calendars=calendars, par=par, snapshot=day >= snapshots_from, periods_from=since
                )
            )
        return results


def run_nightly(
    engine: Engine,
    *,
    calendars: CalendarStore,
    par: ParScoring,
    day: date | None = None,
    force: bool = False,
    now: datetime | None = None,
    catch_up_days: int = 31,
) -> list[RunResult]:
    """The nightly run: the given day, or every day not yet closed up to yesterday (local), oldest first.

    Raises LockBusy when another run holds the lock.
    """
    with leader_lock(engine, "nightly") as acquired:
        if not acquired:
            raise LockBusy("another nightly run is in progress; nothing was done")
        today = (now or datetime.now(UTC)).astimezone(LOCAL_TZ).date()
        days = [day] if day else nights_to_run(engine, today, catch_up_days=catch_up_days)
        results: list[RunResult] = []
        for each in days:
            results.extend(run_night(engine, each, calendars=calendars, par=par, force=force))
        return results
