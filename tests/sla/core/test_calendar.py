"""The working calendar against domain.md §6 and the clock rules of §3, worked out by hand in local
time (Asia/Ho_Chi_Minh)."""

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from seed.calendar import national_overrides
from sla.core.calendar import (
    OUTCOME_EARLY,
    OUTCOME_LATE,
    OUTCOME_NAMES,
    OUTCOME_ON_TIME,
    OVERDUE,
    WITHIN,
    CalendarError,
    Override,
    Unit,
    WorkingCalendar,
)

SHIPPED_OVERRIDES = national_overrides()

VN = ZoneInfo("Asia/Ho_Chi_Minh")
PROVINCIAL_HOURS = ((time(7), time(11, 30)), (time(13, 30), time(17)))

# domain.md §6, cell by cell.
DOMAIN_TABLE = {
    2024: ("01/01; 08–14/02; 18/04; 29/04 (swap), 30/04, 01/05; 02–03/09", "04/05"),
    2025: ("01/01; 27–31/01; 07/04; 30/04, 01/05, 02/05 (swap); 01–02/09", "26/04"),
    2026: (
        "01/01, 02/01 (swap); 16–20/02; 27/04 (compensatory); 30/04, 01/05; 31/08 (swap), 01–02/09",
        "10/01, 22/08",
    ),
}


def table_days(year: int, cell: str) -> set[date]:
    """Dates of a §6 cell: 'dd/mm' or 'dd–dd/mm' items separated by ',' or ';'."""
    days = set()
    for item in re.split(r"[;,]", re.sub(r"\(.*?\)", "", cell)):
        first, _, rest = item.strip().partition("–")
        last_day, month = map(int, (rest or first).split("/"))
        first_day = int(first.split("/")[0])
        days |= {date(year, month, day) for day in range(first_day, last_day + 1)}
    return days


def table_days_off(year: int) -> set[date]:
    return {day for day in table_days(year, DOMAIN_TABLE[year][0]) if day.weekday() < 5}


def table_make_up_days(year: int) -> set[date]:
    return table_days(year, DOMAIN_TABLE[year][1])


def local(day: int, month: int, year: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=VN)


def instants(*moments: datetime) -> np.ndarray:
    return np.array([moment.astimezone(UTC).replace(tzinfo=None) for moment in moments], dtype="datetime64[m]")


@pytest.fixture(scope="module")
def calendar() -> WorkingCalendar:
    return WorkingCalendar(first_year=2024, last_year=2026, overrides=SHIPPED_OVERRIDES, version="test")


@pytest.fixture(scope="module")
def provincial() -> WorkingCalendar:
    return WorkingCalendar(first_year=2024, last_year=2026, overrides=SHIPPED_OVERRIDES, working_hours=PROVINCIAL_HOURS)


def due_local(calendar: WorkingCalendar, received: datetime, amount, unit, cutoff=None) -> tuple[datetime, datetime]:
    start, due = calendar.due_at(received, amount, unit, cutoff)
    return start.astimezone(VN), due.astimezone(VN)


# §6: the calendar data


@pytest.mark.parametrize("year", sorted(DOMAIN_TABLE))
def test_special_days_are_the_domain_table(calendar, year):
    special = calendar.special_days(year)
    assert {info.day for info in special if info.kind == "off"} == table_days_off(year)
    assert {info.day for info in special if info.kind == "workday"} == table_make_up_days(year)
    assert [info.day for info in special] == sorted(info.day for info in special)


def test_known_overrides_are_exactly_what_the_package_misses():
    package_only = WorkingCalendar(first_year=2024, last_year=2026)
    differences = set()
    for year in DOMAIN_TABLE:
        listed = {(info.day, info.kind) for info in package_only.special_days(year)}
        expected = {(day, "off") for day in table_days_off(year)} | {
            (day, "workday") for day in table_make_up_days(year)
        }
        differences |= {day for day, _ in listed ^ expected}
    assert differences == {override.day for override in SHIPPED_OVERRIDES}


