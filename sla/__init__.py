"""The SLA domain: calendars and their overrides, queues, period reports, snapshots and the nightly jobs.

Its pure core (`sla/core`) imports nothing of ours, so its errors stand outside the one hierarchy: they are
translated here, once, for every door (the API's handlers, the pages, the CLI, the services). Importing
anything of `sla.core` runs this first, so no core error can be raised before its translation is known.
"""

from kernel.errors import InvalidInput, InvalidTransition, translate
from sla.core.calendar import CalendarError
from sla.core.lifecycle import RESULT_AT_DESK, RESULT_AWAY, STATUS_NAMES
from sla.core.lifecycle import InvalidTransition as TransitionRefused
from sla.core.replay import ReplayError

_TRANSITION_MESSAGES = {RESULT_AWAY: "result_away", RESULT_AT_DESK: "result_at_desk"}
"""The refusals of the hand-back rule, each with its own page message (api/web/messages.py)."""


def _invalid_transition(exc: TransitionRefused) -> InvalidTransition:
    return InvalidTransition(
        str(exc),
        message_id=_TRANSITION_MESSAGES.get(exc.reason, "invalid_transition"),
        event=exc.event_type,
        status=STATUS_NAMES.get(exc.status) if exc.status is not None else None,
        allowed=exc.allowed,
    )


translate(CalendarError, ReplayError, to=InvalidInput)
translate(TransitionRefused, to=_invalid_transition)
