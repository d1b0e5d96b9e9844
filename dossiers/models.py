"""Dossier tables. The event log is the truth; dossier and stage columns are derived from it."""

from datetime import date, datetime

import sqlmodel
from sqlalchemy import JSON, Boolean, CheckConstraint, Column, ForeignKey, Index, Integer, UniqueConstraint, false, text
from sqlmodel import SQLModel

from procedures.db import UTCDateTime, utc_now

CHANNEL_CODES = {"counter": 1, "online": 2, "post": 3}
RUNNING_STATUSES = (2, 4)  # received, processing: the clock runs (not waiting for a supplement or an obligation)
RUNNING_CONDITION = "status_code IN (2, 4)"
HELD_ELSEWHERE_CONDITION = "current_agency_id <> receiving_agency_id"  # forwarded: held by another agency
FLAGGED_EVENT_CONDITION = "backdate_reason IS NOT NULL OR apology_late"  # the integrity figures' events


def _instant(*, nullable: bool = True, index: bool = False) -> Column:
    return Column(UTCDateTime(), nullable=nullable, index=index)


class Dossier(SQLModel, table=True):
    __table_args__ = (
        CheckConstraint("channel IN ('counter', 'online', 'post')", name="channel_valid"),
        CheckConstraint("status_code BETWEEN 1 AND 10", name="status_code_valid"),
        Index("ix_dossier_queue", "current_agency_id", "status_code", "due_at"),
        # The managers' queues (sla/queues.py): the dossiers an agency holds whose clock runs, in due
        # order, so that a page is read straight off the index, not sorted out of every such row.
        Index(
            "ix_dossier_running",
            "current_agency_id",
            "due_at",
            "id",
            postgresql_where=text(RUNNING_CONDITION),
            sqlite_where=text(RUNNING_CONDITION),
        ),
        # The overdue queue: running dossiers past their ORIGINAL due (an apology does not take them out).
        Index(
            "ix_dossier_running_original",
            "current_agency_id",
            "original_due_at",
            "id",
            postgresql_where=text(RUNNING_CONDITION),
            sqlite_where=text(RUNNING_CONDITION),
        ),
        Index("ix_dossier_open_due", "status_code", "due_at"),
        # Every column the period report reads (sla/reports.py), so that it scans this narrow index
        # instead of the wide rows; its prefix serves the lists by receiving agency and date.
        Index(
            "ix_dossier_report",
            "receiving_agency_id",
            "received_at",
            "finished_at",
            "original_due_at",
            "status_code",
            "procedure_id",
            "channel",
            "outcome",
            "resolution_working_minutes",
            "clock_stopped_since",
        ),
        Index("ix_dossier_finished_at", "finished_at"),
        # The staff search (dossiers/service.py `search`, bench/bench_search.py): an exact code whatever its
        # case; the dossiers an agency received, newest first (the id breaks ties: many online dossiers have no
        # received_at yet), and those it holds but did not receive; the first digits of a phone or an identity
        # number. On PostgreSQL a trigram index on `search_text` serves the name words (ix_dossier_search_trgm,
        # migration 0019: database-specific, see api/db.py).
        Index("ix_dossier_code_lower", text("lower(code)")),
        Index(
            "ix_dossier_holder_received",
            "current_agency_id",
            "received_at",
            "id",
            "receiving_agency_id",
            "status_code",
            "procedure_id",
            postgresql_where=text(HELD_ELSEWHERE_CONDITION),
            sqlite_where=text(HELD_ELSEWHERE_CONDITION),
        ),
        Index(
            "ix_dossier_applicant_phone", "applicant_phone", postgresql_ops={"applicant_phone": "varchar_pattern_ops"}
        ),
        Index(
            "ix_dossier_applicant_id_number",
            "applicant_id_number",
            postgresql_ops={"applicant_id_number": "varchar_pattern_ops"},
        ),
    )

    id: int | None = sqlmodel.Field(default=None, primary_key=True)
    code: str = sqlmodel.Field(max_length=80, unique=True, index=True)
    procedure_id: int = sqlmodel.Field(foreign_key="procedure.id", index=True)
    procedure_code: str = sqlmodel.Field(max_length=64, index=True)
    receiving_agency_id: int = sqlmodel.Field(foreign_key="agency.id")
    current_agency_id: int | None = sqlmodel.Field(default=None, foreign_key="agency.id")
    channel: str = sqlmodel.Field(max_length=8)
    applicant_name: str = sqlmodel.Field(max_length=200)
    applicant_id_number: str | None = sqlmodel.Field(default=None, max_length=20)
    applicant_phone: str | None = sqlmodel.Field(default=None, max_length=20)
    applicant_address: str | None = sqlmodel.Field(default=None, max_length=500)
    applicant_email: str | None = sqlmodel.Field(default=None, max_length=254)
    contact_consent: bool = sqlmodel.Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false())
    )
    """The applicant agreed at intake to be told of the dossier's progress (notify/: no consent, no message)."""
    preferred_channel: str | None = sqlmodel.Field(default=None, max_length=8)
    """sms, zalo (to the phone) or email (to applicant_email)."""
    search_text: str = sqlmodel.Field(max_length=400)
    submitted_at: datetime | None = sqlmodel.Field(default=None, sa_column=_instant())
    received_at: datetime | None = sqlmodel.Field(default=None, sa_column=_instant())
    clock_start_at: datetime | None = sqlmodel.Field(default=None, sa_column=_instant())
    status_code: int
    status: str = sqlmodel.Field(max_length=24)
    original_due_at: datetime | None = sqlmodel.Field(default=None, sa_column=_instant())
    rescheduled_due_at: datetime | None = sqlmodel.Field(default=None, sa_column=_instant())
    due_at: datetime | None = sqlmodel.Field(default=None, sa_column=_instant())
    finished_at: datetime | None = sqlmodel.Field(default=None, sa_column=_instant())
    outcome: str | None = sqlmodel.Field(default=None, max_length=12)
    supplement_count: int = 0
    paused_minutes: int = 0
    clock_stopped_since: datetime | None = sqlmodel.Field(default=None, sa_column=_instant())
    """Since when the clock stands still (waiting for a supplement or an obligation, an excluded step); else None."""
    resolution_working_minutes: int | None = None
    event_count: int = 0
    derived_at: datetime = sqlmodel.Field(default_factory=utc_now, sa_column=_instant(nullable=False))
    calendar_version: str = sqlmodel.Field(default="", max_length=32)