def test_every_day_of_the_range_follows_the_table(calendar):
    days = np.arange("2024-01-01", "2027-01-01", dtype="datetime64[D]")
    expected = [
        (day.weekday() < 5) != (day in table_days_off(day.year) | table_make_up_days(day.year))
        for day in days.astype(date)
    ]
    assert calendar.is_working_day(days).tolist() == expected


def test_special_days_tell_their_source(calendar):
    by_day = {info.day: info for year in DOMAIN_TABLE for info in calendar.special_days(year)}
    swap_off, make_up = by_day[date(2026, 1, 2)], by_day[date(2026, 1, 10)]
    assert (swap_off.source, swap_off.kind, swap_off.legal_ref) == ("override", "off", "Công văn 12729/VPCP-KGVX")
    assert (make_up.source, make_up.kind) == ("override", "workday")
    assert by_day[date(2025, 4, 26)].source == "package"
    assert by_day[date(2025, 4, 26)].reason == "Ngày làm bù cho ngày nghỉ 02/05/2025"
    assert by_day[date(2024, 9, 2)].reason == "Quốc khánh"
    assert date(2026, 11, 24) not in by_day
    assert calendar.is_working_day(np.array(["2026-11-24"], dtype="datetime64[D]")).tolist() == [True]


def test_working_days_lists_make_up_saturday(calendar):
    assert calendar.working_days(date(2025, 4, 25), date(2025, 5, 5)) == [
        date(2025, 4, 25),
        date(2025, 4, 26),
        date(2025, 4, 28),
        date(2025, 4, 29),
        date(2025, 5, 5),
    ]
    assert calendar.working_days(date(2025, 5, 5), date(2025, 5, 4)) == []


def test_default_working_day_is_eight_hours(calendar, provincial):
    assert calendar.minutes_per_day == provincial.minutes_per_day == 480


# §3: clock start


@pytest.mark.parametrize(
    ("received", "expected_start"),
    [
        pytest.param(local(25, 4, 2025, 9), local(25, 4, 2025, 9), id="inside-morning"),
        pytest.param(local(25, 4, 2025, 8), local(25, 4, 2025, 8), id="at-opening"),
        pytest.param(local(25, 4, 2025, 7, 59), local(25, 4, 2025, 8), id="before-opening"),
        pytest.param(local(25, 4, 2025, 12), local(25, 4, 2025, 13), id="at-12:00"),
        pytest.param(local(25, 4, 2025, 12, 30), local(25, 4, 2025, 13), id="lunch-break"),
        pytest.param(local(25, 4, 2025, 16, 59), local(25, 4, 2025, 16, 59), id="last-minute"),
        pytest.param(local(25, 4, 2025, 17), local(26, 4, 2025, 8), id="at-17:00-to-make-up-saturday"),
        pytest.param(local(25, 4, 2025, 21), local(26, 4, 2025, 8), id="evening"),
        pytest.param(local(26, 4, 2025, 9, 30), local(26, 4, 2025, 9, 30), id="on-make-up-saturday"),
        pytest.param(local(3, 5, 2025, 10), local(5, 5, 2025, 8), id="plain-saturday"),
        pytest.param(local(30, 4, 2025, 10), local(5, 5, 2025, 8), id="holiday"),
        pytest.param(local(28, 1, 2025, 10), local(3, 2, 2025, 8), id="tet"),
        pytest.param(local(2, 1, 2026, 10), local(5, 1, 2026, 8), id="override-day-off"),
        pytest.param(local(9, 1, 2026, 18), local(10, 1, 2026, 8), id="override-make-up-saturday"),
    ],
)
def test_clock_start(calendar, received, expected_start):
    (start,) = calendar.clock_start(instants(received))
    assert start == instants(expected_start)[0]


