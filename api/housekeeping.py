"""Housekeeping: the rows that have served their purpose go, once a day, after the nightly run.

- `dossier_change`: a dossier's older stamped changes (its latest one is all a reader reads; exchange/service.py);
- `sign_in_failure`: counts whose window has passed and whose wait is over (the next failure would start at 1);
- `notify_message`: sent or given-up messages older than `MOTCUA_MESSAGE_RETENTION_DAYS` (they name the
  applicant; 0 keeps them), with their delivery log.

Each part is its own transaction; the run is recorded in `job_run` (job `housekeeping`, the local day, the rows
deleted) under a leader lock, so two processes never run it at once.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select

from accounts.throttle import SignInThrottle
from api.db import for_writes, session_scope
from api.settings import Settings
from exchange.service import compact_changes
from notify.outbox import prune_messages
from sla.core.calendar import LOCAL_TZ
from sla.jobs import LockBusy, leader_lock
from sla.models import JobRun

JOB = "housekeeping"


@dataclass
class Housekeeping:
    deleted: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.deleted.values())

    def summary(self) -> str:
        return ", ".join(f"{table}: {rows} deleted" for table, rows in self.deleted.items())


def run_housekeeping(engine: Engine, settings: Settings, *, now: datetime | None = None) -> Housekeeping:
    """One run; raises LockBusy when another run holds the lock."""
    now = now or datetime.now(UTC)
    writes = for_writes(engine)
    with leader_lock(engine, JOB) as acquired:
        if not acquired:
            raise LockBusy("another housekeeping run is in progress; nothing was done")
        day = now.astimezone(LOCAL_TZ).date().isoformat()
        with session_scope(writes) as session:
            revision = session.execute(
                select(func.count()).select_from(JobRun).where(JobRun.job == JOB, JobRun.period_key == day)
            ).scalar_one()
            run = JobRun(job=JOB, period_key=day, revision=revision + 1, started_at=now)
            session.add(run)
            session.flush()
            run_id = run.id
        done = Housekeeping()
        try:
            with session_scope(writes) as session:
                done.deleted["dossier_change"] = compact_changes(session)
            with session_scope(writes) as session:
                throttle = SignInThrottle.from_settings(settings)
                throttle.clock = lambda: now
                done.deleted["sign_in_failure"] = throttle.prune(session)
            with session_scope(writes) as session:
                days = settings.message_retention_days
                done.deleted["notify_message"] = (
                    prune_messages(session, before=now - timedelta(days=days)) if days else 0
                )
        except Exception as exc:
            with session_scope(writes) as session:
                failed = session.get(JobRun, run_id)
                failed.status, failed.finished_at, failed.error = "failed", datetime.now(UTC), str(exc)[:4000]
                failed.rows_written = done.total
            raise
        with session_scope(writes) as session:
            finished = session.get(JobRun, run_id)
            finished.status, finished.finished_at, finished.rows_written = "done", datetime.now(UTC), done.total
        return done
