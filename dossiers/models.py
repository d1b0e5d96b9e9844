"""Dossier tables. The event log is the truth; dossier and stage columns are derived from it."""

from datetime import date, datetime

import sqlmodel
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    UniqueConstraint,
    false,
    text,
)
from sqlmodel import SQLModel

from kernel.db import UTCDateTime, utc_now
from sla.core.index766 import PAID_ONLINE
from sla.core.lifecycle import RUNNING_STATUSES, Status

CHANNEL_CODES = {"counter": 1, "online": 2, "post": 3}
RUNNING_CONDITION = f"status_code IN ({', '.join(str(int(status)) for status in RUNNING_STATUSES)})"
"""The partial indexes' condition (ix_dossier_running, …): the statuses inline, as the queries state them."""
HELD_ELSEWHERE_CONDITION = "current_agency_id <> receiving_agency_id"  # forwarded: held by another agency
FLAGGED_EVENT_CONDITION = "backdate_reason IS NOT NULL OR apology_late"  # the integrity figures' events
PAYMENT_CHANNELS = ("dvcqg", "gateway", "cash", "bank")  # national platform, provincial gateway, at the desk, bank
PAID_ONLINE_CONDITION = f"(index_flags & {PAID_ONLINE}) <> 0"


def _instant(*, nullable: bool = True, index: bool = False) -> Column:
    return Column(UTCDateTime(), nullable=nullable, index=index)


class Dossier(SQLModel, table=True):
    __table_args__ = (
        CheckConstraint("channel IN ('counter', 'online', 'post')", name="channel_valid"),
        CheckConstraint(f"status_code BETWEEN {int(min(Status))} AND {int(max(Status))}", name="status_code_valid"),
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
            "supplement_count",
            "index_flags",
        ),
        # The scorecard's 3.5b (sla/scorecard.py): which procedures an agency's dossiers were paid online for.
        Index(
            "ix_dossier_paid_online",
            "receiving_agency_id",
            "received_at",
            "procedure_id",
            postgresql_where=text(PAID_ONLINE_CONDITION),
            sqlite_where=text(PAID_ONLINE_CONDITION),
        ),
        Index("ix_dossier_finished_at", "finished_at"),
        # The staff search (dossiers/search.py `search`, bench/bench_search.py): an exact code whatever its
        # case; the dossiers an agency received, newest first (the id breaks ties: many online dossiers have no
        # received_at yet), and those it holds but did not receive; the first digits of a phone or an identity
        # number. On PostgreSQL the name's key and its terms (words and word pairs) of `search_text` serve the
        # name (ix_dossier_name_key, ix_dossier_name_terms, migrations 0023 and 0046: database-specific, see
        # api/db.py).
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
    electronic_result: bool | None = None
    """An electronic result file attached (at `resolved` or `result_returned`); None: not recorded."""
    vneid_verified: bool | None = None
    """Filed online by an account verified with VNeID; None: not recorded."""
    population_ref: str | None = sqlmodel.Field(default=None, max_length=64)
    """The national population database reference of the applicant's record, when it was looked up."""
    index_flags: int = sqlmodel.Field(default=0, sa_column=Column(SmallInteger, nullable=False, server_default="0"))
    """Derived: the Decision 766 facts of the dossier as bits (sla.core.index766.dossier_flags), for the scorecard."""


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
    digitised: bool | None = None
    """Scanned or received as an electronic document; None: not recorded (the other flags alike)."""
    reused: bool | None = None
    """Taken from an earlier digitised result (tái sử dụng)."""
    from_citizen_store: bool | None = None
    """Taken from the citizen's personal data store (kho dữ liệu cá nhân)."""
    from_national_db: bool | None = None
    """Taken from a national database (population, land, business registers)."""


