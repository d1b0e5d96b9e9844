"""Catalogue tables: agencies, fields (lĩnh vực), procedure versions and their steps."""

from datetime import date, datetime, time
from enum import StrEnum

import sqlmodel
from sqlalchemy import JSON, CheckConstraint, Column, ForeignKey, Integer, UniqueConstraint
from sqlmodel import SQLModel

from kernel.db import StampRow, UTCDateTime, utc_now  # also sets the naming convention before any table


class AgencyLevel(StrEnum):
    PROVINCE = "province"
    DEPARTMENT = "department"
    COMMUNE = "commune"
    DISTRICT = "district"  # historical: district units ceased on 01/07/2025


class ProcedureLevel(StrEnum):
    PROVINCE = "province"
    DEPARTMENT = "department"
    COMMUNE = "commune"
    DISTRICT = "district"


class TimeUnit(StrEnum):
    WORKING_DAYS = "working_days"
    WORKING_HOURS = "working_hours"
    CALENDAR_DAYS = "calendar_days"
    SAME_DAY = "same_day"


class StepUnit(StrEnum):
    WORKING_DAYS = "working_days"
    WORKING_HOURS = "working_hours"
    SAME_DAY = "same_day"
    EXCLUDED = "excluded"  # time the law does not count: the step pauses the dossier clock


class SupplementPolicy(StrEnum):
    RESTART = "restart"
    RESUME = "resume"


class OnlineLevel(StrEnum):
    FULL = "full"
    PARTIAL = "partial"
    NONE = "none"


class ComponentForm(StrEnum):
    """How a document of a dossier is handed in (thành phần hồ sơ): bản chính, bản sao, bản sao có chứng thực."""

    ORIGINAL = "original"
    COPY = "copy"
    CERTIFIED_COPY = "certified_copy"


class ResultKind(StrEnum):
    """What the citizen gets: a paper document (giấy), or an electronic one (điện tử)."""

    PAPER = "paper"
    ELECTRONIC = "electronic"


class Confidence(StrEnum):
    SOURCED = "sourced"
    PARTIALLY_SOURCED = "partially_sourced"
    ILLUSTRATIVE = "illustrative"


def _in(column: str, enum: type[StrEnum]) -> CheckConstraint:
    values = ", ".join(f"'{member.value}'" for member in enum)
    return CheckConstraint(f"{column} IN ({values})", name=f"{column}_valid")


class Agency(SQLModel, table=True):
    __table_args__ = (_in("level", AgencyLevel),)

    id: int | None = sqlmodel.Field(default=None, primary_key=True)
    code: str = sqlmodel.Field(max_length=64, unique=True, index=True)
    name: str = sqlmodel.Field(max_length=255)
    parent_id: int | None = sqlmodel.Field(default=None, sa_column=Column(Integer, ForeignKey("agency.id"), index=True))
    level: str = sqlmodel.Field(max_length=16)
    working_hours: str | None = sqlmodel.Field(default=None, max_length=64)
    active: bool = True
    confidence: str = sqlmodel.Field(default=Confidence.ILLUSTRATIVE, max_length=24)
    source: str | None = sqlmodel.Field(default=None, max_length=1000)
    e_certified_copies: bool | None = None
    """Whether it offers electronic certified copies (chứng thực bản sao điện tử từ bản chính; Decision 766's
    indicator 4.6); None: never recorded."""
    e_certified_copies_from: date | None = None
    """The day it began offering them (None: not known, counted for every period)."""


class AgencyState(StampRow, table=True):
    """The agency tree's stamp (procedures.service.agency_tree)."""

    __tablename__ = "agency_state"


class CatalogueState(StampRow, table=True):
    """The procedure versions' stamp (procedures.service.procedure_in_force), moved by a trigger at every write
    to `procedure` (migration 0045)."""

    __tablename__ = "catalogue_state"


class Field(SQLModel, table=True):
    id: int | None = sqlmodel.Field(default=None, primary_key=True)
    code: str = sqlmodel.Field(max_length=64, unique=True, index=True)
    name: str = sqlmodel.Field(max_length=255)


