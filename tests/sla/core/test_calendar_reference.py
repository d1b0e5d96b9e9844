"""The vectorised calendar against a deliberately simple reference that walks minute by minute.

The reference knows only a set of working dates (taken from ``special_days``, which
test_calendar.py pins to domain.md §6) and the working periods; everything else is counting."""

from datetime import date, time, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seed.calendar import national_overrides
from sla.core.calendar import WorkingCalendar

SHIPPED_OVERRIDES = national_overrides()

FIRST_DAY, LAST_DAY = date(2024, 1, 1), date(2026, 12, 31)
LOCAL_OFFSET_MINUTES = 7 * 60
EPOCH = date(1970, 1, 1)

CALENDARS = {
    "default": WorkingCalendar(first_year=2024, last_year=2026, overrides=SHIPPED_OVERRIDES),
    "provincial": WorkingCalendar(
        first_year=2024,
        last_year=2026,
        overrides=SHIPPED_OVERRIDES,
        working_hours=((time(7), time(11, 30)), (time(13, 30), time(17))),
    ),
}


def minute_of_day(moment: time) -> int:
    return moment.hour * 60 + moment.minute


class MinuteWalker:
    """Local minutes since 1970; one step is one minute."""

    def __init__(self, calendar: WorkingCalendar) -> None:
        special = {
            info.day: info.kind == "workday"
            for year in range(calendar.first_year, calendar.last_year + 1)
            for info in calendar.special_days(year)
        }
        self.working_day_numbers = {
            (day - EPOCH).days
            for day in (FIRST_DAY + timedelta(days=n) for n in range((LAST_DAY - FIRST_DAY).days + 1))
            if special.get(day, day.weekday() < 5)
        }
        self.working_minute_of_day = [False] * 1440
        for opening, closing in calendar.working_hours:
            for minute in range(minute_of_day(opening), minute_of_day(closing)):
                self.working_minute_of_day[minute] = True
        self.closing_minute = minute_of_day(calendar.working_hours[-1][1])

    def is_working(self, minute: int) -> bool:
        return minute // 1440 in self.working_day_numbers and self.working_minute_of_day[minute % 1440]

    def clock_start(self, received: int, cutoff: time | None) -> int:
        moment = received
        day = received // 1440
        if cutoff is not None and day in self.working_day_numbers and received % 1440 > minute_of_day(cutoff):
            moment = (day + 1) * 1440
        while not self.is_working(moment):
            moment += 1
        return moment

    def add_minutes(self, start: int, minutes: int) -> int:
        moment, counted = start, 0
        while counted < minutes:
            counted += self.is_working(moment)
            moment += 1
        return moment

    def working_minutes(self, start: int, end: int) -> int:
        return sum(self.is_working(moment) for moment in range(start, end))

    def close_of_working_day_from(self, day_number: int) -> int:
        while day_number not in self.working_day_numbers:
            day_number += 1
        return day_number * 1440 + self.closing_minute


WALKERS = {name: MinuteWalker(calendar) for name, calendar in CALENDARS.items()}


def utc_array(local_minutes: list[int]) -> np.ndarray:
    return (np.array(local_minutes, dtype=np.int64) - LOCAL_OFFSET_MINUTES).view("datetime64[m]")


def local_list(utc_instants: np.ndarray) -> list[int]:
    return (utc_instants.view(np.int64) + LOCAL_OFFSET_MINUTES).tolist()


BOUNDARY_MINUTES = sorted(
    {
        minute_of_day(moment) + delta
        for hours in (calendar.working_hours for calendar in CALENDARS.values())
        for period in hours
        for moment in period
        for delta in (-1, 0, 1)
    }
    | {0, 899, 900, 901, 1439}
)
SPECIAL_DAY_NUMBERS = sorted(
    (info.day - EPOCH).days + delta
    for calendar in CALENDARS.values()
    for year in (2024, 2025, 2026)
    for info in calendar.special_days(year)
    for delta in (-1, 0, 1)
)
FIRST_DAY_NUMBER, LAST_RECEIVED_DAY_NUMBER = (FIRST_DAY - EPOCH).days, (date(2026, 12, 10) - EPOCH).days
day_numbers = st.one_of(
    st.sampled_from([day for day in SPECIAL_DAY_NUMBERS if FIRST_DAY_NUMBER <= day <= LAST_RECEIVED_DAY_NUMBER]),
    st.integers(FIRST_DAY_NUMBER, LAST_RECEIVED_DAY_NUMBER),
)
local_instants = st.builds(
    lambda day, minute: day * 1440 + minute,
    day_numbers,
    st.one_of(st.sampled_from(BOUNDARY_MINUTES), st.integers(0, 1439)),
)
calendar_names = st.sampled_from(sorted(CALENDARS))
cutoffs = st.sampled_from([None, time(15), time(11, 30)])


