"""The history import's tables: each import, and what each imported record said beside what we derived."""

from datetime import datetime

import sqlmodel
from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, text
from sqlmodel import SQLModel

from kernel.db import UTCDateTime, utc_now


class ExchangeImport(SQLModel, table=True):
    """One file of national records taken in (`motcua exchange import`, POST /api/v1/exchange/import)."""

    __tablename__ = "exchange_import"

    id: int | None = sqlmodel.Field(default=None, primary_key=True)
    started_at: datetime = sqlmodel.Field(default_factory=utc_now, sa_column=Column(UTCDateTime(), nullable=False))
    finished_at: datetime | None = sqlmodel.Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    actor: str = sqlmodel.Field(max_length=64)
    file_name: str = sqlmodel.Field(max_length=255)
    file_format: str = sqlmodel.Field(max_length=8)
    skip_bad: bool = False
    records: int = 0
    written: int = 0
    rejected: int = 0
    findings: int = 0
    """Dossiers whose record disagrees with what motcua derived (appointment or status)."""
    problems: list | None = sqlmodel.Field(default=None, sa_column=Column(JSON, nullable=True))
    """The first problems of the bad records (`Problem.as_dict`: line, code, field, message, message_id, params),
    for the import's page; the whole list went back with the answer (or into the rejects file)."""


class ImportedDossier(SQLModel, table=True):
    """A dossier taken in from another system: its external code and what its record said, beside ours."""

    __tablename__ = "imported_dossier"
    __table_args__ = (
        # the import page lists the disagreements of one import, in file order
        Index("ix_imported_dossier_findings", "import_id", "line", postgresql_where=text("finding"),
              sqlite_where=text("finding")),  # fmt: skip
    )

    dossier_id: int = sqlmodel.Field(
        sa_column=Column(Integer, ForeignKey("dossier.id", ondelete="CASCADE"), primary_key=True)
    )
    import_id: int = sqlmodel.Field(foreign_key="exchange_import.id", index=True)
    line: int
    """The record's line in the file (JSON lines, CSV: the file's line; XLSX: the sheet's row)."""
    external_code: str = sqlmodel.Field(max_length=80, unique=True)
    """MaHoSo in the system that wrote the record: kept as it was, whether or not it became our code."""
    their_appointment_at: datetime | None = sqlmodel.Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    """NgayHenTra: the appointment the other system told at receipt."""
    our_appointment_at: datetime | None = sqlmodel.Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    """The due our clock gives at receipt (the original due before any pause or supplement)."""
    their_status_code: int
    our_status_code: int
    """The status our replay derived at the import (the dossier's status may move on after it)."""
    working_days_apart: int | None = None
    """Their appointment's working day minus ours, by our calendar (0: the same day, another hour)."""
    explaining_days: list | None = sqlmodel.Field(default=None, sa_column=Column(JSON, nullable=True))
    """The days between that our calendar does not count as Monday–Friday: [[yyyy-mm-dd, off|workday, reason]]."""
    finding: bool = False
    """The record disagrees with what we derived: the appointment (to the minute) or the status."""
