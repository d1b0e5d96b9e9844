"""Deadline benchmark: due instants and elapsed working minutes for random dossiers, on one core.

Run by hand (not a test) from the repository root; it pins itself to one CPU. See bench/README.md,
section "Deadlines":

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_deadlines.py

Compared side by side on the same rows:
- ``WorkingCalendar`` (sla/core/calendar.py), vectorised;
- ``numpy.busday_offset`` / ``busday_count`` with the holiday list, doing the same working-minute
  arithmetic; it cannot represent make-up Saturdays, so its wrong answers are counted;
- the holidays package per row (``HolidayBase.get_nth_working_day`` / ``is_working_day``, with our
  overrides patched in), timed on a sample and extrapolated;
- an independent per-row day-walking reference in plain Python, which every answer of ours on the
  agreement set must equal (a minute-stepping reference, as in the tests, is too slow here).
"""

from __future__ import annotations

import argparse
import os
import sys
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, time, timedelta
from functools import partial
from time import perf_counter

import holidays
import numpy as np

from seed.calendar import national_overrides
from sla.core.calendar import Unit, WorkingCalendar

SHIPPED_OVERRIDES = national_overrides()

FIRST_YEAR, LAST_YEAR = 2024, 2026
LOCAL_OFFSET_MINUTES = 420
EPOCH = date(1970, 1, 1)
RECEIVED_FROM, RECEIVED_UNTIL = date(2024, 1, 1), date(2026, 11, 30)
ELAPSED_MAX_DAYS = 30
SAME_DAY_CUTOFF_MINUTE = 15 * 60
UNIT_SHARES = {Unit.WORKING_DAYS: 0.70, Unit.WORKING_HOURS: 0.10, Unit.CALENDAR_DAYS: 0.15, Unit.SAME_DAY: 0.05}
UNITS = tuple(UNIT_SHARES)


@dataclass
class Dossiers:
    """Random dossiers grouped by unit: ``groups`` maps each unit to its slice of the arrays."""

    received: np.ndarray  # datetime64[m] UTC
    amounts: np.ndarray  # float64, NaN for same_day
    ended: np.ndarray  # datetime64[m] UTC, for elapsed working minutes
    groups: dict[Unit, slice]

    @property
    def size(self) -> int:
        return self.received.size

    def units(self) -> np.ndarray:
        """Index into ``UNITS`` of each row's unit."""
        units = np.empty(self.size, dtype=np.int8)
        for unit, rows in self.groups.items():
            units[rows] = UNITS.index(unit)
        return units


def make_dossiers(size: int, seed: int) -> Dossiers:
    rng = np.random.default_rng(seed)
    first = (RECEIVED_FROM - EPOCH).days * 1440 - LOCAL_OFFSET_MINUTES
    last = (RECEIVED_UNTIL - EPOCH).days * 1440 - LOCAL_OFFSET_MINUTES
    received = rng.integers(first, last, size)
    amounts = np.empty(size)
    groups, begin = {}, 0
    for unit, share in UNIT_SHARES.items():
        end = size if unit is Unit.SAME_DAY else begin + round(size * share)
        rows = slice(begin, end)
        count = end - begin
        if unit is Unit.WORKING_DAYS:
            amounts[rows] = rng.integers(1, 31, count) / 2
        elif unit is Unit.WORKING_HOURS:
            amounts[rows] = rng.integers(1, 41, count)
        elif unit is Unit.CALENDAR_DAYS:
            amounts[rows] = rng.integers(1, 31, count)
        else:
            amounts[rows] = np.nan
        groups[unit] = rows
        begin = end
    ended = received + rng.integers(0, ELAPSED_MAX_DAYS * 1440, size)
    return Dossiers(received.view("datetime64[m]"), amounts, ended.view("datetime64[m]"), groups)


# the engine