class DossierFee(SQLModel, table=True):
    """A fee or charge line of a dossier, and how and when it was paid (unpaid: no channel, no instant)."""

    __tablename__ = "dossier_fee"
    __table_args__ = (
        UniqueConstraint("dossier_id", "seq"),
        CheckConstraint(
            "payment_channel IS NULL OR payment_channel IN ('dvcqg', 'gateway', 'cash', 'bank')",
            name="payment_channel_valid",
        ),
        CheckConstraint("amount_vnd >= 0", name="amount_not_negative"),
    )

    id: int | None = sqlmodel.Field(default=None, primary_key=True)
    dossier_id: int = sqlmodel.Field(
        sa_column=Column(Integer, ForeignKey("dossier.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    seq: int
    name: str = sqlmodel.Field(max_length=500)
    amount_vnd: int
    payment_channel: str | None = sqlmodel.Field(default=None, max_length=8)
    paid_at: datetime | None = sqlmodel.Field(default=None, sa_column=_instant())
    recorded_at: datetime = sqlmodel.Field(default_factory=utc_now, sa_column=_instant(nullable=False))


class DossierChange(SQLModel, table=True):
    """The outbox of dossier changes: one row per intake, event or re-derivation, written in the same transaction.

    Those who follow dossiers (the national exchange, exchange/) read it. `change_id` is given after the
    commit, in commit-safe order (exchange.service.stamp_changes): the watermark of a reader.
    """

    __tablename__ = "dossier_change"

    id: int | None = sqlmodel.Field(default=None, primary_key=True)
    dossier_id: int = sqlmodel.Field(
        sa_column=Column(Integer, ForeignKey("dossier.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    change_id: int | None = sqlmodel.Field(default=None, sa_column=Column(BigInteger, nullable=True, unique=True))
    kind: str = sqlmodel.Field(max_length=16)
    """intake | event | rebuild | backfill (the dossiers there were when the outbox began)"""
    recorded_at: datetime = sqlmodel.Field(default_factory=utc_now, sa_column=_instant(nullable=False))


RATING_LEVELS = ("very_satisfied", "satisfied", "dissatisfied")
RATING_SOURCES = ("lookup", "kiosk", "paper")


class DossierRating(SQLModel, table=True):
    """The citizen's one rating of a dossier, given after the result was returned (dossiers/ratings.py).

    Anonymous to the staff: read only as counts per unit, procedure and period. `agency_id` and
    `procedure_id` are the dossier's receiving agency and procedure, copied so that the counts are
    read off one index without touching the dossiers."""

    __tablename__ = "dossier_rating"
    __table_args__ = (
        CheckConstraint("rating IN ('very_satisfied', 'satisfied', 'dissatisfied')", name="rating_valid"),
        CheckConstraint("source IN ('lookup', 'kiosk', 'paper')", name="source_valid"),
        Index("ix_dossier_rating_agency_rated", "agency_id", "rated_at", "procedure_id", "rating"),
    )

    id: int | None = sqlmodel.Field(default=None, primary_key=True)
    dossier_id: int = sqlmodel.Field(
        sa_column=Column(Integer, ForeignKey("dossier.id", ondelete="CASCADE"), nullable=False, unique=True)
    )
    agency_id: int = sqlmodel.Field(foreign_key="agency.id")
    procedure_id: int = sqlmodel.Field(foreign_key="procedure.id")
    rating: str = sqlmodel.Field(max_length=16)
    indices: dict | None = sqlmodel.Field(default=None, sa_column=Column(JSON))
    """The 11-index form when given: {"1": 2, "2": 1, …} (index number → points, dossiers/ratings.py INDICES)."""
    index_points: int | None = None
    index_max_points: int | None = None
    source: str = sqlmodel.Field(max_length=8)
    rated_at: datetime = sqlmodel.Field(sa_column=_instant(nullable=False))
    recorded_by: str | None = sqlmodel.Field(default=None, max_length=64)
    """The clerk who typed in a paper form; None when the citizen rated (lookup, kiosk)."""