@pytest.mark.parametrize(
    ("received", "expected_start"),
    [
        pytest.param(local(24, 4, 2025, 14, 59), local(24, 4, 2025, 14, 59), id="before"),
        pytest.param(local(24, 4, 2025, 15), local(24, 4, 2025, 15), id="at"),
        pytest.param(local(24, 4, 2025, 15, 1), local(25, 4, 2025, 8), id="after"),
        pytest.param(local(25, 4, 2025, 15, 30), local(26, 4, 2025, 8), id="after-to-make-up-saturday"),
        pytest.param(local(29, 4, 2025, 16), local(5, 5, 2025, 8), id="after-before-holidays"),
        pytest.param(local(30, 4, 2025, 16), local(5, 5, 2025, 8), id="on-a-holiday"),
        pytest.param(local(24, 4, 2025, 7), local(24, 4, 2025, 8), id="early-morning"),
    ],
)
def test_clock_start_with_cutoff(calendar, received, expected_start):
    (start,) = calendar.clock_start(instants(received), cutoff=time(15))
    assert start == instants(expected_start)[0]


# §3: due per unit


def test_domain_example_make_up_saturday_is_day_one(calendar):
    assert due_local(calendar, local(25, 4, 2025, 9), 3, "working_days") == (
        local(25, 4, 2025, 9),
        local(29, 4, 2025, 9),
    )


@pytest.mark.parametrize(
    ("received", "amount", "unit", "expected_due"),
    [
        pytest.param(local(24, 4, 2025, 8), 1, Unit.WORKING_DAYS, local(24, 4, 2025, 17), id="day-ends-17:00"),
        pytest.param(local(24, 4, 2025, 8), 0.5, "working_days", local(24, 4, 2025, 12), id="half-ends-12:00"),
        pytest.param(local(24, 4, 2025, 10), 0.5, "working_days", local(24, 4, 2025, 15), id="half-over-lunch"),
        pytest.param(local(24, 4, 2025, 13), 0.5, "working_days", local(24, 4, 2025, 17), id="afternoon-half"),
        pytest.param(local(24, 4, 2025, 14), 1.5, "working_days", local(26, 4, 2025, 9), id="day-and-half"),
        pytest.param(local(29, 4, 2025, 9), 1, "working_days", local(5, 5, 2025, 9), id="over-holidays"),
        pytest.param(local(24, 4, 2025, 13), 4, "working_hours", local(24, 4, 2025, 17), id="hours-to-close"),
        pytest.param(local(24, 4, 2025, 11), 2.5, "working_hours", local(24, 4, 2025, 14, 30), id="hours-lunch"),
        pytest.param(local(24, 4, 2025, 16), 1 / 60, "working_hours", local(24, 4, 2025, 16, 1), id="one-minute"),
        pytest.param(local(21, 4, 2025, 10), 7, "calendar_days", local(28, 4, 2025, 17), id="calendar-plain"),
        pytest.param(local(22, 4, 2025, 10), 4, "calendar_days", local(26, 4, 2025, 17), id="calendar-make-up"),
        pytest.param(local(23, 4, 2025, 10), 7, "calendar_days", local(5, 5, 2025, 17), id="calendar-holiday"),
        pytest.param(local(8, 10, 2025, 10), 3, "calendar_days", local(13, 10, 2025, 17), id="calendar-weekend"),
        pytest.param(local(24, 4, 2025, 10), None, "same_day", local(24, 4, 2025, 17), id="same-day"),
        pytest.param(local(27, 4, 2025, 10), None, Unit.SAME_DAY, local(28, 4, 2025, 17), id="same-day-sunday"),
        pytest.param(local(24, 4, 2025, 17, 30), 1, "same_day", local(25, 4, 2025, 17), id="same-day-evening"),
    ],
)
def test_due(calendar, received, amount, unit, expected_due):
    _, due = due_local(calendar, received, amount, unit)
    assert due == expected_due


@pytest.mark.parametrize(
    ("received", "unit", "amount", "expected_due"),
    [
        (local(24, 4, 2025, 15), "same_day", None, local(24, 4, 2025, 17)),
        (local(24, 4, 2025, 15, 1), "same_day", None, local(25, 4, 2025, 17)),
        (local(24, 4, 2025, 15, 1), "working_days", 3, local(28, 4, 2025, 17)),
    ],
)
def test_due_with_cutoff(calendar, received, unit, amount, expected_due):
    _, due = due_local(calendar, received, amount, unit, cutoff=time(15))
    assert due == expected_due


