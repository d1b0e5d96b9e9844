"""Notification tables: the message outbox with its delivery log, staff notifications (the inbox), the
templates an administrator edits, and the warning and escalation rules.

An outbox row is written in the transaction of the event that caused it and sent later by the
dispatcher (notify/dispatcher.py); its `key` (dossier, cause, channel) is unique, so one cause never
makes two messages, and the providers receive it too, so a resend after a crash is recognised.
"""

from datetime import datetime

import sqlmodel
from sqlalchemy import JSON, CheckConstraint, Column, ForeignKey, Index, Integer, Text, UniqueConstraint, text
from sqlmodel import SQLModel

from kernel.db import UTCDateTime, utc_now

CHANNELS = ("sms", "zalo", "email")
PENDING_CONDITION = "status = 'pending'"


def _instant(*, nullable: bool = True, index: bool = False) -> Column:
    return Column(UTCDateTime(), nullable=nullable, index=index)


class OutboxMessage(SQLModel, table=True):
    """One message to one recipient (a citizen, or a staff member's digest), sent by the dispatcher."""

    __tablename__ = "notify_message"
    __table_args__ = (
        CheckConstraint("channel IN ('sms', 'zalo', 'email')", name="channel_valid"),
        CheckConstraint("audience IN ('citizen', 'staff')", name="audience_valid"),
        CheckConstraint("status IN ('pending', 'sent', 'gave_up')", name="status_valid"),
        # the dispatcher's queue: pending messages in the order they may go
        Index(
            "ix_notify_message_pending",
            "next_attempt_at",
            "id",
            postgresql_where=text(PENDING_CONDITION),
            sqlite_where=text(PENDING_CONDITION),
        ),
    )

    id: int | None = sqlmodel.Field(default=None, primary_key=True)
    key: str = sqlmodel.Field(max_length=200, unique=True)
    """(dossier, cause, channel): one message per cause and channel, also sent to the provider."""
    dossier_id: int | None = sqlmodel.Field(
        default=None, sa_column=Column(Integer, ForeignKey("dossier.id"), nullable=True, index=True)
    )
    cause: str = sqlmodel.Field(max_length=64)
    kind: str = sqlmodel.Field(max_length=32)
    channel: str = sqlmodel.Field(max_length=8)
    audience: str = sqlmodel.Field(max_length=8)
    user_id: int | None = sqlmodel.Field(default=None, foreign_key="app_user.id")
    agency_id: int | None = sqlmodel.Field(default=None, foreign_key="agency.id")
    """The agency whose working calendar holds a staff message until its working time."""
    address: str = sqlmodel.Field(max_length=254)
    """A phone (sms, zalo) or an email: personal data, never logged, never shown by the lists."""
    subject: str | None = sqlmodel.Field(default=None, max_length=300)
    body: str = sqlmodel.Field(sa_column=Column(Text, nullable=False))
    status: str = sqlmodel.Field(default="pending", max_length=8)
    attempts: int = 0
    next_attempt_at: datetime = sqlmodel.Field(sa_column=_instant(nullable=False))
    created_at: datetime = sqlmodel.Field(default_factory=utc_now, sa_column=_instant(nullable=False))
    sent_at: datetime | None = sqlmodel.Field(default=None, sa_column=_instant())


class Delivery(SQLModel, table=True):
    """The delivery log: one row per attempt to send a message (sent, failed with the provider's answer, gave up)."""

    __tablename__ = "notify_delivery"
    __table_args__ = (CheckConstraint("outcome IN ('sent', 'failed', 'gave_up', 'held')", name="outcome_valid"),)

    id: int | None = sqlmodel.Field(default=None, primary_key=True)
    message_id: int = sqlmodel.Field(
        sa_column=Column(Integer, ForeignKey("notify_message.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    attempt: int
    at: datetime = sqlmodel.Field(default_factory=utc_now, sa_column=_instant(nullable=False))
    outcome: str = sqlmodel.Field(max_length=8)
    answer: str | None = sqlmodel.Field(default=None, max_length=1000)
    """The provider's answer (status and text), or why the message was held or given up."""


class StaffNotification(SQLModel, table=True):
    """A warning, reminder or escalation in a staff member's inbox; shown from `visible_at` (its working time)."""

    __tablename__ = "notify_notification"
    __table_args__ = (
        Index("ix_notify_notification_inbox", "user_id", "read_at", "visible_at"),
        CheckConstraint(
            "kind IN ('stage_warning', 'dossier_warning', 'apology_owed', 'escalation')", name="kind_valid"
        ),
    )

    id: int | None = sqlmodel.Field(default=None, primary_key=True)
    key: str = sqlmodel.Field(max_length=200, unique=True)
    """The rule's cause and the user: one notification per cause and person, whatever how often rules run."""
    user_id: int = sqlmodel.Field(foreign_key="app_user.id")
    dossier_id: int = sqlmodel.Field(sa_column=Column(Integer, ForeignKey("dossier.id"), nullable=False, index=True))
    kind: str = sqlmodel.Field(max_length=16)
    level: int | None = None
    """escalation: 1 the unit's managers, 2 the centre's director (the rule's ladder)."""
    agency_id: int | None = sqlmodel.Field(default=None, foreign_key="agency.id")
    """The agency the rule is about (the stage's or the holder)."""
    due_at: datetime | None = sqlmodel.Field(default=None, sa_column=_instant())
    """The due the rule measured against, as it was when it fired."""
    created_at: datetime = sqlmodel.Field(default_factory=utc_now, sa_column=_instant(nullable=False))
    visible_at: datetime = sqlmodel.Field(sa_column=_instant(nullable=False))
    read_at: datetime | None = sqlmodel.Field(default=None, sa_column=_instant())


class MessageTemplate(SQLModel, table=True):
    """An administrator's text for one kind of message on one channel; a kind without a row uses the default."""

    __tablename__ = "notify_template"
    __table_args__ = (CheckConstraint("channel IN ('sms', 'zalo', 'email')", name="channel_valid"),)

    kind: str = sqlmodel.Field(max_length=32, primary_key=True)
    channel: str = sqlmodel.Field(max_length=8, primary_key=True)
    subject: str | None = sqlmodel.Field(default=None, max_length=300)
    body: str = sqlmodel.Field(max_length=2000)
    updated_at: datetime = sqlmodel.Field(default_factory=utc_now, sa_column=_instant(nullable=False))
    updated_by: str = sqlmodel.Field(max_length=64)


class NotifyRule(SQLModel, table=True):
    """Warning and escalation settings for an agency (and the agencies below it), a procedure, or both.

    Empty fields inherit: defaults ← the agency's ancestors, top down ← the agency ← the procedure's rule
    ← the rule for this agency and procedure (notify/rules.py `effective_rules`).
    """

    __tablename__ = "notify_rule"
    __table_args__ = (UniqueConstraint("agency_id", "procedure_code"),)

    id: int | None = sqlmodel.Field(default=None, primary_key=True)
    agency_id: int | None = sqlmodel.Field(default=None, foreign_key="agency.id")
    procedure_code: str | None = sqlmodel.Field(default=None, max_length=64)
    warn_share: float | None = None
    warn_working_hours_before: float | None = None
    apology_reminder: bool | None = None
    apology_lead_working_hours: float | None = None
    supplement_reminder_working_days: float | None = None
    escalation: list | None = sqlmodel.Field(default=None, sa_column=Column(JSON))
    updated_at: datetime = sqlmodel.Field(default_factory=utc_now, sa_column=_instant(nullable=False))
    updated_by: str = sqlmodel.Field(max_length=64)