class DossierEvent(SQLModel, table=True):
    """Append-only: one row per thing that happened to a dossier, in order."""

    __tablename__ = "dossier_event"
    __table_args__ = (
        UniqueConstraint("dossier_id", "seq"),
        # The period report's integrity counts (sla/reports.py): the few back-dated events and late
        # apologies by the instant they were recorded, without scanning the whole event log.
        Index(
            "ix_dossier_event_flagged",
            "recorded_at",
            postgresql_where=text(FLAGGED_EVENT_CONDITION),
            sqlite_where=text(FLAGGED_EVENT_CONDITION),
        ),
    )

    id: int | None = sqlmodel.Field(default=None, primary_key=True)
    dossier_id: int = sqlmodel.Field(sa_column=Column(Integer, ForeignKey("dossier.id"), nullable=False))
    seq: int
    type: str = sqlmodel.Field(max_length=24)
    at: datetime = sqlmodel.Field(sa_column=_instant(nullable=False))
    recorded_at: datetime = sqlmodel.Field(default_factory=utc_now, sa_column=_instant(nullable=False))
    actor: str = sqlmodel.Field(max_length=64)
    agency_id: int | None = sqlmodel.Field(default=None, foreign_key="agency.id")
    from_agency_id: int | None = sqlmodel.Field(default=None, foreign_key="agency.id")
    to_agency_id: int | None = sqlmodel.Field(default=None, foreign_key="agency.id")
    reason: str | None = sqlmodel.Field(default=None, max_length=2000)
    result: str | None = sqlmodel.Field(default=None, max_length=2000)
    new_due_at: datetime | None = sqlmodel.Field(default=None, sa_column=_instant())
    payload: dict | None = sqlmodel.Field(default=None, sa_column=Column(JSON))
    idempotency_key: str | None = sqlmodel.Field(default=None, max_length=128)
    backdate_reason: str | None = sqlmodel.Field(default=None, max_length=2000)
    """Set when `at` lies more than the grace before `recorded_at` (docs/event-time.md): a back-dated event."""
    apology_late: bool = sqlmodel.Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false())
    )
    """apology_issued: recorded (server clock) less than one working day before the due it moved."""