@pytest.mark.parametrize("unit", ["working_days", "working_hours", "calendar_days"])
@pytest.mark.parametrize("received", [local(25, 4, 2025, 18), local(25, 4, 2025, 10)])
def test_zero_amount_is_due_at_clock_start(calendar, received, unit):
    start, due = calendar.due_at(received, 0, unit)
    assert due == start


def test_boundary_is_the_close_of_the_earlier_period(calendar):
    morning_close = local(24, 4, 2025, 12)
    day_close = local(24, 4, 2025, 17)
    assert calendar.shift(local(24, 4, 2025, 8), 240) == morning_close
    assert calendar.shift(local(24, 4, 2025, 13), 240) == day_close
    assert calendar.shift(day_close, 1) == local(25, 4, 2025, 8, 1)
    assert calendar.shift(day_close, 0) == day_close


def test_agency_storm_closure(calendar):
    storm = Override(date(2025, 4, 28), "off", "Nghỉ do bão", "Quyết định của Chủ tịch UBND tỉnh")
    closed = WorkingCalendar(first_year=2024, last_year=2026, overrides=(*SHIPPED_OVERRIDES, storm))
    assert due_local(closed, local(25, 4, 2025, 9), 3, "working_days")[1] == local(5, 5, 2025, 9)
    assert storm.day in {info.day for info in closed.special_days(2025) if info.source == "override"}
    assert due_local(calendar, local(25, 4, 2025, 9), 3, "working_days")[1] == local(29, 4, 2025, 9)


def test_later_override_wins_storm_on_make_up_saturday():
    storm = Override(date(2025, 4, 26), "off", "Nghỉ do bão")
    closed = WorkingCalendar(first_year=2025, last_year=2025, overrides=(*SHIPPED_OVERRIDES, storm))
    assert date(2025, 4, 26) not in {info.day for info in closed.special_days(2025)}
    assert due_local(closed, local(25, 4, 2025, 9), 3, "working_days")[1] == local(5, 5, 2025, 9)


@pytest.mark.parametrize(
    ("received", "amount", "unit", "expected_start", "expected_due"),
    [
        (local(24, 4, 2025, 6), 0.5, "working_days", local(24, 4, 2025, 7), local(24, 4, 2025, 11)),
        (local(24, 4, 2025, 7), 270 / 60, "working_hours", local(24, 4, 2025, 7), local(24, 4, 2025, 11, 30)),
        (local(24, 4, 2025, 9), 0.5, "working_days", local(24, 4, 2025, 9), local(24, 4, 2025, 15)),
        (local(24, 4, 2025, 11, 30), 1, "working_days", local(24, 4, 2025, 13, 30), local(25, 4, 2025, 11, 30)),
        (local(24, 4, 2025, 12), None, "same_day", local(24, 4, 2025, 13, 30), local(24, 4, 2025, 17)),
    ],
)
def test_provincial_working_hours(provincial, received, amount, unit, expected_start, expected_due):
    assert due_local(provincial, received, amount, unit) == (expected_start, expected_due)


def test_working_minutes(calendar):
    friday, monday = local(25, 4, 2025, 16), local(28, 4, 2025, 9)
    assert calendar.minutes_between(friday, monday) == 60 + 480 + 60
    assert calendar.minutes_between(monday, friday) == 0
    assert calendar.minutes_between(local(24, 4, 2025, 12), local(24, 4, 2025, 13)) == 0
    starts = instants(friday, friday, friday)
    ends = instants(monday, local(25, 4, 2025, 16, 30), local(25, 4, 2025, 15))
    assert calendar.working_minutes(starts, ends).tolist() == [600, 30, 0]
    assert calendar.working_minutes(starts, instants(monday)[0]).tolist() == [600, 600, 600]


