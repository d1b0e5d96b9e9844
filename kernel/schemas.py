"""Validated shapes every domain uses: the base of every input (no hidden characters), typed dates and
instants (day first or ISO; an instant without an offset is local time, made aware here, at the edge),
and `Page`. Ground floor: imports nothing of ours."""

import re
import unicodedata
from datetime import date, datetime, time
from typing import Annotated, Any, ClassVar, Generic, TypeVar, get_args, get_origin

from pydantic import AfterValidator, BaseModel, Field, ValidationError, ValidationInfo, WrapValidator, field_validator
from pydantic_core import PydanticCustomError

from kernel.localtime import attach_local

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
    without an offset is naive (`IsoDateTime` makes it local time). `date_only` gives a `date` and refuses a time.
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
    datetime,
    WrapValidator(lambda v, h: _day_first_or_iso(v, h, date_only=False)),
    AfterValidator(_in_years),
    AfterValidator(attach_local),
]
"""An instant in ISO 8601 or dd/mm/yyyy HH:mm (day first), in years 1900–2200; always aware: without an
offset it is local time (+07:00), attached here, so that no code behind the edge meets a naive instant."""


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


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int
    total_capped: bool = Field(
        default=False, description="true: more dossiers match than `total` (a search counts up to 10,000)"
    )
