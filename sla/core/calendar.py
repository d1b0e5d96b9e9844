"""Working-time calendar and deadline arithmetic (domain.md §3, §6).

A calendar answers for the local dates of ``first_year``..``last_year`` only: an instant, a date or
a result outside those years raises :class:`CalendarError` instead of guessing.

Vectorised methods take and return ``datetime64[m]`` arrays of UTC instants. Internally an instant
is mapped to its *working position*, the number of working minutes between the calendar's first
local midnight and that instant, through per-day tables built once. Adding working time is integer
addition on positions, and a position maps back to an instant by two table look-ups (which working
day, which minute of it). Large arrays are processed in cache-sized blocks, so the memory a call
needs beyond its inputs is its outputs plus a constant. The scalar methods (``due_at``,
``minutes_between``, ``shift``) run the very same helpers on one numpy scalar, without the array
plumbing: a tenth of the cost of a one-element array (bench/README.md, section "Intake").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Literal
from zoneinfo import ZoneInfo

import holidays
import numpy as np

DEFAULT_WORKING_HOURS: tuple[tuple[time, time], ...] = ((time(8), time(12)), (time(13), time(17)))
LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
LOCAL_MINUTE_FORMAT = "%d/%m/%Y %H:%M"
"""How the core's messages write a local instant. The core imports nothing of ours: this and `LOCAL_TZ` are its
own copies of `kernel.localtime`'s (a test holds them equal)."""

OUTCOME_EARLY, OUTCOME_ON_TIME, OUTCOME_LATE = 0, 1, 2
OUTCOME_NAMES = ("early", "on_time", "late")
RESOLVED_OUTCOMES = OUTCOME_NAMES
"""The outcomes of a resolved dossier (resolved = early + on time + late, domain §5): not withdrawn, not refused."""
RESOLVED_OUTCOME_CODES = (OUTCOME_EARLY, OUTCOME_ON_TIME, OUTCOME_LATE)
WITHIN, OVERDUE = 0, 1
OPEN_STATE_NAMES = ("within", "overdue")

_LOCAL_OFFSET = timedelta(hours=7)
_LOCAL_OFFSET_MINUTES = 420
_MINUTES_PER_DAY = 1440
_EPOCH_DAY = date(1970, 1, 1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MINUTE = timedelta(minutes=1)
_BLOCK_SIZE = 1 << 16
_SCALAR_AMOUNTS_KEPT = 256
_MAX_YEARS = 1000
_INSTANT_UNITS = ("m", "s", "ms", "us", "ns")


class Unit(StrEnum):
    WORKING_DAYS = "working_days"
    WORKING_HOURS = "working_hours"
    CALENDAR_DAYS = "calendar_days"
    SAME_DAY = "same_day"


class CalendarError(ValueError):
    """Bad input, or an instant, date or result outside the calendar's years."""


_AMOUNT_PER_CALENDAR_DAY = {
    None: _MINUTES_PER_DAY,
    Unit.WORKING_DAYS: 1,
    Unit.WORKING_HOURS: 24,
    Unit.CALENDAR_DAYS: 1,
}
"""Largest amount per calendar day of the range, by unit (None: working minutes)."""


DayKind = Literal["off", "workday"]


@dataclass(frozen=True)
class Override:
    """A day whose status is decided by the caller; it wins over the holidays package."""

    day: date
    kind: DayKind
    reason: str
    legal_ref: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.day, date) or isinstance(self.day, datetime):
            raise CalendarError(f"override day must be a date, got {self.day!r}")
        if self.kind not in ("off", "workday"):
            raise CalendarError(f"override kind must be 'off' or 'workday', got {self.kind!r}")


@dataclass(frozen=True)
class DayInfo:
    """A day that differs from the Monday–Friday rule, and where that comes from."""

    day: date
    kind: DayKind
    reason: str
    source: Literal["package", "override"]
    legal_ref: str | None = None
    reason_en: str | None = None
    """The holidays package's English name (dates in it day first), for pages in English; None for overrides."""


