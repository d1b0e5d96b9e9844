"""Validated shapes of the catalogue on the way in and out of the API and the import files."""

import re
import unicodedata
from datetime import date, datetime, time
from typing import Annotated, Any, ClassVar, Generic, TypeVar, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    WrapValidator,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from unidecode import unidecode

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
_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")
FIRST_YEAR, LAST_YEAR = 1900, 2200


def _not_a_number(value):
    """Pydantic reads a bare number as a Unix timestamp (`as_of=20250101` would be 1970-08-23): refuse it."""
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError(
            "give a date or instant as dd/mm/yyyy HH:mm, dd/mm/yyyy or ISO 8601 (2025-04-25, 2025-04-25T09:00), "
            "not a number"
        )
    return value


def _in_years(value: date) -> date:
    """Years 1 and 9999 overflow once shifted to UTC or to the next day: keep to years that mean something."""
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"year {value.year} is out of range: dates and instants lie in {FIRST_YEAR}–{LAST_YEAR}")
    return value


# --- dates as people type them: dd/mm/yyyy HH:mm, whatever the browser's locale -----------------

DAY_FIRST = re.compile(r"\s*(\d{1,2})/(\d{1,2})/(\d{4})(?:[\sT,]+(\d{1,2})[:hg](\d{2})(?:\s*(?:phút|p))?)?\s*", re.I)
DATETIME_FORMS = {
    "vi": "dd/mm/yyyy HH:mm (ví dụ 02/12/2026 09:30), dd/mm/yyyy hoặc ISO 8601 (2026-12-02T09:30)",
    "en": "dd/mm/yyyy HH:mm (e.g. 02/12/2026 09:30), dd/mm/yyyy or ISO 8601 (2026-12-02T09:30)",
}
DATE_FORMS = {
    "vi": "dd/mm/yyyy (ví dụ 02/12/2026) hoặc ISO 8601 (2026-12-02)",
    "en": "dd/mm/yyyy (e.g. 02/12/2026) or ISO 8601 (2026-12-02)",
}


class DateFormatError(ValueError):
    """A date or date-time that cannot be read; `message(lang)` names the accepted forms in that language."""

    def __init__(self, text: str, *, date_only: bool = False, why: str | None = None):
        """`why`: the range of years, when the date is readable but out of it."""
        self.text, self.date_only, self.why = text, date_only, why
        super().__init__(self.message("en"))

    def message(self, lang: str = "en") -> str:
        forms = (DATE_FORMS if self.date_only else DATETIME_FORMS)["vi" if lang == "vi" else "en"]
        shown = self.text if len(self.text) <= 40 else self.text[:40] + "…"
        if lang == "vi":
            what = "ngày" if self.date_only else "ngày giờ"
            years = f" (năm {self.why})" if self.why else ""
            return f"“{shown}” không phải {what} hợp lệ{years}: nhập theo dạng {forms}"
        what = "a date" if self.date_only else "a date and time"
        years = f" (years {self.why})" if self.why else ""
        return f"“{shown}” is not {what}{years}: enter {forms}"


def parse_day_first(text: str, *, date_only: bool = False) -> datetime | date:
    """The one parser of typed dates, for the pages and the API: `dd/mm/yyyy HH:mm`, `dd/mm/yyyy` (or
    `HH:mm` left out: midnight) and ISO 8601 (`2026-12-02`, `2026-12-02T09:30`, with or without an offset).

    Day first, always: "02/12/2026 09:30" is 2 December, whatever the browser's locale. A date-time
    without an offset is naive (local time where it is used). `date_only` gives a `date` and refuses a time.
    Raises DateFormatError (a ValueError) with the accepted forms in Vietnamese and English.
    """
    if not isinstance(text, str) or not text.strip() or _NUMBER.fullmatch(text):
        raise DateFormatError(str(text), date_only=date_only)
    day_first = DAY_FIRST.fullmatch(text)
    try:
        if day_first:
            day, month, year, hour, minute = day_first.groups()
            if date_only and hour is not None:
                raise DateFormatError(text, date_only=True)
            value = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0))
        else:
            value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        if isinstance(exc, DateFormatError):
            raise
        raise DateFormatError(text, date_only=date_only) from None
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise DateFormatError(text, date_only=date_only, why=f"{FIRST_YEAR}–{LAST_YEAR}")
    if date_only:
        if value.time() != time(0) or value.tzinfo is not None:
            raise DateFormatError(text, date_only=True)
        return value.date()
    return value


def _day_first_or_iso(value: Any, handler, *, date_only: bool) -> Any:
    """Read `dd/mm/yyyy[ HH:mm]` with the shared parser; ISO (and datetimes) as pydantic reads them; an
    unreadable value refused with the accepted forms named."""
    value = _not_a_number(value)
    if isinstance(value, str) and DAY_FIRST.fullmatch(value):
        try:
            value = parse_day_first(value, date_only=date_only)
        except DateFormatError as exc:
            raise PydanticCustomError("date_format", "{message}", {"message": exc.message("en")}) from None
    try:
        return handler(value)
    except ValidationError:
        if isinstance(value, str):
            message = DateFormatError(value, date_only=date_only).message("en")
            raise PydanticCustomError("date_format", "{message}", {"message": message}) from None
        raise


