"""Dossier statuses (codes shared with the national portal) and the state machine of events.

Rules: docs/sla-core.md and ../shared/domain.md §2–§3.
"""

from __future__ import annotations

from enum import IntEnum


class Status(IntEnum):
    SUBMITTED = 1
    RECEIVED = 2
    REFUSED = 3
    PROCESSING = 4
    WAITING_SUPPLEMENT = 5
    WAITING_OBLIGATION = 6
    WITHDRAWN = 7
    STOPPED = 8
    RESOLVED = 9
    RETURNED = 10


RUNNING_STATUSES = (Status.RECEIVED, Status.PROCESSING)
"""The clock runs: received or processing (not waiting for a supplement or a financial obligation)."""
CLOCK_STOPPED_STATUSES = (Status.WAITING_SUPPLEMENT, Status.WAITING_OBLIGATION)
"""Waiting for a supplement or a financial obligation: the clock stands still and the due is on hold."""

STATUS_NAMES: dict[Status, str] = {
    Status.SUBMITTED: "submitted",
    Status.RECEIVED: "received",
    Status.REFUSED: "refused",
    Status.PROCESSING: "processing",
    Status.WAITING_SUPPLEMENT: "waiting_supplement",
    Status.WAITING_OBLIGATION: "waiting_obligation",
    Status.WITHDRAWN: "withdrawn",
    Status.STOPPED: "stopped",
    Status.RESOLVED: "resolved",
    Status.RETURNED: "returned",
}

EVENT_TYPES = (
    "submitted",
    "received",
    "refused",
    "forwarded",
    "supplement_requested",
    "supplement_received",
    "paused",
    "resumed",
    "apology_issued",
    "resolved",
    "result_sent_to_desk",
    "result_returned",
    "withdrawn",
    "stopped",
    "abandoned",
)

# event -> status it leads to; None keeps the status (apology_issued)
_IN_HANDS: dict[str, Status | None] = {
    "forwarded": Status.PROCESSING,
    "supplement_requested": Status.WAITING_SUPPLEMENT,
    "paused": Status.WAITING_OBLIGATION,
    "apology_issued": None,
    "resolved": Status.RESOLVED,
    "withdrawn": Status.WITHDRAWN,
    "stopped": Status.STOPPED,
}
_TRANSITIONS: dict[Status | None, dict[str, Status | None]] = {
    None: {"submitted": Status.SUBMITTED, "received": Status.RECEIVED, "refused": Status.REFUSED},
    Status.SUBMITTED: {
        "received": Status.RECEIVED,
        "refused": Status.REFUSED,
        "withdrawn": Status.WITHDRAWN,
    },
    Status.RECEIVED: _IN_HANDS,
    Status.PROCESSING: _IN_HANDS,
    Status.WAITING_SUPPLEMENT: {
        "supplement_received": Status.PROCESSING,
        "withdrawn": Status.WITHDRAWN,
        "abandoned": Status.STOPPED,
        "stopped": Status.STOPPED,
    },
    Status.WAITING_OBLIGATION: {
        "resumed": Status.PROCESSING,
        "withdrawn": Status.WITHDRAWN,
        "stopped": Status.STOPPED,
    },
    # the result travels back to the receiving desk (status unchanged), where it is returned
    Status.RESOLVED: {"result_sent_to_desk": None, "result_returned": Status.RETURNED},
}
HAND_BACK = "result_sent_to_desk"
RESULT_AWAY = "the result is at the processing agency: it goes back to the receiving desk first (result_sent_to_desk)"
RESULT_AT_DESK = (
    "the result is already at the receiving desk (the dossier was resolved there, or its result was sent back once)"
)


class InvalidTransition(ValueError):
    """An event that the dossier's current status does not admit."""

    def __init__(
        self, status: Status | None, event_type: str, allowed: tuple[str, ...], reason: str | None = None
    ) -> None:
        self.status = status
        self.event_type = event_type
        self.allowed = allowed
        self.reason = reason
        state = "a dossier with no event yet" if status is None else f"status {status.value} ({STATUS_NAMES[status]})"
        accepted = ", ".join(allowed) if allowed else "none: the dossier is closed"
        detail = f" ({reason})" if reason else ""
        super().__init__(f"event {event_type!r} is not allowed for {state}{detail}; allowed events: {accepted}")


def _barred(status: Status | None, event_type: str, apology_issued: bool, result_away: bool | None) -> str | None:
    """Why an event the status table admits is refused all the same (None: it is not)."""
    if apology_issued and event_type == "apology_issued":
        return "an apology was already issued; it is allowed at most once"
    if status == Status.RESOLVED and result_away is not None:
        if result_away and event_type == "result_returned":
            return RESULT_AWAY
        if not result_away and event_type == HAND_BACK:
            return RESULT_AT_DESK
    return None


def allowed_events(
    status: Status | None, *, apology_issued: bool = False, result_away: bool = False
) -> tuple[str, ...]:
    """Event types the status admits, in EVENT_TYPES order; an apology is admitted once.

    A resolved dossier whose result is away from its receiving desk (`result_away`: the agency holding
    it is not the one that received it) admits only the hand-back (result_sent_to_desk); at the desk,
    only result_returned.
    """
    admitted = _TRANSITIONS.get(status, {})
    return tuple(e for e in EVENT_TYPES if e in admitted and _barred(status, e, apology_issued, result_away) is None)


def next_status(
    status: Status | None, event_type: str, *, apology_issued: bool = False, result_away: bool | None = None
) -> Status:
    """The status after `event_type`; raises InvalidTransition when the status does not admit it.

    `result_away` (status 9): whether the result is held away from the receiving desk; None admits
    both the hand-back and the return (the table alone, as history is replayed).
    """
    admitted = _TRANSITIONS.get(status, {})
    barred = _barred(status, event_type, apology_issued, result_away) if event_type in admitted else None
    if event_type not in admitted or barred:
        reason = barred
        if event_type not in EVENT_TYPES:
            reason = "unknown event type"
        allowed = allowed_events(status, apology_issued=apology_issued, result_away=bool(result_away))
        raise InvalidTransition(status, event_type, allowed, reason)
    target = admitted[event_type]
    return status if target is None else target  # type: ignore[return-value]