def engine_due(calendar: WorkingCalendar, dossiers: Dossiers) -> list[tuple[np.ndarray, np.ndarray]]:
    """(clock starts, dues) per unit group, in the order of the rows."""
    answers = []
    for unit, rows in dossiers.groups.items():
        amounts = None if unit is Unit.SAME_DAY else dossiers.amounts[rows]
        cutoff = time(15) if unit is Unit.SAME_DAY else None
        answers.append(calendar.due(dossiers.received[rows], amounts, unit, cutoff))
    return answers


def joined(answers: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([starts for starts, _ in answers]), np.concatenate([dues for _, dues in answers])


def engine_memory_per_dossier(calendar: WorkingCalendar, dossiers: Dossiers) -> tuple[float, float]:
    """Peak bytes allocated while computing (clock start, due) for every dossier, and while computing
    the elapsed working minutes, each divided by the number of dossiers (outputs included)."""
    tracemalloc.start()
    answers = engine_due(calendar, dossiers)
    due_peak = tracemalloc.get_traced_memory()[1]
    del answers
    tracemalloc.reset_peak()
    calendar.working_minutes(dossiers.received, dossiers.ended)
    elapsed_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return due_peak / dossiers.size, elapsed_peak / dossiers.size


# numpy busday functions with the holiday list


class BusdayEngine:
    """The same working-minute arithmetic, with days counted by numpy's business-day functions."""

    def __init__(self, calendar: WorkingCalendar) -> None:
        days_off = [
            info.day
            for year in range(FIRST_YEAR, LAST_YEAR + 1)
            for info in calendar.special_days(year)
            if info.kind == "off"
        ]
        self.busdays = np.busdaycalendar(weekmask="1111100", holidays=days_off)
        self.origin_day = np.datetime64(date(FIRST_YEAR, 1, 1), "D")
        self.minutes_per_day = calendar.minutes_per_day
        in_period = np.zeros(1440, dtype=bool)
        for opening, closing in calendar.working_hours:
            in_period[opening.hour * 60 + opening.minute : closing.hour * 60 + closing.minute] = True
        self.elapsed_at_minute = np.concatenate(([0], np.cumsum(in_period)[:-1]))
        self.minute_of_offset = np.flatnonzero(in_period)
        self.closing_minute = int(self.minute_of_offset[-1]) + 1

    def _day_and_minute(self, utc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        local = utc.view(np.int64) + LOCAL_OFFSET_MINUTES
        return (local // 1440).view("datetime64[D]"), local % 1440

    def _instant(self, day: np.ndarray, minute: np.ndarray | int) -> np.ndarray:
        return (day.view(np.int64) * 1440 + minute - LOCAL_OFFSET_MINUTES).view("datetime64[m]")

    def _at_position(self, positions: np.ndarray) -> np.ndarray:
        working_day, offset = np.divmod(positions, self.minutes_per_day)
        day = np.busday_offset(self.origin_day, working_day, roll="forward", busdaycal=self.busdays)
        return self._instant(day, self.minute_of_offset[offset])

    def due(self, received: np.ndarray, amounts: np.ndarray | None, unit: Unit, cutoff_minute: int | None):
        day, minute = self._day_and_minute(received)
        is_working = np.is_busday(day, busdaycal=self.busdays)
        days_before = np.busday_count(self.origin_day, day, busdaycal=self.busdays)
        positions = days_before * self.minutes_per_day + np.where(is_working, self.elapsed_at_minute[minute], 0)
        if cutoff_minute is not None:
            after_cutoff = is_working & (minute > cutoff_minute)
            positions = np.where(after_cutoff, (days_before + 1) * self.minutes_per_day, positions)
        starts = self._at_position(positions)
        start_day = self._day_and_minute(starts)[0]
        if unit is Unit.SAME_DAY:
            return starts, self._instant(start_day, self.closing_minute)
        if unit is Unit.CALENDAR_DAYS:
            target = start_day + amounts.astype(np.int64)
            closing_day = np.busday_offset(target, 0, roll="forward", busdaycal=self.busdays)
            dues = self._instant(closing_day, self.closing_minute)
        else:
            factor = self.minutes_per_day if unit is Unit.WORKING_DAYS else 60
            minutes = np.rint(amounts * factor).astype(np.int64)
            dues = self._at_position(positions + minutes - 1) + np.timedelta64(1, "m")
        return starts, np.where(amounts == 0, starts, dues)

    def due_all(self, dossiers: Dossiers) -> tuple[np.ndarray, np.ndarray]:
        starts = np.empty(dossiers.size, dtype="datetime64[m]")
        dues = np.empty(dossiers.size, dtype="datetime64[m]")
        for unit, rows in dossiers.groups.items():
            cutoff = SAME_DAY_CUTOFF_MINUTE if unit is Unit.SAME_DAY else None
            starts[rows], dues[rows] = self.due(dossiers.received[rows], dossiers.amounts[rows], unit, cutoff)
        return starts, dues


# per-row implementations


class DayWalker:
    """Independent per-row reference: a set of working dates and a walk over days and periods."""

    def __init__(self, working_hours) -> None:
        package = holidays.country_holidays("VN", years=range(FIRST_YEAR - 1, LAST_YEAR + 2), language="vi")
        decided = dict.fromkeys(package, False) | dict.fromkeys(package.weekend_workdays, True)
        decided |= {override.day: override.kind == "workday" for override in SHIPPED_OVERRIDES}
        first, last = date(FIRST_YEAR, 1, 1), date(LAST_YEAR, 12, 31)
        self.working_day_numbers = {
            (day - EPOCH).days
            for day in (first + timedelta(days=n) for n in range((last - first).days + 1))
            if decided.get(day, day.weekday() < 5)
        }
        self.periods = [(o.hour * 60 + o.minute, c.hour * 60 + c.minute) for o, c in working_hours]
        self.closing_minute = self.periods[-1][1]

    def clock_start(self, received: int, cutoff_minute: int | None) -> int:
        day, minute = divmod(received, 1440)
        if cutoff_minute is not None and day in self.working_day_numbers and minute > cutoff_minute:
            day, minute = day + 1, 0
        while True:
            if day in self.working_day_numbers:
                for opening, closing in self.periods:
                    if minute < closing:
                        return day * 1440 + max(minute, opening)
            day, minute = day + 1, 0

    def add_minutes(self, start: int, minutes: int) -> int:
        if minutes == 0:
            return start
        day, minute = divmod(start, 1440)
        remaining = minutes
        while True:
            if day in self.working_day_numbers:
                for opening, closing in self.periods:
                    if minute < closing:
                        begin = max(minute, opening)
                        if remaining <= closing - begin:
                            return day * 1440 + begin + remaining
                        remaining -= closing - begin
                        minute = closing
            day, minute = day + 1, 0

    def working_minutes(self, start: int, end: int) -> int:
        total = 0
        for day in range(start // 1440, end // 1440 + 1):
            if day in self.working_day_numbers:
                for opening, closing in self.periods:
                    begin = max(day * 1440 + opening, start)
                    finish = min(day * 1440 + closing, end)
                    total += max(finish - begin, 0)
        return total

    def due(self, received: int, amount: float, unit: Unit, cutoff_minute: int | None) -> tuple[int, int]:
        start = self.clock_start(received, cutoff_minute)
        if unit is Unit.SAME_DAY:
            return start, start // 1440 * 1440 + self.closing_minute
        if unit is Unit.CALENDAR_DAYS:
            if amount == 0:
                return start, start
            day = start // 1440 + int(amount)
            while day not in self.working_day_numbers:
                day += 1
            return start, day * 1440 + self.closing_minute
        minutes_per_day = sum(closing - opening for opening, closing in self.periods)
        factor = minutes_per_day if unit is Unit.WORKING_DAYS else 60
        return start, self.add_minutes(start, round(amount * factor))


class HolidaysPackageRows:
    """Per-row deadlines the way the holidays package offers: ``is_working_day`` and
    ``get_nth_working_day`` for the days, plain Python for the minutes within a day."""

    def __init__(self, working_hours) -> None:
        self.package = holidays.country_holidays("VN", years=range(FIRST_YEAR, LAST_YEAR + 1), language="vi")
        for override in SHIPPED_OVERRIDES:
            if override.kind == "off":
                self.package[override.day] = override.reason
                self.package.weekend_workdays.discard(override.day)
            else:
                if override.day in self.package:
                    self.package.pop(override.day)
                if override.day.weekday() >= 5:
                    self.package.weekend_workdays.add(override.day)
        self.periods = [(o.hour * 60 + o.minute, c.hour * 60 + c.minute) for o, c in working_hours]
        self.minutes_per_day = sum(closing - opening for opening, closing in self.periods)
        self.closing_minute = self.periods[-1][1]

    def _elapsed(self, minute: int) -> int:
        return sum(max(0, min(minute, closing) - opening) for opening, closing in self.periods)

    def _minute_at(self, offset: int) -> int:
        for opening, closing in self.periods:
            if offset < closing - opening:
                return opening + offset
            offset -= closing - opening
        raise AssertionError(offset)

    def due(self, received: int, amount: float, unit: Unit, cutoff_minute: int | None) -> tuple[int, int]:
        package = self.package
        day = EPOCH + timedelta(days=received // 1440)
        minute = received % 1440
        if (
            not package.is_working_day(day)
            or minute >= self.closing_minute
            or (cutoff_minute is not None and minute > cutoff_minute)
        ):
            day, minute = package.get_nth_working_day(day, 1), 0
        offset = self._elapsed(minute)
        start_minute = self._minute_at(offset)
        start = (day - EPOCH).days * 1440 + start_minute
        if unit is Unit.SAME_DAY:
            return start, (day - EPOCH).days * 1440 + self.closing_minute
        if amount == 0:
            return start, start
        if unit is Unit.CALENDAR_DAYS:
            closing_day = package.get_nth_working_day(day + timedelta(days=int(amount)), 0)
            return start, (closing_day - EPOCH).days * 1440 + self.closing_minute
        factor = self.minutes_per_day if unit is Unit.WORKING_DAYS else 60
        whole_days, last_offset = divmod(offset + round(amount * factor) - 1, self.minutes_per_day)
        due_day = package.get_nth_working_day(day, whole_days)
        return start, (due_day - EPOCH).days * 1440 + self._minute_at(last_offset) + 1


def per_row(implementation, dossiers: Dossiers, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    received_local = (dossiers.received[rows].view(np.int64) + LOCAL_OFFSET_MINUTES).tolist()
    amounts = dossiers.amounts[rows].tolist()
    units = dossiers.units()[rows].tolist()
    starts, dues = [], []
    for received, amount, unit_index in zip(received_local, amounts, units, strict=True):
        unit = UNITS[unit_index]
        cutoff = SAME_DAY_CUTOFF_MINUTE if unit is Unit.SAME_DAY else None
        start, due = implementation.due(received, amount, unit, cutoff)
        starts.append(start)
        dues.append(due)
    return _utc(starts), _utc(dues)


def _utc(local_minutes: list[int]) -> np.ndarray:
    return (np.array(local_minutes, dtype=np.int64) - LOCAL_OFFSET_MINUTES).view("datetime64[m]")


def best_seconds(run: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        began = perf_counter()
        run()
        best = min(best, perf_counter() - began)
    return best


def wrong_rows(starts: np.ndarray, dues: np.ndarray, expected: tuple[np.ndarray, np.ndarray]) -> int:
    return int(np.count_nonzero((starts != expected[0]) | (dues != expected[1])))


def report(label: str, rows: int, seconds: float, note: str = "") -> None:
    print(f"  {label:<52} {rows:>11,} rows {seconds:9.3f} s {rows / seconds / 1e6:9.2f} M rows/s  {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--agreement-rows", type=int, default=1_000_000)
    parser.add_argument("--package-sample", type=int, default=30_000)
    parser.add_argument("--seed", type=int, default=2025)
    arguments = parser.parse_args()

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    calendar = WorkingCalendar(first_year=FIRST_YEAR, last_year=LAST_YEAR, overrides=SHIPPED_OVERRIDES)
    busday = BusdayEngine(calendar)
    shares = ", ".join(f"{unit.value} {share:.0%}" for unit, share in UNIT_SHARES.items())
    print(
        f"numpy {np.__version__}, holidays {holidays.__version__}, python {sys.version.split()[0]}, "
        f"one core (affinity {sorted(os.sched_getaffinity(0))})"
    )
    print(
        f"received uniformly in {RECEIVED_FROM} .. {RECEIVED_UNTIL} (local), unit mix: {shares}; working_days "
        "in halves 0.5..15, working_hours 1..40, calendar_days 1..30, same_day with cut-off 15:00; "
        f"elapsed to received + 0..{ELAPSED_MAX_DAYS} days"
    )

    for size in arguments.sizes:
        dossiers = make_dossiers(size, arguments.seed)
        working_days = dossiers.groups[Unit.WORKING_DAYS]
        print(f"\n{size:,} dossiers")
        seconds = best_seconds(partial(engine_due, calendar, dossiers), repeats=3)
        report("WorkingCalendar.due (clock start + due), unit mix", size, seconds)
        seconds = best_seconds(
            partial(calendar.due, dossiers.received[working_days], dossiers.amounts[working_days], "working_days"),
            repeats=3,
        )
        report("WorkingCalendar.due, working_days only", working_days.stop - working_days.start, seconds)
        seconds = best_seconds(partial(calendar.working_minutes, dossiers.received, dossiers.ended), repeats=3)
        report("WorkingCalendar.working_minutes (elapsed)", size, seconds)
        due_bytes, elapsed_bytes = engine_memory_per_dossier(calendar, dossiers)
        print(
            f"  memory per dossier: due {due_bytes:.1f} B allocated (outputs: start + due 16 B) + 16 B inputs; "
            f"elapsed {elapsed_bytes:.1f} B allocated (output 8 B) + 16 B inputs"
        )

        ours = joined(engine_due(calendar, dossiers))
        seconds = best_seconds(partial(busday.due_all, dossiers), repeats=1)
        report(
            "numpy busday_offset/busday_count + holiday list",
            size,
            seconds,
            f"wrong vs ours: {wrong_rows(*busday.due_all(dossiers), ours):,}",
        )

        if size == arguments.agreement_rows:
            check_agreement(calendar, dossiers, ours)

        sample_rows = np.unique(np.linspace(0, size - 1, min(arguments.package_sample, size), dtype=np.int64))
        began = perf_counter()
        package_answers = per_row(HolidaysPackageRows(calendar.working_hours), dossiers, sample_rows)
        seconds = perf_counter() - began
        report(
            f"holidays get_nth_working_day, per row ({sample_rows.size:,} sample)",
            sample_rows.size,
            seconds,
            f"extrapolated to {size:,}: {seconds * size / sample_rows.size:,.0f} s; wrong vs ours in sample: "
            f"{wrong_rows(*package_answers, (ours[0][sample_rows], ours[1][sample_rows])):,}",
        )


def check_agreement(calendar: WorkingCalendar, dossiers: Dossiers, ours: tuple[np.ndarray, np.ndarray]) -> None:
    walker = DayWalker(calendar.working_hours)
    began = perf_counter()
    expected = per_row(walker, dossiers, np.arange(dossiers.size))
    seconds = perf_counter() - began
    report(
        "day-walking reference, per row (Python)",
        dossiers.size,
        seconds,
        f"rows differing from ours: {wrong_rows(*ours, expected):,}",
    )
    elapsed = calendar.working_minutes(dossiers.received, dossiers.ended).tolist()
    received_local = (dossiers.received.view(np.int64) + LOCAL_OFFSET_MINUTES).tolist()
    ended_local = (dossiers.ended.view(np.int64) + LOCAL_OFFSET_MINUTES).tolist()
    differing = sum(
        walker.working_minutes(start, end) != minutes
        for start, end, minutes in zip(received_local, ended_local, elapsed, strict=True)
    )
    print(f"  elapsed working minutes differing from the day-walking reference: {differing:,} of {dossiers.size:,}")


if __name__ == "__main__":
    main()