def test_vectorised_equals_scalar(calendar):
    received = [local(25, 4, 2025, 9), local(25, 4, 2025, 17, 30), local(30, 4, 2025, 10), local(2, 1, 2026, 9)]
    amounts = np.array([3, 0.5, 0, 10])
    starts, dues = calendar.due(instants(*received), amounts, "working_days", cutoff=time(15))
    assert starts.dtype == dues.dtype == np.dtype("datetime64[m]")
    for moment, amount, start, due in zip(received, amounts, starts, dues, strict=True):
        assert calendar.due_at(moment, amount, "working_days", cutoff=time(15)) == (
            start.astype(datetime).replace(tzinfo=UTC),
            due.astype(datetime).replace(tzinfo=UTC),
        )
    assert (calendar.add(starts, amounts, "working_days") == dues).all()
    assert (calendar.add_working_minutes(starts, (amounts * 480).astype(int)) == dues).all()


def test_instants_of_finer_units_and_two_dimensions(calendar):
    received = instants(local(25, 4, 2025, 9, 0), local(25, 4, 2025, 18)).astype("datetime64[ns]")
    received[0] += np.timedelta64(59, "s")
    starts = calendar.clock_start(received.reshape(2, 1))
    assert starts.shape == (2, 1)
    assert starts.ravel().tolist() == instants(local(25, 4, 2025, 9), local(26, 4, 2025, 8)).tolist()


# §5: outcome and open state by local date


def test_outcome_compares_local_dates(calendar):
    due = local(29, 4, 2025, 9)
    finished = [local(28, 4, 2025, 16), local(29, 4, 2025, 16, 59), local(30, 4, 2025, 0, 30)]
    codes = calendar.outcome(instants(*finished), instants(due, due, due))
    assert codes.dtype == np.int8
    assert codes.tolist() == [OUTCOME_EARLY, OUTCOME_ON_TIME, OUTCOME_LATE]
    assert [OUTCOME_NAMES[code] for code in codes] == ["early", "on_time", "late"]


def test_open_state(calendar):
    due = instants(local(29, 4, 2025, 9), local(29, 4, 2025, 9))
    assert calendar.open_state(due, date(2025, 4, 29)).tolist() == [WITHIN, WITHIN]
    assert calendar.open_state(due, date(2025, 4, 30)).tolist() == [OVERDUE, OVERDUE]
    as_of = np.array(["2025-04-28", "2025-04-30"], dtype="datetime64[D]")
    assert calendar.open_state(due, as_of).tolist() == [WITHIN, OVERDUE]


# the covered range and bad input


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda c: c.due_at(local(31, 12, 2026, 16), 1, "working_days"), id="due-after-range"),
        pytest.param(lambda c: c.due_at(local(31, 12, 2026, 17, 30), 0, "working_days"), id="start-after-range"),
        pytest.param(lambda c: c.due_at(local(28, 12, 2026, 10), 5, "calendar_days"), id="calendar-after-range"),
        pytest.param(lambda c: c.due_at(local(1, 1, 2027, 10), 1, "working_days"), id="received-2027"),
        pytest.param(lambda c: c.due_at(local(31, 12, 2023, 23, 59), 1, "working_days"), id="received-2023"),
        pytest.param(lambda c: c.is_working_day(np.array(["2027-01-04"], dtype="datetime64[D]")), id="day"),
        pytest.param(lambda c: c.special_days(2023), id="special-days"),
        pytest.param(lambda c: c.working_days(date(2026, 12, 1), date(2027, 1, 31)), id="working-days"),
        pytest.param(lambda c: c.open_state(instants(local(2, 1, 2025, 9)), date(2027, 1, 1)), id="as-of"),
    ],
)
def test_outside_the_covered_years(calendar, call):
    with pytest.raises(CalendarError, match="2024–2026"):
        call(calendar)


def test_first_local_minute_of_the_range_is_covered(calendar):
    start, due = due_local(calendar, local(1, 1, 2024, 0), 1, "working_days")
    assert (start, due) == (local(2, 1, 2024, 8), local(2, 1, 2024, 17))
    assert due_local(calendar, local(31, 12, 2026, 9), 0.5, "working_days")[1] == local(31, 12, 2026, 14)


