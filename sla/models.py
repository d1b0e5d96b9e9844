"""SLA tables: calendar overrides and their version stamp, job runs and the snapshots they freeze."""

from datetime import date, datetime

import sqlmodel
from sqlalchemy import JSON, CheckConstraint, Column, UniqueConstraint
from sqlmodel import SQLModel

from kernel.db import StampRow, UTCDateTime, utc_now

NATIONAL = "national"


class CalendarOverride(SQLModel, table=True):
    """A day that wins over the holidays package: national, or for one agency (e.g. a storm closure)."""

    __tablename__ = "calendar_override"
    __table_args__ = (
        UniqueConstraint("day", "scope"),
        CheckConstraint("kind IN ('off', 'workday')", name="kind_valid"),
    )

    id: int | None = sqlmodel.Field(default=None, primary_key=True)
    day: date = sqlmodel.Field(index=True)
    kind: str = sqlmodel.Field(max_length=8)
    reason: str = sqlmodel.Field(max_length=500)
    legal_ref: str | None = sqlmodel.Field(default=None, max_length=500)
    scope: str = sqlmodel.Field(default=NATIONAL, max_length=64)
    agency_id: int | None = sqlmodel.Field(default=None, foreign_key="agency.id", index=True)
    created_at: datetime = sqlmodel.Field(default_factory=utc_now, sa_column=Column(UTCDateTime(), nullable=False))


class CalendarState(StampRow, table=True):
    """The calendar overrides' stamp (sla.calendars.CalendarStore)."""

    __tablename__ = "calendar_state"


class CalendarChange(SQLModel, table=True):
    """A calendar stamp, and the day (and scope) of the override whose change gave it; the day is empty for
    the stamp a database started its log with. Which days may differ between two stamps
    (sla.calendars.CalendarChanges): the nightly re-derivation moves only the dossiers whose clock
    window holds one."""

    __tablename__ = "calendar_change"

    id: int | None = sqlmodel.Field(default=None, primary_key=True)
    version: str = sqlmodel.Field(max_length=32, index=True)
    day: date | None = None
    scope: str | None = sqlmodel.Field(default=None, max_length=64)
    changed_at: datetime = sqlmodel.Field(default_factory=utc_now, sa_column=Column(UTCDateTime(), nullable=False))


class JobRun(SQLModel, table=True):
    """One run of a job for one period, claimed before the work: the row that makes jobs idempotent."""

    __tablename__ = "job_run"
    __table_args__ = (
        UniqueConstraint("job", "period_key", "revision"),
        CheckConstraint("status IN ('running', 'done', 'failed')", name="status_valid"),
    )

    id: int | None = sqlmodel.Field(default=None, primary_key=True)
    job: str = sqlmodel.Field(max_length=32)
    period_key: str = sqlmodel.Field(max_length=16)
    revision: int = 1
    status: str = sqlmodel.Field(default="running", max_length=8)
    attempts: int = 1
    started_at: datetime = sqlmodel.Field(default_factory=utc_now, sa_column=Column(UTCDateTime(), nullable=False))
    finished_at: datetime | None = sqlmodel.Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    rows_written: int = 0
    error: str | None = sqlmodel.Field(default=None, max_length=4000)


class DailySnapshot(SQLModel, table=True):
    """What an agency held at the end of a day, and what it finished that day."""

    __tablename__ = "daily_snapshot"
    __table_args__ = (UniqueConstraint("day", "agency_id"),)

    id: int | None = sqlmodel.Field(default=None, primary_key=True)
    day: date = sqlmodel.Field(index=True)
    agency_id: int = sqlmodel.Field(foreign_key="agency.id")
    open: int = 0
    overdue: int = 0
    due_soon: int = 0
    resolved_early: int = 0
    resolved_on_time: int = 0
    resolved_late: int = 0
    withdrawn: int = 0
    run_id: int = sqlmodel.Field(foreign_key="job_run.id")


class PeriodSnapshot(SQLModel, table=True):
    """A frozen period report row with its index scores; never updated (a re-freeze is a new revision)."""

    __tablename__ = "period_snapshot"
    __table_args__ = (UniqueConstraint("period_key", "scope", "revision"),)

    id: int | None = sqlmodel.Field(default=None, primary_key=True)
    period_key: str = sqlmodel.Field(max_length=16, index=True)
    first_day: date
    last_day: date
    scope: str = sqlmodel.Field(max_length=64)  # an agency code, or "total" for the whole city
    agency_id: int | None = sqlmodel.Field(default=None, foreign_key="agency.id")
    revision: int = 1
    frozen_at: datetime = sqlmodel.Field(default_factory=utc_now, sa_column=Column(UTCDateTime(), nullable=False))
    counts: dict = sqlmodel.Field(sa_column=Column(JSON, nullable=False))
    scores: list = sqlmodel.Field(sa_column=Column(JSON, nullable=False))
    run_id: int = sqlmodel.Field(foreign_key="job_run.id")
