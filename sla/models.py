"""SLA tables: calendar overrides and the calendar version stamp every worker checks."""

from datetime import date, datetime

import sqlmodel
from sqlalchemy import CheckConstraint, Column, UniqueConstraint
from sqlmodel import SQLModel

from procedures.db import UTCDateTime, utc_now

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


class CalendarState(SQLModel, table=True):
    """One row: a new random stamp at every override change, so each worker knows when to rebuild.

    Random, not a counter: a stamp of a rolled-back change is never reused for other content.
    """

    __tablename__ = "calendar_state"

    id: int = sqlmodel.Field(default=1, primary_key=True)
    version: str = sqlmodel.Field(default="", max_length=32)
    changed_at: datetime = sqlmodel.Field(default_factory=utc_now, sa_column=Column(UTCDateTime(), nullable=False))
