"""The exchange's tables: the change counter (the watermark), and each dossier's and step's sync state."""

from datetime import datetime

import sqlmodel
from sqlalchemy import BigInteger, CheckConstraint, Column, ForeignKey, Index, Integer, text
from sqlmodel import SQLModel

from kernel.db import UTCDateTime

SYNC_STATES = ("synced", "failed")
FAILED_CONDITION = "state = 'failed'"
GATEWAY_CONDITION = "import_id IS NULL"


class ChangeCounter(SQLModel, table=True):
    """One row: the last change id given (exchange.service.stamp_changes locks it while it gives more)."""

    __tablename__ = "exchange_change_counter"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: int = sqlmodel.Field(default=1, primary_key=True)
    last_change_id: int = sqlmodel.Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))


class DossierSync(SQLModel, table=True):
    """A dossier's record at the national gateway: the change it was last accepted at, or why it failed."""

    __tablename__ = "exchange_dossier_sync"
    __table_args__ = (
        CheckConstraint(f"state IN {SYNC_STATES}", name="state_valid"),
        Index("ix_exchange_dossier_sync_failed", "next_attempt_at", postgresql_where=text(FAILED_CONDITION),
              sqlite_where=text(FAILED_CONDITION)),  # fmt: skip
        # "has the gateway ever accepted a dossier?" (1.4 is missing data until it has), past the imported ones
        Index("ix_exchange_dossier_sync_gateway", "first_synced_at", postgresql_where=text(GATEWAY_CONDITION),
              sqlite_where=text(GATEWAY_CONDITION)),  # fmt: skip
    )

    dossier_id: int = sqlmodel.Field(
        sa_column=Column(Integer, ForeignKey("dossier.id", ondelete="CASCADE"), primary_key=True)
    )
    synced_change_id: int = sqlmodel.Field(default=0, sa_column=Column(BigInteger, nullable=False))
    """The change id whose record the gateway accepted (0: never)."""
    state: str = sqlmodel.Field(max_length=8)
    attempts: int = 0
    """Failed attempts since the last success."""
    next_attempt_at: datetime | None = sqlmodel.Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    last_error: str | None = sqlmodel.Field(default=None, max_length=2000)
    """The gateway's answer (or the transport's error) to the last failed attempt."""
    last_http_status: int | None = None
    first_synced_at: datetime | None = sqlmodel.Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    synced_at: datetime | None = sqlmodel.Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    import_id: int | None = sqlmodel.Field(
        default=None, sa_column=Column(Integer, ForeignKey("exchange_import.id"), nullable=True)
    )
    """Synced by a history import: the record came from the national system (the import is the evidence), not
    from the gateway's answer. None: the gateway accepted it."""


class StepSync(SQLModel, table=True):
    """A process step (one event of a dossier) the gateway accepted, with a digest of what was sent: a step
    whose content changed (a stage due moved by a re-derivation) is sent again."""

    __tablename__ = "exchange_step_sync"

    dossier_id: int = sqlmodel.Field(
        sa_column=Column(Integer, ForeignKey("dossier.id", ondelete="CASCADE"), primary_key=True)
    )
    seq: int = sqlmodel.Field(primary_key=True)
    digest: str = sqlmodel.Field(max_length=64)
    synced_at: datetime = sqlmodel.Field(sa_column=Column(UTCDateTime(), nullable=False))