def test_missing_instant_is_named(calendar):
    received = np.array(["2025-04-25T02:00", "NaT"], dtype="datetime64[m]")
    with pytest.raises(CalendarError, match=r"received\[1\] = missing"):
        calendar.due(received, 1, "working_days")


@pytest.mark.parametrize(
    ("amount", "unit", "message"),
    [
        (1, "days", "accepted units: working_days, working_hours, calendar_days, same_day"),
        (-1, "working_days", "between 0"),
        (float("nan"), "working_hours", "between 0"),
        (float("inf"), "working_days", "between 0"),
        (0.3, "working_days", "multiples of 0.5"),
        (1.5, "calendar_days", "whole numbers"),
        (None, "working_days", "amount of working_days is required"),
        ("3", "working_days", "must be numbers"),
    ],
)
def test_bad_amounts_and_units(calendar, amount, unit, message):
    with pytest.raises(CalendarError, match=re.escape(message)):
        calendar.due_at(local(24, 4, 2025, 9), amount, unit)


def test_bad_amount_in_an_array_is_located(calendar):
    received = instants(*[local(24, 4, 2025, 9)] * 3)
    with pytest.raises(CalendarError, match=r"amounts\[2\] = 1.25"):
        calendar.due(received, np.array([1, 0.5, 1.25]), "working_days")
    with pytest.raises(CalendarError, match="shape"):
        calendar.due(received, np.array([1, 2]), "working_days")


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda c: c.clock_start(np.array(["2025-04-24"], dtype="datetime64[D]")), id="dates-as-instants"),
        pytest.param(lambda c: c.clock_start(np.array([1, 2])), id="integers"),
        pytest.param(lambda c: c.due_at(datetime(2025, 4, 24, 9), 1, "working_days"), id="naive-datetime"),
        pytest.param(lambda c: c.clock_start(instants(local(24, 4, 2025, 9)), cutoff=time(15, 0, 30)), id="cutoff"),
        pytest.param(lambda c: c.is_working_day(np.array(["2025-04-24T09:00"], dtype="datetime64[m]")), id="days"),
        pytest.param(lambda c: c.open_state(instants(local(24, 4, 2025, 9)), datetime(2025, 4, 24)), id="as-of"),
        pytest.param(lambda c: c.add_working_minutes(instants(local(24, 4, 2025, 9)), 1.5), id="minutes"),
    ],
)
def test_bad_input(calendar, call):
    with pytest.raises(CalendarError):
        call(calendar)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"first_year": 2026, "last_year": 2024}, "1 to 1000 years"),
        ({"first_year": 1975, "last_year": 2024}, "not UTC+07:00"),
        ({"working_hours": ((time(8), time(12)), (time(11), time(17)))}, "in order"),
        ({"working_hours": ((time(12), time(8)),)}, "in order"),
        ({"working_hours": ()}, "at least one period"),
    ],
)
def test_bad_calendars(kwargs, message):
    with pytest.raises(CalendarError, match=re.escape(message)):
        WorkingCalendar(**{"first_year": 2025, "last_year": 2025, **kwargs})


def test_bad_override():
    with pytest.raises(CalendarError, match="'off' or 'workday'"):
        Override(date(2025, 4, 28), "closed", "Nghỉ do bão")


def test_half_days_need_whole_minutes():
    odd = WorkingCalendar(first_year=2025, last_year=2025, working_hours=((time(8), time(12, 1)),))
    assert odd.minutes_per_day == 241
    assert odd.due_at(local(24, 4, 2025, 8), 1, "working_days")[1] == local(24, 4, 2025, 12, 1)
    with pytest.raises(CalendarError, match="half day"):
        odd.due_at(local(24, 4, 2025, 8), 0.5, "working_days")


def test_instants_come_back_in_utc(calendar):
    start, due = calendar.due_at(local(25, 4, 2025, 9), 3, "working_days")
    assert start.tzinfo is UTC and due == datetime(2025, 4, 29, 2, tzinfo=UTC)
    assert calendar.shift(local(25, 4, 2025, 9) + timedelta(seconds=40), 0) == local(25, 4, 2025, 9)
