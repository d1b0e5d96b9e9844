"""A complaint's working-day clocks and its state, derived from its events; pure (no database).

The clocks (Decision 766, indicator 5.2; index766.md) count working days on the handling unit's
calendar from the receipt: refuse within 2, the first supplement request within 5, answer within 15,
and publish the answer within 2 working days after answering. A clock is kept when the act's local
date is on or before its due's local date (as dossiers' outcomes are compared, domain.md §5). A
transfer moves the complaint to another unit; the clocks keep counting from the receipt.

`dues` and `publish_dues` are vectorised (the generator calls them on arrays, the register on one
complaint); `late_clocks` classifies many complaints at once for the figures.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from sla.core.calendar import WorkingCalendar

CLOCK_WORKING_DAYS = {"refuse": 2, "supplement": 5, "answer": 15, "publish": 2}
CLOCKS = tuple(CLOCK_WORKING_DAYS)
EVENT_TYPES = (
    "received",
    "transferred",
    "supplement_requested",
    "refused",
    "answered",
    "published",
    "liked",
    "disliked",
    "repeated",
)
OPEN_STATUSES = ("received", "supplement_requested")
# what each status admits (the register's state machine); feedback and a repeat come once each
ALLOWED = {
    "received": ("transferred", "supplement_requested", "refused", "answered"),
    "supplement_requested": ("transferred", "supplement_requested", "refused", "answered"),
    "answered": ("published", "repeated"),
    "published": ("liked", "disliked", "repeated"),
    "refused": (),
}
_LOCAL_OFFSET = np.timedelta64(7 * 60, "m")


class ComplaintTransitionError(ValueError):
    """An event the complaint's status does not admit."""

    def __init__(self, event: str, status: str, allowed: tuple[str, ...]) -> None:
        self.event, self.status, self.allowed = event, status, allowed
        names = ", ".join(allowed) or "none (the complaint is closed)"
        super().__init__(f"a {status} complaint does not take {event}; it takes: {names}")


def dues(calendar: WorkingCalendar, received_at: np.ndarray) -> dict[str, np.ndarray]:
    """The refuse, supplement and answer dues (datetime64[m]) of complaints received at `received_at`."""
    return {
        clock: calendar.add(received_at, CLOCK_WORKING_DAYS[clock], "working_days")
        for clock in ("refuse", "supplement", "answer")
    }


def publish_dues(calendar: WorkingCalendar, answered_at: np.ndarray) -> np.ndarray:
    """The publication dues of answers given at `answered_at`."""
    return calendar.add(answered_at, CLOCK_WORKING_DAYS["publish"], "working_days")


@dataclass(frozen=True)
class Fact:
    """One event as the derivation needs it."""

    type: str
    at: datetime
    to_agency_id: int | None = None


@dataclass
class Derived:
    status: str
    agency_id: int
    received_at: datetime
    refuse_due_at: datetime
    supplement_due_at: datetime
    answer_due_at: datetime
    publish_due_at: datetime | None = None
    refused_at: datetime | None = None
    first_supplement_at: datetime | None = None
    answered_at: datetime | None = None
    published_at: datetime | None = None
    feedback: str | None = None
    feedback_at: datetime | None = None
    repeated_at: datetime | None = None
    transfer_count: int = 0
    allowed: tuple[str, ...] = field(default_factory=tuple)

    @property
    def next_due_at(self) -> datetime | None:
        """The due of what is owed next: the answer, then its publication; None once closed."""
        if self.status in OPEN_STATUSES:
            return self.answer_due_at
        if self.status == "answered":
            return self.publish_due_at
        return None


def _one(instant: datetime) -> np.ndarray:
    return np.array([np.datetime64(instant.replace(tzinfo=None) - instant.utcoffset(), "m")])


def _aware(value: np.datetime64) -> datetime:
    return value.astype("datetime64[m]").astype(datetime).replace(tzinfo=UTC)


def allowed_events(status: str, *, feedback: str | None, repeated: bool) -> tuple[str, ...]:
    """The events a complaint in `status` takes now (a like or dislike once, a repeat once)."""
    return tuple(
        event
        for event in ALLOWED[status]
        if not (event in ("liked", "disliked") and feedback) and not (event == "repeated" and repeated)
    )


