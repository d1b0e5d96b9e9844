"""Validated shapes of the catalogue on the way in and out of the API and the import files."""

import re
from datetime import date, time
from typing import Annotated, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_serializer,
    field_validator,
    model_validator,
)
from unidecode import unidecode

from kernel.schemas import MULTILINE, Input, IsoDate, Lines
from procedures.models import (
    AgencyLevel,
    ComponentForm,
    Confidence,
    OnlineLevel,
    ProcedureLevel,
    ResultKind,
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


class ProcessingTime(Input):
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


class StepIn(Input):
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
    checks_text: ClassVar[bool] = False

    seq: int


MAX_COMPONENTS = 50
MAX_COPIES = 100


class ComponentIn(Input):
    """One document of a version's dossier (thành phần hồ sơ), as its published decision lists it."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    form: ComponentForm = Field(
        default=ComponentForm.ORIGINAL,
        description="original (bản chính), copy (bản sao) or certified_copy (bản sao có chứng thực)",
    )
    copies: int = Field(default=1, ge=1, le=MAX_COPIES, description="how many of it (số lượng)")
    required: bool = Field(default=True, description="false: only in some cases (e.g. 'if represented')")


class ComponentRead(ComponentIn):
    checks_text: ClassVar[bool] = False

    seq: int


def component_key(name: str) -> str:
    """How component names are compared: case, accents and spacing aside (`fold`'s rule)."""
    return " ".join(unidecode(name).lower().split())


class FeeLineIn(Input):
    """One fee or charge of a procedure version (phí, lệ phí) and its amount."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    amount_vnd: int = Field(ge=0, le=10_000_000_000, description="in đồng; 0 for a line that is free")


MAX_FEE_LINES = 20


class Publication(Input):
    """The publication facts of a version (Decision 766 indicators 1.1–1.3)."""

    decision_number: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None = (
        Field(default=None, description="the publication decision (quyết định công bố), e.g. 1594/QĐ-UBND")
    )
    decision_date: IsoDate | None = Field(default=None, description="the decision's date")
    legal_basis: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)] | None = (
        Field(default=None, description="the legal text(s) the version implements")
    )
    legal_basis_effective_date: IsoDate | None = Field(default=None, description="when that legal basis takes effect")
    published_on: IsoDate | None = Field(default=None, description="when the version was made public (công khai)")

    @model_validator(mode="after")
    def _dates_in_order(self):
        if self.decision_date and self.published_on and self.published_on < self.decision_date:
            raise ValueError("published_on (made public) must not be before decision_date (the decision it publishes)")
        return self


class ProcedureBase(Publication):
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
    fee_lines: list[FeeLineIn] | None = Field(
        default=None, max_length=MAX_FEE_LINES, description="the fee lines ([] : no fee; absent: not recorded)"
    )
    result_kind: ResultKind | None = Field(default=None, description="paper or electronic: what the citizen gets")
    effective_to: IsoDate | None = None
    steps: list[StepIn] = Field(default_factory=list, max_length=30)
    components: list[ComponentIn] = Field(
        default_factory=list, max_length=MAX_COMPONENTS, description="the dossier's documents, in order"
    )
    confidence: Confidence = Confidence.ILLUSTRATIVE
    source: Annotated[str, StringConstraints(max_length=2000), MULTILINE] | None = None


    @field_validator("components")
    @classmethod
    def _distinct_components(cls, components: list[ComponentIn]) -> list[ComponentIn]:
        seen: set[str] = set()
        for component in components:
            key = component_key(component.name)
            if key in seen:
                raise ValueError(f"component {component.name!r} is listed twice; give each document once")
            seen.add(key)
        return components


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


class ProcedureUpdate(Publication):
    """Corrections to the version in force that do not change its statutory time (and its publication facts)."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    name_en: Name | None = None
    online_level: OnlineLevel | None = None
    fee: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None
    fee_lines: list[FeeLineIn] | None = Field(
        default=None, max_length=MAX_FEE_LINES, description="the fee lines ([] : no fee; null: not recorded)"
    )
    result_kind: ResultKind | None = None
    supplement_policy: SupplementPolicy | None = None
    confidence: Confidence | None = None
    source: Annotated[str, StringConstraints(max_length=2000), MULTILINE] | None = None


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
    fee_lines: list[FeeLineIn] | None = None
    result_kind: str | None = None
    decision_number: str | None = None
    decision_date: date | None = None
    legal_basis: str | None = None
    legal_basis_effective_date: date | None = None
    published_on: date | None = None
    effective_from: date
    effective_to: date | None
    steps: list[StepRead]
    components: list[ComponentRead] = []
    confidence: str
    source: str | None

    @field_serializer("same_day_cutoff")
    def _hh_mm(self, value: time | None) -> str | None:
        return value.strftime("%H:%M") if value else None


class AgencyIn(Input):
    model_config = ConfigDict(extra="forbid")

    code: AgencyCode
    name: Name
    parent_code: AgencyCode | None = None
    level: AgencyLevel
    working_hours: str | None = None
    active: bool = True
    confidence: Confidence = Confidence.ILLUSTRATIVE
    source: Lines | None = None
    e_certified_copies: bool | None = Field(
        default=None, description="offers electronic certified copies (Decision 766, 4.6); left out: kept as it is"
    )
    e_certified_copies_from: IsoDate | None = Field(default=None, description="the day it began offering them")

    @field_validator("working_hours")
    @classmethod
    def _hours(cls, value: str | None) -> str | None:
        if value is not None:
            parse_working_hours(value)
        return value

    @model_validator(mode="after")
    def _certified_copies(self):
        check_certified_copies(self.e_certified_copies, self.e_certified_copies_from)
        return self


def check_certified_copies(offers: bool | None, since: date | None) -> None:
    """A start day belongs to an agency that offers electronic certified copies."""
    if since is not None and offers is not True:
        raise ValueError(
            "e_certified_copies_from is the day the agency began offering electronic certified copies: "
            "give it with e_certified_copies true"
        )


class AgencyUpdate(Input):
    """What `PATCH /api/v1/agencies/{code}` records of an agency: its Decision 766 settings. A field left out
    stays as it is; null clears it (e_certified_copies null: never recorded, and 4.6 is missing data again)."""

    model_config = ConfigDict(extra="forbid")

    e_certified_copies: bool | None = Field(
        default=None,
        description="whether it offers electronic certified copies (chứng thực bản sao điện tử; indicator 4.6)",
    )
    e_certified_copies_from: IsoDate | None = Field(
        default=None, description="the day it began offering them (left out or null: counted for every period)"
    )

    @model_validator(mode="after")
    def _something(self):
        if not self.model_fields_set:
            raise ValueError("give e_certified_copies (true, false or null) and/or e_certified_copies_from")
        return self


class AgencyRead(BaseModel):
    code: str
    name: str
    parent_code: str | None
    level: str
    working_hours: str | None
    active: bool
    confidence: str
    source: str | None
    e_certified_copies: bool | None = None
    e_certified_copies_from: date | None = None


class FieldIn(Input):
    code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    name: Name


class FieldRead(FieldIn):
    checks_text: ClassVar[bool] = False

    procedure_count: int = 0
