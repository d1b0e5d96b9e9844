"""The complaints register (phản ánh, kiến nghị — PAKN). The event log is the truth; the complaint's
status, instants and dues are derived from it (complaints/clocks.py)."""

from datetime import datetime

import sqlmodel
from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, Integer, UniqueConstraint, text
from sqlmodel import SQLModel

from kernel.db import UTCDateTime

CHANNELS = ("portal", "hotline", "letter", "email", "in_person")
CATEGORIES = ("regulations", "staff_conduct", "other")
STATUSES = ("received", "supplement_requested", "refused", "answered", "published")
OPEN_CONDITION = "next_due_at IS NOT NULL"


def _instant(*, nullable: bool = True) -> Column:
    return Column(UTCDateTime(), nullable=nullable)


class Complaint(SQLModel, table=True):
    __table_args__ = (
        CheckConstraint("channel IN ('portal', 'hotline', 'letter', 'email', 'in_person')", name="channel_valid"),
        CheckConstraint("category IN ('regulations', 'staff_conduct', 'other')", name="category_valid"),
        CheckConstraint(
            "status IN ('received', 'supplement_requested', 'refused', 'answered', 'published')", name="status_valid"
        ),
        CheckConstraint("feedback IN ('liked', 'disliked')", name="feedback_valid"),
        # the figures (complaints/figures.py): a unit's complaints received in a period
        Index("ix_complaint_agency_received", "agency_id", "received_at"),
        Index("ix_complaint_receiving_received", "receiving_agency_id", "received_at"),
        # the queue: open complaints by their next due
        Index(
            "ix_complaint_open_due",
            "agency_id",
            "next_due_at",
            postgresql_where=text(OPEN_CONDITION),
            sqlite_where=text(OPEN_CONDITION),
        ),
    )

    id: int | None = sqlmodel.Field(default=None, primary_key=True)
    receiving_agency_id: int = sqlmodel.Field(foreign_key="agency.id")
    agency_id: int = sqlmodel.Field(foreign_key="agency.id")
    """The unit handling it now (the receiving one until it is transferred); its figures count the complaint."""
    dossier_id: int | None = sqlmodel.Field(
        default=None, sa_column=Column(Integer, ForeignKey("dossier.id"), nullable=True, index=True)
    )
    channel: str = sqlmodel.Field(max_length=12)
    category: str = sqlmodel.Field(max_length=16)
    content: str = sqlmodel.Field(max_length=4000)
    """Personal data (Decree 13/2023): shown only to staff in scope, every read audited."""
    status: str = sqlmodel.Field(max_length=24)
    received_at: datetime = sqlmodel.Field(sa_column=_instant(nullable=False))
    refuse_due_at: datetime = sqlmodel.Field(sa_column=_instant(nullable=False))
    supplement_due_at: datetime = sqlmodel.Field(sa_column=_instant(nullable=False))
    answer_due_at: datetime = sqlmodel.Field(sa_column=_instant(nullable=False))
    publish_due_at: datetime | None = sqlmodel.Field(default=None, sa_column=_instant())
    refused_at: datetime | None = sqlmodel.Field(default=None, sa_column=_instant())
    first_supplement_at: datetime | None = sqlmodel.Field(default=None, sa_column=_instant())
    answered_at: datetime | None = sqlmodel.Field(default=None, sa_column=_instant())
    published_at: datetime | None = sqlmodel.Field(default=None, sa_column=_instant())
    next_due_at: datetime | None = sqlmodel.Field(default=None, sa_column=_instant())
    """The due of what is owed next (the answer, then its publication); None once refused or published."""
    feedback: str | None = sqlmodel.Field(default=None, max_length=8)
    """The citizen's like or dislike of the published answer."""
    feedback_at: datetime | None = sqlmodel.Field(default=None, sa_column=_instant())
    repeated_at: datetime | None = sqlmodel.Field(default=None, sa_column=_instant())
    """When the citizen complained again of the same matter (the answer did not settle it)."""
    transfer_count: int = 0
    event_count: int = 0
    calendar_version: str = sqlmodel.Field(default="", max_length=32)


class ComplaintEvent(SQLModel, table=True):
    """Append-only: one row per thing that happened to a complaint, in order."""

    __tablename__ = "complaint_event"
    __table_args__ = (UniqueConstraint("complaint_id", "seq"),)

    id: int | None = sqlmodel.Field(default=None, primary_key=True)
    complaint_id: int = sqlmodel.Field(
        sa_column=Column(Integer, ForeignKey("complaint.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    seq: int
    type: str = sqlmodel.Field(max_length=24)
    at: datetime = sqlmodel.Field(sa_column=_instant(nullable=False))
    recorded_at: datetime = sqlmodel.Field(sa_column=_instant(nullable=False))
    actor: str = sqlmodel.Field(max_length=64)
    from_agency_id: int | None = sqlmodel.Field(default=None, foreign_key="agency.id")
    to_agency_id: int | None = sqlmodel.Field(default=None, foreign_key="agency.id")
    note: str | None = sqlmodel.Field(default=None, max_length=4000)
