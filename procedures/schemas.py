"""Validated shapes of the catalogue on the way in and out of the API and the import files."""

import re
from datetime import date, datetime, time
from typing import Annotated, Generic, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_serializer,
    field_validator,
    model_validator,
)

from procedures.models import (
    AgencyLevel,
    Confidence,
    OnlineLevel,
    ProcedureLevel,
    StepUnit,
    SupplementPolicy,
    TimeUnit,
)
from sla.core.hours import parse_working_hours

PROCEDURE_CODE_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z._-]{2,63}$"
NATIONAL_CODE = re.compile(r"^\d\.\d{6}(\.[0-9A-Z.]+)?$")
AGENCY_CODE_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$"
ROLE_PATTERN = r"^[a-z][a-z_]{1,31}$"

ProcedureCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=PROCEDURE_CODE_PATTERN)]
AgencyCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=AGENCY_CODE_PATTERN)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")
FIRST_YEAR, LAST_YEAR = 1900, 2200


def _not_a_number(value):
    """Pydantic reads a bare number as a Unix timestamp (`as_of=20250101` would be 1970-08-23): refuse it."""
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError("give an ISO 8601 date or instant (2025-04-25, 2025-04-25T09:00), not a number")
    return value


def _in_years(value: date) -> date:
    """Years 1 and 9999 overflow once shifted to UTC or to the next day: keep to years that mean something."""
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"year {value.year} is out of range: dates and instants lie in {FIRST_YEAR}–{LAST_YEAR}")
    return value


IsoDate = Annotated[date, BeforeValidator(_not_a_number), AfterValidator(_in_years)]
"""A date in ISO 8601 (YYYY-MM-DD), in years 1900–2200, in a query or a body."""
IsoDateTime = Annotated[datetime, BeforeValidator(_not_a_number), AfterValidator(_in_years)]
"""An instant in ISO 8601, in years 1900–2200; naive means local time where it is used."""


class ProcessingTime(BaseModel):
    amount: float | None = Field(default=None, ge=0, le=3650)
    unit: TimeUnit

    @model_validator(mode="after")
    def _amount_fits_unit(self) -> "ProcessingTime":
        if self.unit == TimeUnit.SAME_DAY:
            if self.amount not in (None, 0, 1):
                raise ValueError("a same_day processing time takes no amount (or 1)")
            self.amount = None
        elif self.amount is None:
            raise ValueError(f"unit {self.unit.value} needs an amount")
        elif self.unit == TimeUnit.WORKING_DAYS and (self.amount * 2) % 1:
            raise ValueError("working_days are counted in half days: use a multiple of 0.5")
        elif self.unit == TimeUnit.CALENDAR_DAYS and self.amount % 1:
            raise ValueError("calendar_days must be a whole number of days")
        return self


class StepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    agency_code: AgencyCode | None = None
    role: Annotated[str, StringConstraints(pattern=ROLE_PATTERN)] | None = None
    amount: float | None = Field(default=None, ge=0, le=3650)
    unit: StepUnit = StepUnit.WORKING_DAYS
    parallel_group: Annotated[str, StringConstraints(max_length=32)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "StepIn":
        if (self.agency_code is None) == (self.role is None):
            raise ValueError("a step names either an agency_code or a role (e.g. 'receiving'), not both")
        if self.unit in (StepUnit.SAME_DAY, StepUnit.EXCLUDED):
            self.amount = None
        elif self.amount is None:
            raise ValueError(f"a step in {self.unit.value} needs an amount")
        elif self.unit == StepUnit.WORKING_DAYS and (self.amount * 2) % 1:
            raise ValueError("step working_days are allotted in half days: use a multiple of 0.5")
        return self


class StepRead(StepIn):
    seq: int


class ProcedureBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    name_en: Name | None = None
    field_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    level: ProcedureLevel
    agency_code: AgencyCode | None = None
    processing_time: ProcessingTime
    same_day_cutoff: time | None = None
    supplement_policy: SupplementPolicy = SupplementPolicy.RESTART
    online_level: OnlineLevel | None = None
    fee: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None
    effective_to: IsoDate | None = None
    steps: list[StepIn] = Field(default_factory=list, max_length=30)
    confidence: Confidence = Confidence.ILLUSTRATIVE
    source: Annotated[str, StringConstraints(max_length=2000)] | None = None


class ProcedureVersionCreate(ProcedureBase):
    """A new version of an existing procedure, in force from `effective_from`."""

    effective_from: IsoDate

    @model_validator(mode="after")
    def _period(self):
        if self.effective_to is not None and self.effective_to < self.effective_from:
            raise ValueError("effective_to must not be before effective_from")
        return self


class ProcedureCreate(ProcedureVersionCreate):
    code: ProcedureCode


class ProcedureUpdate(BaseModel):
    """Corrections to the version in force that do not change its statutory time."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    name_en: Name | None = None
    online_level: OnlineLevel | None = None
    fee: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None
    supplement_policy: SupplementPolicy | None = None
    confidence: Confidence | None = None
    source: Annotated[str, StringConstraints(max_length=2000)] | None = None


class ProcedureRead(BaseModel):
    code: str
    national_code: bool
    name: str
    name_en: str | None
    field_code: str
    field_name: str
    level: str
    agency_code: str | None
    processing_time: ProcessingTime
    same_day_cutoff: time | None
    supplement_policy: str
    online_level: str | None
    fee: str | None
    fee_vnd: int | None
    effective_from: date
    effective_to: date | None
    steps: list[StepRead]
    confidence: str
    source: str | None

    @field_serializer("same_day_cutoff")
    def _hh_mm(self, value: time | None) -> str | None:
        return value.strftime("%H:%M") if value else None


class AgencyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: AgencyCode
    name: Name
    parent_code: AgencyCode | None = None
    level: AgencyLevel
    working_hours: str | None = None
    active: bool = True
    confidence: Confidence = Confidence.ILLUSTRATIVE
    source: str | None = None

    @field_validator("working_hours")
    @classmethod
    def _hours(cls, value: str | None) -> str | None:
        if value is not None:
            parse_working_hours(value)
        return value


class AgencyRead(BaseModel):
    code: str
    name: str
    parent_code: str | None
    level: str
    working_hours: str | None
    active: bool
    confidence: str
    source: str | None


class FieldIn(BaseModel):
    code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    name: Name


class FieldRead(FieldIn):
    procedure_count: int = 0


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int
