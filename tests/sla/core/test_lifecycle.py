import pytest

from sla.core.lifecycle import (
    EVENT_TYPES,
    STATUS_NAMES,
    InvalidTransition,
    Status,
    allowed_events,
    next_status,
)

S = Status
IN_HANDS = {
    "forwarded": S.PROCESSING,
    "supplement_requested": S.WAITING_SUPPLEMENT,
    "paused": S.WAITING_OBLIGATION,
    "apology_issued": None,  # status unchanged
    "resolved": S.RESOLVED,
    "withdrawn": S.WITHDRAWN,
    "stopped": S.STOPPED,
}
LEGAL: dict[Status | None, dict[str, Status | None]] = {
    None: {"submitted": S.SUBMITTED, "received": S.RECEIVED, "refused": S.REFUSED},
    S.SUBMITTED: {"received": S.RECEIVED, "refused": S.REFUSED, "withdrawn": S.WITHDRAWN},
    S.RECEIVED: IN_HANDS,
    S.PROCESSING: IN_HANDS,
    S.WAITING_SUPPLEMENT: {
        "supplement_received": S.PROCESSING,
        "withdrawn": S.WITHDRAWN,
        "abandoned": S.STOPPED,
        "stopped": S.STOPPED,
    },
    S.WAITING_OBLIGATION: {"resumed": S.PROCESSING, "withdrawn": S.WITHDRAWN, "stopped": S.STOPPED},
    S.RESOLVED: {"result_sent_to_desk": None, "result_returned": S.RETURNED},
    S.REFUSED: {},
    S.WITHDRAWN: {},
    S.STOPPED: {},
    S.RETURNED: {},
}


def test_codes_and_names_match_the_portal():
    assert [int(s) for s in Status] == list(range(1, 11))
    assert [STATUS_NAMES[s] for s in Status] == [
        "submitted",
        "received",
        "refused",
        "processing",
        "waiting_supplement",
        "waiting_obligation",
        "withdrawn",
        "stopped",
        "resolved",
        "returned",
    ]


@pytest.mark.parametrize(
    ("status", "event_type", "expected"),
    [(status, event, target) for status, events in LEGAL.items() for event, target in events.items()],
)
def test_every_legal_transition(status, event_type, expected):
    assert next_status(status, event_type) == (status if expected is None else expected)


@pytest.mark.parametrize("status", list(LEGAL))
def test_allowed_events_are_exactly_the_legal_ones_in_event_order(status):
    expected = tuple(e for e in EVENT_TYPES if e in LEGAL[status] and e != "result_sent_to_desk")
    assert allowed_events(status) == expected  # a result at the desk (the default) is not sent back


@pytest.mark.parametrize("status", list(LEGAL))
def test_every_other_event_is_refused(status):
    for event_type in EVENT_TYPES:
        if event_type in LEGAL[status]:
            continue
        with pytest.raises(InvalidTransition) as info:
            next_status(status, event_type)
        assert info.value.status == status
        assert info.value.event_type == event_type
        assert info.value.allowed == allowed_events(status)


def test_invalid_transition_names_the_allowed_events():
    with pytest.raises(InvalidTransition) as info:
        next_status(Status.WAITING_SUPPLEMENT, "resolved")
    message = str(info.value)
    assert "'resolved'" in message and "status 5 (waiting_supplement)" in message
    assert "supplement_received, withdrawn, stopped, abandoned" in message
    assert isinstance(info.value, ValueError)


def test_no_event_yet_and_closed_dossiers_say_so():
    with pytest.raises(InvalidTransition, match="no event yet.*allowed events: submitted, received, refused"):
        next_status(None, "forwarded")
    with pytest.raises(InvalidTransition, match=r"status 10 \(returned\).*the dossier is closed"):
        next_status(Status.RETURNED, "resolved")


def test_unknown_event_type():
    with pytest.raises(InvalidTransition, match="unknown event type"):
        next_status(Status.PROCESSING, "approved")


def test_apology_at_most_once():
    assert "apology_issued" in allowed_events(Status.PROCESSING)
    assert "apology_issued" not in allowed_events(Status.PROCESSING, apology_issued=True)
    assert next_status(Status.RECEIVED, "apology_issued") == Status.RECEIVED
    with pytest.raises(InvalidTransition, match="already issued; it is allowed at most once") as info:
        next_status(Status.PROCESSING, "apology_issued", apology_issued=True)
    assert "apology_issued" not in info.value.allowed
    assert "resolved" in info.value.allowed


def test_a_resolved_result_away_from_the_desk_is_sent_back_before_it_is_returned():
    assert allowed_events(Status.RESOLVED) == ("result_returned",)
    assert allowed_events(Status.RESOLVED, result_away=True) == ("result_sent_to_desk",)
    assert next_status(Status.RESOLVED, "result_sent_to_desk", result_away=True) == Status.RESOLVED
    assert next_status(Status.RESOLVED, "result_returned", result_away=False) == Status.RETURNED
    with pytest.raises(InvalidTransition, match="goes back to the receiving desk first") as info:
        next_status(Status.RESOLVED, "result_returned", result_away=True)
    assert info.value.allowed == ("result_sent_to_desk",)
    with pytest.raises(InvalidTransition, match="already at the receiving desk") as info:
        next_status(Status.RESOLVED, "result_sent_to_desk", result_away=False)
    assert info.value.allowed == ("result_returned",)
    # history (result_away unknown): the table alone admits both
    assert next_status(Status.RESOLVED, "result_returned") == Status.RETURNED
    assert next_status(Status.RESOLVED, "result_sent_to_desk") == Status.RESOLVED


@pytest.mark.parametrize("status", [s for s in LEGAL if s != Status.RESOLVED])
def test_the_hand_back_only_follows_a_resolution(status):
    assert "result_sent_to_desk" not in allowed_events(status, result_away=True)
    with pytest.raises(InvalidTransition):
        next_status(status, "result_sent_to_desk", result_away=True)