class Procedure(SQLModel, table=True):
    """One version of a procedure: the statutory settings in force from `effective_from`."""

    __table_args__ = (
        UniqueConstraint("code", "effective_from"),
        _in("unit", TimeUnit),
        _in("supplement_policy", SupplementPolicy),
        CheckConstraint("effective_to IS NULL OR effective_to >= effective_from", name="period_valid"),
        CheckConstraint("result_kind IS NULL OR result_kind IN ('paper', 'electronic')", name="result_kind_valid"),
    )

    id: int | None = sqlmodel.Field(default=None, primary_key=True)
    code: str = sqlmodel.Field(max_length=64, index=True)
    national_code: bool = True
    name: str = sqlmodel.Field(max_length=1000)
    name_en: str | None = sqlmodel.Field(default=None, max_length=1000)
    search_text: str = sqlmodel.Field(max_length=3000)
    field_id: int = sqlmodel.Field(foreign_key="field.id", index=True)
    level: str = sqlmodel.Field(max_length=16)
    agency_id: int | None = sqlmodel.Field(default=None, foreign_key="agency.id", index=True)
    amount: float | None = None
    unit: str = sqlmodel.Field(max_length=16)
    same_day_cutoff: time | None = None
    supplement_policy: str = sqlmodel.Field(default=SupplementPolicy.RESTART, max_length=8)
    online_level: str | None = sqlmodel.Field(default=None, max_length=8)
    fee: str | None = sqlmodel.Field(default=None, max_length=500)
    fee_vnd: int | None = None
    fee_lines: list | None = sqlmodel.Field(default=None, sa_column=Column(JSON))
    """The fee and charge lines: [{"name", "amount_vnd"}] (phí, lệ phí); None: not recorded, []: no fee."""
    result_kind: str | None = sqlmodel.Field(default=None, max_length=12)
    decision_number: str | None = sqlmodel.Field(default=None, max_length=100)
    """The publication decision (quyết định công bố) of this version: its number and date."""
    decision_date: date | None = None
    legal_basis: str | None = sqlmodel.Field(default=None, max_length=2000)
    legal_basis_effective_date: date | None = None
    """When the legal text this version implements takes effect."""
    published_on: date | None = None
    """When the version was made public (công khai) on the portal and at the desk."""
    effective_from: date
    effective_to: date | None = None
    confidence: str = sqlmodel.Field(default=Confidence.ILLUSTRATIVE, max_length=24)
    source: str | None = sqlmodel.Field(default=None, max_length=2000)
    updated_at: datetime = sqlmodel.Field(default_factory=utc_now, sa_column=Column(UTCDateTime(), nullable=False))


class ProcedureStep(SQLModel, table=True):
    __tablename__ = "procedure_step"
    __table_args__ = (UniqueConstraint("procedure_id", "seq"), _in("unit", StepUnit))

    id: int | None = sqlmodel.Field(default=None, primary_key=True)
    procedure_id: int = sqlmodel.Field(
        sa_column=Column(Integer, ForeignKey("procedure.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    seq: int
    name: str = sqlmodel.Field(max_length=500)
    agency_id: int | None = sqlmodel.Field(default=None, foreign_key="agency.id")
    role: str | None = sqlmodel.Field(default=None, max_length=32)
    amount: float | None = None
    unit: str = sqlmodel.Field(max_length=16)
    parallel_group: str | None = sqlmodel.Field(default=None, max_length=32)


class ProcedureComponent(SQLModel, table=True):
    """One document of a version's dossier (thành phần hồ sơ), in the order the published decision lists them."""

    __tablename__ = "procedure_component"
    __table_args__ = (
        UniqueConstraint("procedure_id", "seq"),
        _in("form", ComponentForm),
        CheckConstraint("copies >= 1", name="copies_positive"),
    )

    id: int | None = sqlmodel.Field(default=None, primary_key=True)
    procedure_id: int = sqlmodel.Field(
        sa_column=Column(Integer, ForeignKey("procedure.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    seq: int
    name: str = sqlmodel.Field(max_length=500)
    form: str = sqlmodel.Field(max_length=16)
    copies: int = 1
    required: bool = True