class WorkingCalendar:
    """Working days and hours over ``first_year``..``last_year``: holidays package + overrides.

    Overrides win over the package, and among overrides for one day the last one given wins (pass
    national overrides first, then the agency's own, e.g. a storm closure on a make-up Saturday).
    Overrides outside the years are ignored.
    """

    def __init__(
        self,
        *,
        first_year: int,
        last_year: int,
        overrides: Iterable[Override] = (),
        working_hours: Sequence[tuple[time, time]] = DEFAULT_WORKING_HOURS,
        version: str = "",
    ) -> None:
        if not 0 <= last_year - first_year < _MAX_YEARS:
            raise CalendarError(
                f"a calendar covers 1 to {_MAX_YEARS} years, got first_year {first_year} and last_year {last_year}"
            )
        _require_fixed_local_offset(first_year, last_year)
        self.version = version
        self.first_year = first_year
        self.last_year = last_year
        self.working_hours = tuple(working_hours)
        periods_minutes = _periods_minutes(self.working_hours)
        self._first_day = date(first_year, 1, 1)
        self._last_day = date(last_year, 12, 31)
        self._special_days = _special_days(self._first_day, self._last_day, overrides)

        day_count = (self._last_day - self._first_day).days + 1
        weekday = (np.arange(day_count) + self._first_day.weekday()) % 7
        is_working = weekday < 5
        for info in self._special_days.values():
            is_working[(info.day - self._first_day).days] = info.kind == "workday"
        working_day_numbers = np.flatnonzero(is_working)

        in_period = np.zeros(_MINUTES_PER_DAY, dtype=bool)
        for opening_minute, closing_minute in periods_minutes:
            in_period[opening_minute:closing_minute] = True
        elapsed_at_minute = np.concatenate(([0], np.cumsum(in_period)[:-1]))

        self.minutes_per_day = int(in_period.sum())
        self._closing_minute = periods_minutes[-1][1]
        self._first_day_number = (self._first_day - _EPOCH_DAY).days
        self._origin_utc_minutes = self._first_day_number * _MINUTES_PER_DAY - _LOCAL_OFFSET_MINUTES
        self._end_utc_minutes = self._origin_utc_minutes + day_count * _MINUTES_PER_DAY
        self._day_count = day_count
        self._working_day_count = len(working_day_numbers)
        self._is_working = is_working
        self._working_days_before = np.concatenate(([0], np.cumsum(is_working)[:-1])).astype(np.int32)
        self._day_start_position = self._working_days_before * np.int32(self.minutes_per_day)
        self._day_row = np.where(is_working, _MINUTES_PER_DAY, 0).astype(np.int32)
        self._elapsed_by_row_minute = np.concatenate((np.zeros(_MINUTES_PER_DAY), elapsed_at_minute)).astype(np.int32)
        self._working_day_number = working_day_numbers.astype(np.int32)
        self._working_midnight_utc = self._origin_utc_minutes + working_day_numbers.astype(np.int64) * _MINUTES_PER_DAY
        self._minute_of_offset = np.flatnonzero(in_period).astype(np.int64)
        self._scalar_amounts: dict[tuple, int] = {}

    def __repr__(self) -> str:
        return f"WorkingCalendar({self.first_year}–{self.last_year}, version={self.version!r})"

    # vectorised

    def clock_start(self, received: np.ndarray, cutoff: time | None = None) -> np.ndarray:
        """Next working instant at or after each receipt; after ``cutoff`` on a working day, the
        next working day's opening."""
        received_utc, shape = _flat_instants("received", received)
        cutoff_minute = _cutoff_minute(cutoff)
        start_utc = np.empty(received_utc.size, dtype=np.int64)
        for block in _blocks(received_utc.size):
            positions = self._clock_positions(received_utc[block], cutoff_minute, "received", block.start)
            self._instants_at(positions, "clock start", block.start, out=start_utc[block])
        return _as_instants(start_utc, shape)

    def add(self, start: np.ndarray, amount: np.ndarray | float | None, unit: Unit | str) -> np.ndarray:
        """Deadline reached from ``start`` after ``amount`` of ``unit``.

        A start outside working time counts from the next working instant. An amount of 0 returns
        ``start`` itself. ``same_day`` ignores the amount (it may be None).
        """
        unit = _parse_unit(unit)
        start_utc, shape = _flat_instants("start", start)
        amounts = self._amounts(amount, unit, shape)
        due_utc = np.empty(start_utc.size, dtype=np.int64)
        for block in _blocks(start_utc.size):
            positions = self._positions(start_utc[block], "start", block.start)
            self._advance(start_utc[block], positions, amounts(block), unit, block.start, out=due_utc[block])
        return _as_instants(due_utc, shape)

    def due(
        self,
        received: np.ndarray,
        amount: np.ndarray | float | None,
        unit: Unit | str,
        cutoff: time | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(clock_start(received, cutoff), add(clock start, amount, unit))`` in one pass."""
        unit = _parse_unit(unit)
        received_utc, shape = _flat_instants("received", received)
        amounts = self._amounts(amount, unit, shape)
        cutoff_minute = _cutoff_minute(cutoff)
        start_utc = np.empty(received_utc.size, dtype=np.int64)
        due_utc = np.empty(received_utc.size, dtype=np.int64)
        for block in _blocks(received_utc.size):
            positions = self._clock_positions(received_utc[block], cutoff_minute, "received", block.start)
            self._instants_at(positions, "clock start", block.start, out=start_utc[block])
            self._advance(start_utc[block], positions, amounts(block), unit, block.start, out=due_utc[block])
        return _as_instants(start_utc, shape), _as_instants(due_utc, shape)

    def add_working_minutes(self, start: np.ndarray, minutes: np.ndarray | int) -> np.ndarray:
        """Instant reached after ``minutes`` working minutes from ``start`` (0 returns ``start``)."""
        start_utc, shape = _flat_instants("start", start)
        amounts = self._amounts(minutes, None, shape)
        due_utc = np.empty(start_utc.size, dtype=np.int64)
        for block in _blocks(start_utc.size):
            positions = self._positions(start_utc[block], "start", block.start)
            self._advance(start_utc[block], positions, amounts(block), None, block.start, out=due_utc[block])
        return _as_instants(due_utc, shape)

    def working_minutes(self, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Working minutes in ``[start, end)`` as int64; 0 when ``end <= start``."""
        (start_utc, end_utc), shape = _flat_instant_pair(("start", start), ("end", end))
        minutes = np.empty(start_utc.size, dtype=np.int64)
        for block in _blocks(start_utc.size):
            elapsed = self._positions(end_utc[block], "end", block.start)
            elapsed -= self._positions(start_utc[block], "start", block.start)
            np.maximum(elapsed, 0, out=minutes[block])
        return minutes.reshape(shape)

    def is_working_day(self, days: np.ndarray) -> np.ndarray:
        """Whether each local date (``datetime64[D]``) is a working day."""
        values = np.asarray(days)
        if values.dtype != np.dtype("datetime64[D]"):
            raise CalendarError(f"days must be local dates of dtype datetime64[D], got {values.dtype}")
        day_indexes = values.view(np.int64) - self._first_day_number
        self._require_days_covered(day_indexes, "days", values)
        return self._is_working[day_indexes]

    def outcome(self, finished_at: np.ndarray, due_at: np.ndarray) -> np.ndarray:
        """Outcome codes (``OUTCOME_*``, int8) comparing the local dates of finish and due."""
        (finished_utc, due_utc), shape = _flat_instant_pair(("finished_at", finished_at), ("due_at", due_at))
        codes = np.empty(finished_utc.size, dtype=np.int8)
        for block in _blocks(finished_utc.size):
            finished_day = self._local_days(finished_utc[block], "finished_at", block.start)
            due_day = self._local_days(due_utc[block], "due_at", block.start)
            codes[block] = np.sign(finished_day - due_day) + OUTCOME_ON_TIME
        return codes.reshape(shape)

    def open_state(self, due_at: np.ndarray, as_of: date | np.ndarray) -> np.ndarray:
        """``WITHIN`` when the local due date is on or after ``as_of``, else ``OVERDUE`` (int8)."""
        due_utc, due_shape = _flat_instants("due_at", due_at)
        as_of_days = _local_dates("as_of", as_of)
        as_of_indexes = as_of_days.view(np.int64) - self._first_day_number
        self._require_days_covered(as_of_indexes.reshape(-1), "as_of", as_of_days.reshape(-1))
        try:
            shape = np.broadcast_shapes(due_shape, as_of_indexes.shape)
        except ValueError:
            raise CalendarError(
                f"due_at of shape {due_shape} and as_of of shape {as_of_indexes.shape} do not match"
            ) from None
        due_utc = np.broadcast_to(due_utc.reshape(due_shape), shape).reshape(-1)
        as_of_indexes = np.broadcast_to(as_of_indexes, shape).reshape(-1)
        states = np.empty(due_utc.size, dtype=np.int8)
        for block in _blocks(due_utc.size):
            due_day = self._local_days(due_utc[block], "due_at", block.start)
            states[block] = due_day < as_of_indexes[block]
        return states.reshape(shape)

    # scalar and listing

    def due_at(
        self, received: datetime, amount: float | None, unit: Unit | str, cutoff: time | None = None
    ) -> tuple[datetime, datetime]:
        """Scalar :meth:`due`: ``(clock_start, due)`` as aware UTC datetimes."""
        received_utc = _utc_minute("received", received)
        unit = _parse_unit(unit)
        value = self._scalar_amount(amount, unit)
        cutoff_minute = _cutoff_minute(cutoff)
        positions, day, minute = self._scalar_locate(received_utc, "received")
        if cutoff_minute is not None:
            positions = self._after_cutoff(positions, day, minute, cutoff_minute)
        start_utc = self._instants_at(positions, "clock start", 0)
        due_utc = self._advance(start_utc, positions, value, unit, 0)
        return _datetime_at(start_utc), _datetime_at(due_utc)

    def minutes_between(self, start: datetime, end: datetime) -> int:
        """Scalar :meth:`working_minutes`."""
        start_utc, end_utc = _utc_minute("start", start), _utc_minute("end", end)
        elapsed = self._scalar_locate(end_utc, "end")[0] - self._scalar_locate(start_utc, "start")[0]
        return max(int(elapsed), 0)

    def shift(self, start: datetime, minutes: int) -> datetime:
        """Scalar :meth:`add_working_minutes`."""
        start_utc = _utc_minute("start", start)
        value = self._scalar_amount(minutes, None)
        positions, _, _ = self._scalar_locate(start_utc, "start")
        return _datetime_at(self._advance(start_utc, positions, value, None, 0))

    def working_days(self, first: date, last: date) -> list[date]:
        """Working days from ``first`` to ``last``, both included."""
        first_index = self._day_index(first, "first")
        last_index = self._day_index(last, "last")
        indexes = np.flatnonzero(self._is_working[first_index : last_index + 1]) + first_index
        return [self._first_day + timedelta(days=int(index)) for index in indexes]

    def special_days(self, year: int) -> list[DayInfo]:
        """Weekdays off and working weekend days of ``year``, by date."""
        if not self.first_year <= year <= self.last_year:
            raise CalendarError(f"year {year} is outside the calendar's years {self._years}")
        return [info for day, info in self._special_days.items() if day.year == year]

    # internals

    @property
    def _years(self) -> str:
        return f"{self.first_year}–{self.last_year}"

    def _amounts(
        self, amount: np.ndarray | float | None, unit: Unit | None, shape: tuple[int, ...]
    ) -> Callable[[slice], np.ndarray | int]:
        """Per block: amounts as working minutes, or as days for calendar_days (``unit`` None: the
        amounts are working minutes already). A scalar amount is converted once."""
        if unit is Unit.SAME_DAY:
            return lambda block: 0
        label = unit.value if unit else "working minutes"
        if amount is None:
            raise CalendarError(f"an amount of {label} is required")
        values = np.asarray(amount)
        if values.ndim == 0:
            converted = int(self._amount_values(values.reshape(1), unit, label, None)[0])
            return lambda block: converted
        if values.shape != shape:
            raise CalendarError(f"amounts of shape {values.shape} do not match instants of shape {shape}")
        flat = values.reshape(-1)
        return lambda block: self._amount_values(flat[block], unit, label, block.start)

    def _amount_values(self, amount: np.ndarray, unit: Unit | None, label: str, offset: int | None) -> np.ndarray:
        if amount.dtype.kind not in "iuf":
            raise CalendarError(f"amounts of {label} must be numbers, got dtype {amount.dtype}")
        limit = self._day_count * _AMOUNT_PER_CALENDAR_DAY[unit]
        valid = (amount >= 0) & (amount <= limit)
        if not valid.all():
            _raise_at(amount, valid, offset, f"{label} must be between 0 and {limit}, the calendar's span")
        if amount.dtype.kind in "iu":
            whole = amount.astype(np.int32)
            if unit is Unit.WORKING_DAYS:
                return whole * self.minutes_per_day
            if unit is Unit.WORKING_HOURS:
                return whole * 60
            return whole
        if unit is Unit.WORKING_HOURS:
            return np.rint(amount * 60).astype(np.int32)
        if unit is Unit.WORKING_DAYS:
            halves = amount * 2
            whole_halves = np.rint(halves)
            exact = whole_halves == halves
            if not exact.all():
                _raise_at(amount, exact, offset, "working_days must be whole or half days (multiples of 0.5)")
            half_day_minutes = whole_halves.astype(np.int32) * self.minutes_per_day
            if self.minutes_per_day % 2:
                even = half_day_minutes % 2 == 0
                if not even.all():
                    _raise_at(
                        amount,
                        even,
                        offset,
                        f"a half day is not a whole number of minutes in a {self.minutes_per_day}-minute day",
                    )
            return half_day_minutes // 2
        whole = np.rint(amount)
        exact = whole == amount
        if not exact.all():
            _raise_at(amount, exact, offset, f"{label} must be whole numbers")
        return whole.astype(np.int32)

    def _scalar_amount(self, amount: float | None, unit: Unit | None) -> int:
        """:meth:`_amounts` of one amount, remembered per value (a replay asks for the same few)."""
        key = (type(amount), amount, unit)
        try:
            return self._scalar_amounts[key]
        except KeyError:
            pass
        except TypeError:  # unhashable: convert it every time
            key = None
        value = int(np.asarray(self._amounts(amount, unit, (1,))(slice(0, 1))).reshape(-1)[0])
        if key is not None:
            if len(self._scalar_amounts) >= _SCALAR_AMOUNTS_KEPT:
                self._scalar_amounts.clear()
            self._scalar_amounts[key] = value
        return value

    # Working positions. The helpers below take int32 arrays (vectorised methods, one block at a
    # time) or numpy scalars (scalar methods) alike, so both paths share every table look-up and
    # every range check; ``out`` is the block's slice of the result, None for a scalar.

    def _positions(self, utc_minutes: np.ndarray, name: str, offset: int) -> np.ndarray:
        positions, _, _ = self._locate(utc_minutes, name, offset)
        return positions

    def _locate(self, utc_minutes: np.ndarray, name: str, offset: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Working positions, local day indexes and local minutes of day (int32) of UTC instants."""
        self._require_covered(utc_minutes, name, offset)
        local = np.subtract(utc_minutes, self._origin_utc_minutes, dtype=np.int32, casting="unsafe")
        return self._position_of(local)

    def _scalar_locate(self, utc_minute: int, name: str) -> tuple[np.int32, int, int]:
        """:meth:`_locate` of one instant."""
        if not self._origin_utc_minutes <= utc_minute < self._end_utc_minutes:
            self._require_covered(np.array([utc_minute], dtype=np.int64), name, 0)
        return self._position_of(utc_minute - self._origin_utc_minutes)

    def _position_of(self, local: np.ndarray | int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Working positions, day indexes and minutes of day of minutes since the first local midnight."""
        day = local // _MINUTES_PER_DAY
        minute = local - day * _MINUTES_PER_DAY
        positions = _take(self._day_start_position, day)
        positions += _take(self._elapsed_by_row_minute, _take(self._day_row, day) + minute)
        return positions, day, minute

    def _clock_positions(
        self, received_utc: np.ndarray, cutoff_minute: int | None, name: str, offset: int
    ) -> np.ndarray:
        positions, day, minute = self._locate(received_utc, name, offset)
        if cutoff_minute is not None:
            positions = self._after_cutoff(positions, day, minute, cutoff_minute)
        return positions

    def _after_cutoff(self, positions: np.ndarray, day: np.ndarray, minute: np.ndarray, cutoff_minute: int):
        """Receipts after the cut-off on a working day count from the next working day's opening."""
        after_cutoff = (minute > cutoff_minute) & _take(self._is_working, day)
        next_day_opening = _take(self._day_start_position, day) + self.minutes_per_day
        if isinstance(positions, np.ndarray):
            return np.where(after_cutoff, next_day_opening, positions)
        return next_day_opening if after_cutoff else positions

    def _instants_at(self, positions: np.ndarray, what: str, offset: int, out: np.ndarray | None = None):
        """UTC instants at which the working minute at each position begins (into ``out``)."""
        working_day = self._working_day_of(positions, what, offset)
        minute_offset = positions - working_day * self.minutes_per_day
        return _add(_take(self._working_midnight_utc, working_day), _take(self._minute_of_offset, minute_offset), out)

    def _advance(
        self,
        start_utc: np.ndarray,
        positions: np.ndarray,
        values: np.ndarray | int,
        unit: Unit | None,
        offset: int,
        out: np.ndarray | None = None,
    ):
        """Due instants (into ``out``) from starts at ``positions``. ``values`` are working minutes
        (``unit`` None or a working unit), calendar days, or ignored for same_day."""
        if unit is Unit.SAME_DAY:
            working_day = self._working_day_of(positions, "due", offset)
            return _add(_take(self._working_midnight_utc, working_day), self._closing_minute, out)
        per_row = isinstance(values, np.ndarray)
        if not per_row and values == 0:
            if out is None:
                return start_utc
            out[...] = start_utc
            return out
        if unit is Unit.CALENDAR_DAYS:
            start_day = _take(self._working_day_number, self._working_day_of(positions, "due", offset))
            target_day = start_day + values
            if _largest(target_day) >= self._day_count:
                self._raise_after_range("due", offset, target_day < self._day_count)
            working_day = _take(self._working_days_before, target_day)
            self._require_working_day(working_day, "due", offset)
            out = _add(_take(self._working_midnight_utc, working_day), self._closing_minute, out)
        else:
            out = self._instants_at(positions + (values - 1), "due", offset, out)
            out += 1
        if per_row:
            np.copyto(out, start_utc, where=values == 0)
        return out

    def _working_day_of(self, positions: np.ndarray, what: str, offset: int) -> np.ndarray:
        working_day = positions // self.minutes_per_day
        self._require_working_day(working_day, what, offset)
        return working_day

    def _local_days(self, utc_minutes: np.ndarray, name: str, offset: int) -> np.ndarray:
        self._require_covered(utc_minutes, name, offset)
        return (utc_minutes - self._origin_utc_minutes) // _MINUTES_PER_DAY

    def _require_covered(self, utc_minutes: np.ndarray, name: str, offset: int) -> None:
        if utc_minutes.size and (
            utc_minutes.min() < self._origin_utc_minutes or utc_minutes.max() >= self._end_utc_minutes
        ):
            covered = (utc_minutes >= self._origin_utc_minutes) & (utc_minutes < self._end_utc_minutes)
            position = int(np.flatnonzero(~covered)[0])
            value = utc_minutes.view("datetime64[m]")[position]
            shown = "missing (NaT)" if np.isnat(value) else _local_text(value)
            raise CalendarError(f"{name}[{offset + position}] = {shown} is outside the calendar's years {self._years}")

    def _require_working_day(self, working_day: np.ndarray, what: str, offset: int) -> None:
        if _largest(working_day) >= self._working_day_count:
            self._raise_after_range(what, offset, working_day < self._working_day_count)

    def _require_days_covered(self, day_indexes: np.ndarray, name: str, days: np.ndarray) -> None:
        covered = (day_indexes >= 0) & (day_indexes < self._day_count)
        if not covered.all():
            position = int(np.flatnonzero(~covered.reshape(-1))[0])
            raise CalendarError(
                f"{name}[{position}] = {days.reshape(-1)[position]} is outside the calendar's years {self._years}"
            )

    def _day_index(self, day: date, name: str) -> int:
        if not isinstance(day, date) or isinstance(day, datetime):
            raise CalendarError(f"{name} must be a local date, got {day!r}")
        if not self._first_day <= day <= self._last_day:
            raise CalendarError(f"{name} {day.isoformat()} is outside the calendar's years {self._years}")
        return (day - self._first_day).days

    def _raise_after_range(self, what: str, offset: int, valid: np.ndarray) -> None:
        position = int(np.flatnonzero(np.logical_not(valid))[0])
        raise CalendarError(
            f"{what} of row {offset + position} falls after {self._last_day.strftime('%d/%m/%Y')}, the end of "
            f"the calendar's years {self._years}; build the calendar with a later last_year"
        )


CalendarFor = Callable[[str], WorkingCalendar]
"""The working calendar of an agency, by its code (the receiving agency's calendar runs a dossier's clock): what the
services take as `calendar_for`; `sla.calendars.CalendarStore.calendar_for` makes one."""


def _take(table: np.ndarray, index: np.ndarray | int):
    """``table[index]``: numpy's take for a block of indexes (faster), plain indexing for one."""
    return table.take(index) if isinstance(index, np.ndarray) else table[index]


def _add(first: np.ndarray | int, second: np.ndarray | int, out: np.ndarray | None):
    return first + second if out is None else np.add(first, second, out=out)


def _largest(values: np.ndarray | int):
    return values.max() if isinstance(values, np.ndarray) else values


def _blocks(size: int) -> Iterator[slice]:
    for begin in range(0, size, _BLOCK_SIZE):
        yield slice(begin, min(begin + _BLOCK_SIZE, size))


def _parse_unit(unit: Unit | str) -> Unit:
    try:
        return Unit(unit)
    except ValueError:
        raise CalendarError(f"unknown unit {unit!r}; accepted units: {', '.join(Unit)}") from None


def _flat_instants(name: str, instants: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    """UTC minutes as a flat int64 array (a view when the input is already ``datetime64[m]``)."""
    values = np.asarray(instants)
    if values.dtype.kind != "M" or np.datetime_data(values.dtype)[0] not in _INSTANT_UNITS:
        raise CalendarError(
            f"{name} must be UTC instants as numpy datetime64 (minutes or finer), got dtype {values.dtype}"
        )
    return values.astype("datetime64[m]", copy=False).reshape(-1).view(np.int64), values.shape


def _flat_instant_pair(
    first: tuple[str, np.ndarray], second: tuple[str, np.ndarray]
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[int, ...]]:
    (first_name, first_values), (second_name, second_values) = first, second
    first_utc, first_shape = _flat_instants(first_name, first_values)
    second_utc, second_shape = _flat_instants(second_name, second_values)
    try:
        shape = np.broadcast_shapes(first_shape, second_shape)
    except ValueError:
        raise CalendarError(
            f"{first_name} of shape {first_shape} and {second_name} of shape {second_shape} do not match"
        ) from None
    return (
        np.broadcast_to(first_utc.reshape(first_shape), shape).reshape(-1),
        np.broadcast_to(second_utc.reshape(second_shape), shape).reshape(-1),
    ), shape


def _local_dates(name: str, days: date | np.ndarray) -> np.ndarray:
    if isinstance(days, datetime):
        raise CalendarError(f"{name} must be a local date, got the datetime {days!r}")
    if isinstance(days, date):
        return np.array(days, dtype="datetime64[D]")
    values = np.asarray(days)
    if values.dtype != np.dtype("datetime64[D]"):
        raise CalendarError(f"{name} must be a date or local dates of dtype datetime64[D], got {values.dtype}")
    return values


def _as_instants(utc_minutes: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return utc_minutes.view("datetime64[m]").reshape(shape)


def _utc_minute(name: str, instant: datetime) -> int:
    """Minutes since the epoch (UTC) of an aware datetime, seconds floored away."""
    if not isinstance(instant, datetime) or instant.utcoffset() is None:
        raise CalendarError(f"{name} must be an aware datetime, got {instant!r}")
    return (instant - _EPOCH) // _ONE_MINUTE


def _datetime_at(utc_minute: int | np.integer) -> datetime:
    return _EPOCH + timedelta(minutes=int(utc_minute))


def _local_text(utc_instant: np.datetime64) -> str:
    local = utc_instant.astype(datetime) + _LOCAL_OFFSET
    return local.strftime(LOCAL_MINUTE_FORMAT) + " (UTC+07:00)"


def _cutoff_minute(cutoff: time | None) -> int | None:
    if cutoff is None:
        return None
    return _minute_of_day(cutoff, "cutoff")


def _minute_of_day(moment: time, name: str) -> int:
    if not isinstance(moment, time) or moment.tzinfo is not None or moment.second or moment.microsecond:
        raise CalendarError(f"{name} must be a naive local time in whole minutes, got {moment!r}")
    return moment.hour * 60 + moment.minute


def _periods_minutes(working_hours: Sequence[tuple[time, time]]) -> list[tuple[int, int]]:
    """Working periods as ``(opening, closing)`` minutes of day, checked to be ordered and apart."""
    periods = [
        (_minute_of_day(opening, "working hours"), _minute_of_day(closing, "working hours"))
        for opening, closing in working_hours
    ]
    if not periods:
        raise CalendarError("working hours need at least one period")
    previous_closing = 0
    for opening, closing in periods:
        if not previous_closing <= opening < closing:
            raise CalendarError(
                "working hours must be periods (opening, closing) in order, each opening before its "
                f"closing and not before the previous closing; got {list(working_hours)}"
            )
        previous_closing = closing
    return periods


def _raise_at(values: np.ndarray, valid: np.ndarray, offset: int | None, rule: str) -> None:
    """Report the first invalid amount; ``offset`` None for a scalar amount."""
    position = int(np.flatnonzero(~valid)[0])
    where = "amount" if offset is None else f"amounts[{offset + position}]"
    raise CalendarError(f"{where} = {values[position].item()!r}: {rule}")


def _require_fixed_local_offset(first_year: int, last_year: int) -> None:
    day = date(first_year, 1, 1)
    while day.year <= last_year:
        local_midnight = datetime.combine(day, time(), LOCAL_TZ)
        if local_midnight.utcoffset() != _LOCAL_OFFSET:
            raise CalendarError(
                f"{LOCAL_TZ.key} is at UTC{local_midnight:%z} on {day.isoformat()}, not UTC+07:00; "
                f"years {first_year}–{last_year} cannot use the fixed-offset calendar"
            )
        day += timedelta(days=1)


def _special_days(first_day: date, last_day: date, overrides: Iterable[Override]) -> dict[date, DayInfo]:
    """Days of the range that differ from the Monday–Friday rule, in date order.

    The package is asked for one year either side: a swap is listed under the year of its day off,
    which may differ from the year of its make-up day.
    """
    years = range(first_day.year - 1, last_day.year + 2)
    package = holidays.country_holidays("VN", years=years, language="vi")
    english = holidays.country_holidays("VN", years=years, language="en_US")
    decided: dict[date, DayInfo] = {}
    for day, name in package.items():
        decided[day] = DayInfo(day, "off", name, "package", reason_en=_day_first(english.get(day)))
    for day in package.weekend_workdays:
        reason = _make_up_reason(day, package)
        reason_en = reason.replace("Ngày làm bù cho ngày nghỉ", "Make-up working day for the day off").replace(
            "Ngày làm bù", "Make-up working day"
        )
        decided[day] = DayInfo(day, "workday", reason, "package", reason_en=reason_en)
    for override in overrides:
        decided[override.day] = DayInfo(override.day, override.kind, override.reason, "override", override.legal_ref)
    return {
        day: info
        for day, info in sorted(decided.items())
        if first_day <= day <= last_day and (info.kind == "off") != (day.weekday() >= 5)
    }


def _day_first(name: str | None) -> str | None:
    """The package's English names write dates month first (08/22/2026): day first, as everywhere else."""
    return re.sub(r"\b(\d{2})/(\d{2})/(\d{4})\b", r"\2/\1/\3", name) if name else name


def _make_up_reason(day: date, package: holidays.HolidayBase) -> str:
    substituted = day.strftime("%d/%m/%Y")
    for day_off, name in package.items():
        if substituted in name:
            return f"Ngày làm bù cho ngày nghỉ {day_off.strftime('%d/%m/%Y')}"
    return "Ngày làm bù"