IsoDate = Annotated[
    date, WrapValidator(lambda v, h: _day_first_or_iso(v, h, date_only=True)), AfterValidator(_in_years)
]
"""A date in ISO 8601 (YYYY-MM-DD) or dd/mm/yyyy, in years 1900–2200, in a query or a body."""
IsoDateTime = Annotated[
    datetime, WrapValidator(lambda v, h: _day_first_or_iso(v, h, date_only=False)), AfterValidator(_in_years)
]
"""An instant in ISO 8601 or dd/mm/yyyy HH:mm (day first), in years 1900–2200; naive means local time where
it is used."""


# --- text that comes in --------------------------------------------------------------------------

HIDDEN_CHARACTERS = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"  # NUL and the other control characters (tab, LF, CR apart)
    "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"  # direction marks, embeddings, overrides, isolates (bidi)
    "\u200b-\u200d\u2060\ufeff]"  # zero-width characters
)
"""Characters that hide text or change how it reads without showing themselves: refused in every input."""
LINE_BREAKS = re.compile("[\t\n\r\u2028\u2029]")
"""Refused too where one line is expected (everywhere but the fields marked `MULTILINE`)."""


_CONTROL_NAMES = {"\x00": "NUL", "\t": "TAB", "\n": "LINE FEED", "\r": "CARRIAGE RETURN"}


class Multiline:
    """Marks a text field where tabs and line breaks are expected (a reason, a result, a source)."""


MULTILINE = Multiline()


def hidden_character(text: str, *, multiline: bool = False) -> str | None:
    """The first character of `text` a reader would not see, described ('U+202E RIGHT-TO-LEFT OVERRIDE at
    position 3'), or None when the text is plain."""
    found = HIDDEN_CHARACTERS.search(text) or (None if multiline else LINE_BREAKS.search(text))
    if found is None:
        return None
    character = found.group()
    name = _CONTROL_NAMES.get(character) or unicodedata.name(character, "CONTROL CHARACTER")
    return f"U+{ord(character):04X} ({name}) at position {found.start() + 1}"


def hidden_character_at(text: str, *, multiline: bool = False) -> dict | None:
    """The first hidden character of `text` as `{"character": "U+202E", "position": 3}` (1-based), or None."""
    found = HIDDEN_CHARACTERS.search(text) or (None if multiline else LINE_BREAKS.search(text))
    return {"character": f"U+{ord(found.group()):04X}", "position": found.start() + 1} if found else None


def hidden_character_problem(text: str, *, multiline: bool = False) -> str | None:
    """What to tell the user about `text`, or None when it is plain."""
    found = hidden_character(text, multiline=multiline)
    if found is None:
        return None
    refused = "invisible, direction (bidi) and control characters" + ("" if multiline else ", tabs and line breaks")
    return f"contains {found}: {refused} are refused here; type or paste the text again as plain text"


def _refuse_hidden(value: Any, multiline: bool) -> None:
    if isinstance(value, str):
        if problem := hidden_character_problem(value, multiline=multiline):
            where = hidden_character_at(value, multiline=multiline)  # for the pages' own words
            raise PydanticCustomError("hidden_character", "{problem}", {"problem": problem, **where})
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _refuse_hidden(item, multiline)
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_hidden(key, False)
            _refuse_hidden(item, multiline)


def _marked_multiline(annotation: Any) -> bool:
    if get_origin(annotation) is Annotated and any(isinstance(m, Multiline) for m in annotation.__metadata__):
        return True
    return any(_marked_multiline(argument) for argument in get_args(annotation))


class Input(BaseModel):
    """The base of every shape that comes in (JSON bodies, forms, import rows): no text field holds a
    character from `HIDDEN_CHARACTERS`, and only fields marked `MULTILINE` hold tabs or line breaks.

    One rule for every field, present and future, on both databases (PostgreSQL refuses NUL, SQLite
    would store it). Shapes read back from the database opt out (`checks_text = False`): what is
    stored is shown, never refused.
    """

    checks_text: ClassVar[bool] = True
    multiline_fields: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls.multiline_fields = frozenset(
            name
            for name, field in cls.model_fields.items()
            if any(isinstance(m, Multiline) for m in field.metadata) or _marked_multiline(field.annotation)
        )

    @field_validator("*", mode="after")
    @classmethod
    def _plain_text(cls, value: Any, info: ValidationInfo) -> Any:
        if cls.checks_text:
            _refuse_hidden(value, info.field_name in cls.multiline_fields)
        return value


def ascii_digits(value: Any) -> Any:
    """Full-width and other compatibility forms to their plain form (NFKC): '０９１２' → '0912'."""
    return unicodedata.normalize("NFKC", value) if isinstance(value, str) else value


Lines = Annotated[str, MULTILINE]
"""Text where line breaks and tabs are expected."""


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


class ProcedureUpdate(Input):
    """Corrections to the version in force that do not change its statutory time."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    name_en: Name | None = None
    online_level: OnlineLevel | None = None
    fee: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None
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


class FieldIn(Input):
    code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    name: Name


class FieldRead(FieldIn):
    checks_text: ClassVar[bool] = False

    procedure_count: int = 0


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int
    total_capped: bool = Field(
        default=False, description="true: more dossiers match than `total` (a search counts up to 10,000)"
    )
