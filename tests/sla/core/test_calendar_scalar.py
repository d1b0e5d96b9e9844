"""The scalar methods (due_at, minutes_between, shift) against the vectorised ones on one-element arrays:
same instants, and the same CalendarError message for bad input or an instant outside the years."""

from datetime import UTC, date, datetime, time, timedelta, timezone

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from seed.calendar import national_overrides
from sla.core.calendar import CalendarError, WorkingCalendar

CALENDARS = {
    "default": WorkingCalendar(first_year=2024, last_year=2026, overrides=national_overrides()),
    "provincial": WorkingCalendar(
        first_year=2024,
        last_year=2026,
        overrides=national_overrides(),
        working_hours=((time(7), time(11, 30)), (time(13, 30), time(17))),
    ),
    "odd-minutes": WorkingCalendar(first_year=2025, last_year=2025, working_hours=((time(8), time(12, 1)),)),
}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ZONES = (UTC, timezone(timedelta(hours=7)), timezone(timedelta(hours=-5, minutes=-30)))

calendar_names = st.sampled_from(sorted(CALENDARS))
LOCAL = timezone(timedelta(hours=7))
EDGE_DAYS = [date(2023, 12, 31), date(2024, 1, 1), date(2024, 12, 31), date(2025, 1, 1), date(2025, 12, 31)]
EDGE_DAYS += [date(2026, 1, 1), date(2026, 12, 31), date(2027, 1, 1)]
SPECIAL_DAYS = [
    info.day + timedelta(days=delta)
    for year in (2024, 2025, 2026)
    for info in CALENDARS["default"].special_days(year)
    for delta in (-1, 0, 1)
]
# opening, closing and cut-off minutes of every calendar, and either side of them
BOUNDARY_MINUTES = sorted(
    {
        moment.hour * 60 + moment.minute + delta
        for calendar in CALENDARS.values()
        for period in calendar.working_hours
        for moment in period
        for delta in (-1, 0, 1)
    }
    | {0, 1, 689, 690, 691, 899, 900, 901, 1018, 1019, 1020, 1438, 1439}
)
local_days = st.one_of(
    st.sampled_from(EDGE_DAYS),
    st.sampled_from(SPECIAL_DAYS),
    st.dates(min_value=date(2023, 12, 25), max_value=date(2027, 1, 7)),
)
local_minutes = st.one_of(st.sampled_from(BOUNDARY_MINUTES), st.integers(0, 1439))
# local instants of the range and a few days either side (to reach the errors too), in any zone,
# with seconds that the calendar floors away
instants = st.builds(
    lambda day, minute, second, zone: (
        datetime.combine(day, time(), LOCAL) + timedelta(minutes=minute, seconds=second)
    ).astimezone(zone),
    local_days,
    local_minutes,
    st.sampled_from([0, 0, 0, 59, 30]),
    st.sampled_from(ZONES),
)
amounts = st.one_of(
    st.none(),
    st.integers(-2, 40),
    st.integers(0, 40),
    st.integers(0, 80).map(lambda halves: halves / 2),
    st.floats(-1, 400),
    st.integers(0, 3 * 480).map(lambda minutes: minutes / 60),
    st.sampled_from([0.3, 1.25, float("nan"), float("inf"), 10**9, "3", True]),
)
units = st.sampled_from(["working_days", "working_hours", "calendar_days", "same_day", "days"])
cutoffs = st.sampled_from([None, time(15), time(11, 30), time(16, 59), time(15, 0, 30)])
minutes = st.one_of(st.integers(-5, 20 * 480), st.sampled_from([0, 1, 10**9, 1.5, 2.0]))


def one_instant(moment: datetime) -> np.ndarray:
    return np.array([(moment - EPOCH) // timedelta(minutes=1)], dtype=np.int64).view("datetime64[m]")


def as_datetime(instant: np.datetime64) -> datetime:
    return EPOCH + timedelta(minutes=int(instant.view(np.int64)))


def answer(call):
    """The value, or the error message: both paths must agree on either."""
    try:
        return "value", call()
    except CalendarError as exc:
        return "error", str(exc)


examples = settings(max_examples=250, deadline=None)


@st.composite
def receipts(draw) -> tuple[datetime, time | None]:
    """A receipt and a cut-off, the receipt often a minute either side of the cut-off."""
    cutoff = draw(cutoffs)
    received = draw(instants)
    if cutoff is not None and draw(st.booleans()):
        local = received.astimezone(LOCAL)
        minute = cutoff.hour * 60 + cutoff.minute + draw(st.sampled_from([-1, 0, 1]))
        received = (datetime.combine(local.date(), time(), LOCAL) + timedelta(minutes=minute)).astimezone(
            received.tzinfo
        )
    return received, cutoff


@examples
@given(calendar_names, receipts(), amounts, units)
def test_due_at_is_due_of_one(calendar_name, receipt, amount, unit):
    calendar = CALENDARS[calendar_name]
    received, cutoff = receipt

    def vectorised():
        start, due = calendar.due(one_instant(received), amount, unit, cutoff)
        return as_datetime(start[0]), as_datetime(due[0])

    expected = answer(vectorised)
    assert answer(lambda: calendar.due_at(received, amount, unit, cutoff)) == expected
    assert answer(lambda: calendar.due_at(received, amount, unit, cutoff)) == expected  # the remembered amount


@examples
@given(calendar_names, instants, instants)
def test_minutes_between_is_working_minutes_of_one(calendar_name, start, end):
    calendar = CALENDARS[calendar_name]
    expected = answer(lambda: int(calendar.working_minutes(one_instant(start), one_instant(end))[0]))
    assert answer(lambda: calendar.minutes_between(start, end)) == expected


@examples
@given(calendar_names, instants, minutes)
def test_shift_is_add_working_minutes_of_one(calendar_name, start, count):
    calendar = CALENDARS[calendar_name]
    expected = answer(lambda: as_datetime(calendar.add_working_minutes(one_instant(start), count)[0]))
    assert answer(lambda: calendar.shift(start, count)) == expected


def test_scalar_answers_are_aware_utc_datetimes():
    calendar = CALENDARS["default"]
    received = datetime(2025, 4, 25, 9, 0, 40, tzinfo=timezone(timedelta(hours=7)))
    start, due = calendar.due_at(received, 3, "working_days")
    assert (start, due) == (datetime(2025, 4, 25, 2, tzinfo=UTC), datetime(2025, 4, 29, 2, tzinfo=UTC))
    assert type(start) is datetime and start.tzinfo is UTC
    assert type(calendar.minutes_between(received, due)) is int
    assert calendar.shift(received, 480).tzinfo is UTC