def rows(amounts: st.SearchStrategy) -> st.SearchStrategy:
    return st.lists(st.tuples(local_instants, amounts), min_size=1, max_size=4)


examples = settings(max_examples=200, deadline=None)


@examples
@given(calendar_names, rows(st.integers(0, 8).map(lambda halves: halves / 2)), cutoffs)
def test_working_days_match_reference(calendar_name, cases, cutoff):
    calendar, walker = CALENDARS[calendar_name], WALKERS[calendar_name]
    received, amounts = zip(*cases, strict=True)
    starts, dues = calendar.due(utc_array(list(received)), np.array(amounts), "working_days", cutoff)
    expected_starts = [walker.clock_start(moment, cutoff) for moment in received]
    expected_dues = [
        walker.add_minutes(start, int(amount * calendar.minutes_per_day))
        for start, amount in zip(expected_starts, amounts, strict=True)
    ]
    assert local_list(starts) == expected_starts
    assert local_list(dues) == expected_dues


@examples
@given(calendar_names, rows(st.floats(0, 30, allow_nan=False)))
def test_working_hours_match_reference(calendar_name, cases):
    calendar, walker = CALENDARS[calendar_name], WALKERS[calendar_name]
    received, hours = zip(*cases, strict=True)
    starts, dues = calendar.due(utc_array(list(received)), np.array(hours), "working_hours")
    expected_starts = [walker.clock_start(moment, None) for moment in received]
    assert local_list(starts) == expected_starts
    assert local_list(dues) == [
        walker.add_minutes(start, round(amount * 60)) for start, amount in zip(expected_starts, hours, strict=True)
    ]


@examples
@given(calendar_names, rows(st.integers(-600, 6 * 1440)))
def test_working_minutes_match_reference(calendar_name, cases):
    calendar, walker = CALENDARS[calendar_name], WALKERS[calendar_name]
    starts = [start for start, _ in cases]
    ends = [max(start + length, FIRST_DAY_NUMBER * 1440) for start, length in cases]
    minutes = calendar.working_minutes(utc_array(starts), utc_array(ends))
    assert minutes.tolist() == [walker.working_minutes(start, end) for start, end in zip(starts, ends, strict=True)]
    shifted = calendar.add_working_minutes(utc_array(starts), minutes)
    assert local_list(shifted) == [
        walker.add_minutes(start, count) for start, count in zip(starts, minutes.tolist(), strict=True)
    ]


@examples
@given(calendar_names, rows(st.integers(0, 12)), cutoffs)
def test_calendar_days_and_same_day_match_reference(calendar_name, cases, cutoff):
    calendar, walker = CALENDARS[calendar_name], WALKERS[calendar_name]
    received, days = zip(*cases, strict=True)
    received_utc = utc_array(list(received))
    starts, calendar_dues = calendar.due(received_utc, np.array(days), "calendar_days", cutoff)
    _, same_day_dues = calendar.due(received_utc, None, "same_day", cutoff)
    expected_starts = [walker.clock_start(moment, cutoff) for moment in received]
    assert local_list(starts) == expected_starts
    assert local_list(calendar_dues) == [
        start if count == 0 else walker.close_of_working_day_from(start // 1440 + count)
        for start, count in zip(expected_starts, days, strict=True)
    ]
    assert local_list(same_day_dues) == [walker.close_of_working_day_from(start // 1440) for start in expected_starts]


@pytest.mark.parametrize("name", sorted(CALENDARS))
def test_reference_agrees_on_the_domain_example(name):
    walker = WALKERS[name]
    friday_nine = (date(2025, 4, 25) - EPOCH).days * 1440 + 9 * 60
    due = walker.add_minutes(walker.clock_start(friday_nine, None), 3 * 480)
    assert due == (date(2025, 4, 29) - EPOCH).days * 1440 + 9 * 60