class Stage(SQLModel, table=True):
    """Derived: one agency's turn with the dossier, with its own allotment and due (form 06)."""

    __table_args__ = (
        UniqueConstraint("dossier_id", "seq"),
        # The worklist (sla/worklist.py): an agency's open steps in step-due order, read off this index.
        Index(
            "ix_stage_open",
            "agency_id",
            "due_at",
            "dossier_id",
            postgresql_where=text("ended_at IS NULL"),
            sqlite_where=text("ended_at IS NULL"),
        ),
    )

    id: int | None = sqlmodel.Field(default=None, primary_key=True)
    dossier_id: int = sqlmodel.Field(sa_column=Column(Integer, ForeignKey("dossier.id"), nullable=False))
    seq: int
    agency_id: int | None = sqlmodel.Field(default=None, foreign_key="agency.id", index=True)
    name: str = sqlmodel.Field(max_length=500)
    step_seq: int | None = None
    started_at: datetime = sqlmodel.Field(sa_column=_instant(nullable=False))
    allotment_minutes: int | None = None
    due_at: datetime | None = sqlmodel.Field(default=None, sa_column=_instant())
    ended_at: datetime | None = sqlmodel.Field(default=None, sa_column=_instant())
    outcome: str | None = sqlmodel.Field(default=None, max_length=12)
    overrun_minutes: int = 0
    excluded: bool = False


class DueChange(SQLModel, table=True):
    """A due moved by a re-derivation (a calendar or catalogue change), kept in the dossier's history."""

    __tablename__ = "due_change"

    id: int | None = sqlmodel.Field(default=None, primary_key=True)
    dossier_id: int = sqlmodel.Field(sa_column=Column(Integer, ForeignKey("dossier.id"), nullable=False, index=True))
    recorded_at: datetime = sqlmodel.Field(default_factory=utc_now, sa_column=_instant(nullable=False))
    old_due_at: datetime | None = sqlmodel.Field(default=None, sa_column=_instant())
    new_due_at: datetime | None = sqlmodel.Field(default=None, sa_column=_instant())
    reason: str = sqlmodel.Field(max_length=2000)


class DossierCodeCounter(SQLModel, table=True):
    """The last daily sequence given per receiving agency and local day."""

    __tablename__ = "dossier_code_counter"

    agency_id: int = sqlmodel.Field(foreign_key="agency.id", primary_key=True)
    day: date = sqlmodel.Field(primary_key=True)
    last_seq: int = 0


class IdempotencyRecord(SQLModel, table=True):
    """The first answer to a request carrying an `Idempotency-Key`, replayed to its retries."""

    __tablename__ = "idempotency_record"

    key: str = sqlmodel.Field(max_length=128, primary_key=True)
    scope: str = sqlmodel.Field(max_length=200)
    request_hash: str = sqlmodel.Field(max_length=64)
    status_code: int | None = None
    response: dict | None = sqlmodel.Field(default=None, sa_column=Column(JSON))
    created_at: datetime = sqlmodel.Field(default_factory=utc_now, sa_column=_instant(nullable=False))


class DossierComponent(SQLModel, table=True):
    """A document received with a dossier (checked against its procedure version's list at intake)."""

    __tablename__ = "dossier_component"
    __table_args__ = (
        UniqueConstraint("dossier_id", "seq"),
        CheckConstraint("form IN ('original', 'copy', 'certified_copy')", name="form_valid"),
        CheckConstraint("copies >= 1", name="copies_positive"),
    )

    id: int | None = sqlmodel.Field(default=None, primary_key=True)
    dossier_id: int = sqlmodel.Field(
        sa_column=Column(Integer, ForeignKey("dossier.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    seq: int
    component_seq: int = sqlmodel.Field(description="the `seq` of the version's component (procedure_component)")
    name: str = sqlmodel.Field(max_length=500)
    form: str = sqlmodel.Field(max_length=16)
    copies: int