def derive(facts: Sequence[Fact], receiving_agency_id: int, calendar: WorkingCalendar) -> Derived:
    """Replay a complaint's events (the first is `received`); raises ComplaintTransitionError on an event
    its status does not admit."""
    first = facts[0]
    if first.type != "received":
        raise ComplaintTransitionError(first.type, "new", ("received",))
    due = {clock: _aware(values[0]) for clock, values in dues(calendar, _one(first.at)).items()}
    state = Derived(
        status="received",
        agency_id=receiving_agency_id,
        received_at=first.at,
        refuse_due_at=due["refuse"],
        supplement_due_at=due["supplement"],
        answer_due_at=due["answer"],
    )
    for fact in facts[1:]:
        allowed = allowed_events(state.status, feedback=state.feedback, repeated=state.repeated_at is not None)
        if fact.type not in allowed:
            raise ComplaintTransitionError(fact.type, state.status, allowed)
        if fact.type == "transferred":
            state.agency_id = fact.to_agency_id
            state.transfer_count += 1
        elif fact.type == "supplement_requested":
            state.status = "supplement_requested"
            state.first_supplement_at = state.first_supplement_at or fact.at
        elif fact.type == "refused":
            state.status, state.refused_at = "refused", fact.at
        elif fact.type == "answered":
            state.status, state.answered_at = "answered", fact.at
            state.publish_due_at = _aware(publish_dues(calendar, _one(fact.at))[0])
        elif fact.type == "published":
            state.status, state.published_at = "published", fact.at
        elif fact.type in ("liked", "disliked"):
            state.feedback, state.feedback_at = fact.type, fact.at
        elif fact.type == "repeated":
            state.repeated_at = fact.at
    state.allowed = allowed_events(state.status, feedback=state.feedback, repeated=state.repeated_at is not None)
    return state


def _local_day(values: np.ndarray) -> np.ndarray:
    """Local dates of UTC instants (datetime64); NaT stays NaT."""
    return (values.astype("datetime64[m]") + _LOCAL_OFFSET).astype("datetime64[D]")


def late_clocks(columns: dict[str, np.ndarray], as_of: np.datetime64) -> dict[str, np.ndarray]:
    """Which clocks each complaint broke, as seen at `as_of` (a UTC instant, datetime64[m]).

    `columns`: datetime64[m] arrays (NaT for none) named as the Complaint columns: received_at,
    refuse_due_at, supplement_due_at, answer_due_at, publish_due_at, refused_at, first_supplement_at,
    answered_at, published_at. Acts after `as_of` have not happened yet. Answers: one bool array per
    clock (refuse, supplement, answer, publish) and `late` (any of them).
    """
    as_of = np.datetime64(as_of, "m")
    today = _local_day(np.array([as_of]))[0]

    def happened(name: str) -> np.ndarray:
        values = columns[name].astype("datetime64[m]")
        return np.where(values <= as_of, values, np.datetime64("NaT"))

    refused, supplemented = happened("refused_at"), happened("first_supplement_at")
    answered, published = happened("answered_at"), happened("published_at")
    due_day = {name: _local_day(columns[f"{name}_due_at"]) for name in ("refuse", "supplement", "answer")}
    publish_due_day = _local_day(columns["publish_due_at"])
    is_refused, is_answered = ~np.isnat(refused), ~np.isnat(answered)
    late = {
        "refuse": is_refused & (_local_day(refused) > due_day["refuse"]),
        "supplement": ~np.isnat(supplemented) & (_local_day(supplemented) > due_day["supplement"]),
        "answer": np.where(
            is_answered, _local_day(answered) > due_day["answer"], ~is_refused & (today > due_day["answer"])
        ),
        "publish": is_answered
        & np.where(~np.isnat(published), _local_day(published) > publish_due_day, today > publish_due_day),
    }
    late["late"] = late["refuse"] | late["supplement"] | late["answer"] | late["publish"]
    return late
