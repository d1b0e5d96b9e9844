"""Replay of dossier events. Expected instants are worked out by hand in local time
(Asia/Ho_Chi_Minh) on the 2025 calendar of domain §6: 07/04, 30/04–02/05 off, Sat 26/04 worked."""

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from sla.core.calendar import WorkingCalendar
from sla.core.lifecycle import InvalidTransition, Status
from sla.core.replay import (
    ApologyError,
    Event,
    EventOrderError,
    HandOffError,
    ProcedureRule,
    ReplayError,
    StepRule,
    check_steps_fit,
    replay,
    rule_total_minutes,
)

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def at(day: int, month: int, hour: int, minute: int = 0) -> datetime:
    """A local instant in 2025."""
    return datetime(2025, month, day, hour, minute, tzinfo=VN)


def ev(type_: str, when: datetime, **fields) -> Event:
    return Event(type=type_, at=when, **fields)


def step(seq, name, agency, amount, unit="working_days", group=None) -> StepRule:
    return StepRule(seq=seq, name=name, agency_code=agency, role=None, amount=amount, unit=unit, parallel_group=group)


@pytest.fixture(scope="module")
def cal() -> WorkingCalendar:
    return WorkingCalendar(first_year=2024, last_year=2026)


THREE_DAYS = ProcedureRule(amount=3, unit="working_days")
RELIGION = ProcedureRule(  # QĐ 1594/QĐ-TTPVHCC: 30 = 21 at the department + 7 at the City office + 2 back
    amount=30,
    unit="working_days",
    steps=(
        step(1, "Sở Dân tộc và Tôn giáo", "SO", 21),
        step(2, "Văn phòng UBND Thành phố", "VP", 7),
        step(3, "Sở Dân tộc và Tôn giáo", "SO", 2),
    ),
)
BIRTH_CHAIN = ProcedureRule(  # Decree 63/2024 e-chain for children under 6
    amount=3,
    unit="working_days",
    cutoff=time(15),
    steps=(
        step(1, "Đăng ký khai sinh", "XA", None, "same_day"),
        step(2, "Đăng ký thường trú", "CA", 2, group="after_birth"),
        step(3, "Cấp thẻ BHYT", "BHXH", 2, group="after_birth"),
    ),
)
LAND = ProcedureRule(  # the tax office's financial-obligation step does not count
    amount=5,
    unit="working_days",
    steps=(
        step(1, "Tiếp nhận", "TT", 0.5),
        step(2, "Thẩm tra, chuyển Thuế", "VP", 2.5),
        step(3, "Nghĩa vụ tài chính", "THUE", None, "excluded"),
        step(4, "Cấp GCN", "VP", 2),
    ),
)


# -- clock start, due, outcome -------------------------------------------------------------------


def test_received_starts_the_clock_and_opens_the_first_stage(cal):
    state = replay(THREE_DAYS, cal, [ev("received", at(25, 4, 9))], receiving_agency_code="XA")
    assert state.status == Status.RECEIVED
    assert state.clock_start == at(25, 4, 9)
    # Sat 26/04 (make-up) is day 1, Mon 28/04 day 2, Tue 29/04 day 3
    assert state.original_due_at == state.due_at == at(29, 4, 9)
    assert state.rescheduled_due_at is None and state.finished_at is None and state.outcome is None
    assert state.current_agency_code == "XA"
    [stage] = state.stages
    assert (stage.seq, stage.agency_code, stage.step_seq, stage.started_at) == (1, "XA", None, at(25, 4, 9))
    assert stage.due_at == at(29, 4, 9) and stage.allotment_minutes is None and stage.outcome is None
    assert state.due_at.tzinfo is not None and state.due_at.utcoffset().total_seconds() == 0


def test_an_online_submission_does_not_start_the_clock(cal):
    submitted = replay(THREE_DAYS, cal, [ev("submitted", at(24, 4, 20))], receiving_agency_code="XA")
    assert submitted.status == Status.SUBMITTED
    assert submitted.clock_start is None and submitted.due_at is None and submitted.stages == []
    assert submitted.current_agency_code == "XA"
    # received in the evening: the clock starts at the next working instant, the make-up Saturday
    state = replay(
        THREE_DAYS, cal, [ev("submitted", at(24, 4, 20)), ev("received", at(25, 4, 18, 30))], receiving_agency_code="XA"
    )
    assert state.clock_start == at(26, 4, 8)
    assert state.due_at == at(29, 4, 17)  # a result on a period boundary is the close of the earlier period


def test_same_day_procedure_with_cutoff(cal):
    rule = ProcedureRule(amount=None, unit="same_day", cutoff=time(15))
    before = replay(rule, cal, [ev("received", at(10, 3, 14))], receiving_agency_code="XA")
    after = replay(rule, cal, [ev("received", at(10, 3, 15, 30))], receiving_agency_code="XA")
    assert before.due_at == at(10, 3, 17)
    assert (after.clock_start, after.due_at) == (at(11, 3, 8), at(11, 3, 17))


@pytest.mark.parametrize(
    ("resolved_at", "outcome"),
    [
        (at(28, 4, 16), "early"),
        (at(29, 4, 16), "on_time"),  # after the due hour, but on the due date
        (at(5, 5, 8), "late"),
    ],
)
def test_outcome_compares_local_dates(cal, resolved_at, outcome):
    events = [ev("received", at(25, 4, 9)), ev("resolved", resolved_at)]
    state = replay(THREE_DAYS, cal, events, receiving_agency_code="XA")
    assert (state.status, state.finished_at, state.outcome) == (Status.RESOLVED, resolved_at, outcome)
    assert state.stages[0].outcome == outcome
    assert state.late_stage_seqs == ([1] if outcome == "late" else [])


def test_result_returned_keeps_the_resolution_as_the_end(cal):
    events = [ev("received", at(25, 4, 9)), ev("resolved", at(28, 4, 16)), ev("result_returned", at(5, 5, 9))]
    state = replay(THREE_DAYS, cal, events, receiving_agency_code="XA")
    assert (state.status, state.finished_at, state.outcome) == (Status.RETURNED, at(28, 4, 16), "early")
    assert state.current_agency_code == "XA"


# -- order and transitions -----------------------------------------------------------------------


def test_events_out_of_order_are_refused(cal):
    events = [
        ev("received", at(25, 4, 9)),
        ev("forwarded", at(28, 4, 9), to_agency_code="B"),
        ev("resolved", at(26, 4, 10)),
    ]
    with pytest.raises(EventOrderError, match="before the previous event at 28/04/2025 09:00"):
        replay(THREE_DAYS, cal, events, receiving_agency_code="XA")
    same_instant = [ev("received", at(25, 4, 9)), ev("resolved", at(25, 4, 9))]
    assert replay(THREE_DAYS, cal, same_instant, receiving_agency_code="XA").outcome == "early"


def test_an_illegal_transition_names_the_allowed_events(cal):
    with pytest.raises(InvalidTransition, match="allowed events: forwarded, supplement_requested") as info:
        replay(
            THREE_DAYS,
            cal,
            [ev("received", at(25, 4, 9)), ev("supplement_received", at(28, 4, 9))],
            receiving_agency_code="XA",
        )
    assert info.value.status == Status.RECEIVED
    with pytest.raises(InvalidTransition):
        replay(THREE_DAYS, cal, [ev("resolved", at(25, 4, 9))], receiving_agency_code="XA")
    with pytest.raises(InvalidTransition):
        replay(
            THREE_DAYS,
            cal,
            [
                ev("received", at(25, 4, 9)),
                ev("resolved", at(25, 4, 10)),
                ev("forwarded", at(25, 4, 11), to_agency_code="B"),
            ],
            receiving_agency_code="XA",
        )


def test_bad_input_is_refused(cal):
    with pytest.raises(ReplayError, match="timezone-aware"):
        replay(THREE_DAYS, cal, [ev("received", datetime(2025, 4, 25, 9))], receiving_agency_code="XA")
    with pytest.raises(ReplayError, match="at least one event"):
        replay(THREE_DAYS, cal, [], receiving_agency_code="XA")
    with pytest.raises(ReplayError, match="accepted: restart, resume"):
        replay(
            ProcedureRule(amount=3, unit="working_days", supplement_policy="later"),
            cal,
            [ev("received", at(25, 4, 9))],
            receiving_agency_code="XA",
        )


# -- supplements and pauses ----------------------------------------------------------------------

SUPPLEMENT = [
    ev("received", at(25, 4, 9)),
    ev("supplement_requested", at(28, 4, 10)),
    ev("supplement_received", at(5, 5, 14)),
]


def test_supplement_resume_moves_the_due_by_the_working_time_waited(cal):
    rule = ProcedureRule(amount=3, unit="working_days", supplement_policy="resume")
    waiting = replay(rule, cal, SUPPLEMENT[:2], receiving_agency_code="XA")
    assert waiting.status == Status.WAITING_SUPPLEMENT and waiting.supplement_count == 1
    assert waiting.clock_stopped_since == at(28, 4, 10) and waiting.due_at == at(29, 4, 9)

    state = replay(rule, cal, SUPPLEMENT, receiving_agency_code="XA")
    # waited: Mon 28/04 10–17 (360) + Tue 29/04 (480) + Mon 05/05 8–14 (300); 30/04–02/05 are off
    assert state.paused_minutes == 1140
    # 420 minutes were left at the request: Mon 05/05 14–17 (180) + Tue 06/05 8–12 (240)
    assert state.original_due_at == state.due_at == at(6, 5, 12)
    assert state.clock_start == at(25, 4, 9)
    assert state.status == Status.PROCESSING and state.clock_stopped_since is None
    assert state.stages[0].due_at == at(6, 5, 12)


def test_supplement_restart_counts_the_full_time_again(cal):
    state = replay(THREE_DAYS, cal, SUPPLEMENT, receiving_agency_code="XA")
    assert state.clock_start == at(5, 5, 14)
    assert state.original_due_at == state.due_at == at(8, 5, 14)
    assert state.paused_minutes == 0 and state.supplement_count == 1


def test_a_second_supplement_request_is_counted(cal):
    events = SUPPLEMENT + [ev("supplement_requested", at(6, 5, 9)), ev("supplement_received", at(7, 5, 9))]
    state = replay(THREE_DAYS, cal, events, receiving_agency_code="XA")
    assert state.supplement_count == 2
    assert (state.clock_start, state.due_at) == (at(7, 5, 9), at(12, 5, 9))


def test_pause_for_financial_obligation_moves_the_due(cal):
    rule = ProcedureRule(amount=5, unit="working_days")
    events = [
        ev("received", at(3, 4, 10)),
        ev("forwarded", at(4, 4, 11), agency_code="A", to_agency_code="B"),
        ev("paused", at(4, 4, 15)),
        ev("resumed", at(9, 4, 9, 30)),
        ev("resolved", at(14, 4, 16)),
    ]
    paused = replay(rule, cal, events[:3], receiving_agency_code="A")
    assert paused.status == Status.WAITING_OBLIGATION and paused.due_at == at(11, 4, 10)  # Mon 07/04 off

    state = replay(rule, cal, events, receiving_agency_code="A")
    # paused: Fri 04/04 15–17 (120) + Tue 08/04 (480) + Wed 09/04 8–9:30 (90)
    assert state.paused_minutes == 690
    assert state.original_due_at == at(14, 4, 14, 30)
    assert state.outcome == "on_time"
    intake, handed = state.stages
    assert (intake.due_at, intake.ended_at, intake.outcome) == (at(11, 4, 10), at(4, 4, 11), "early")
    # without steps a forwarded stage has no own allotment: it shares the overall due, pauses included
    assert (handed.agency_code, handed.allotment_minutes, handed.due_at) == ("B", None, at(14, 4, 14, 30))
    assert handed.outcome == "on_time"


@pytest.mark.parametrize(
    ("policy", "stage_due", "overall_due"),
    [
        ("restart", at(19, 3, 14), at(24, 3, 14)),
        # 2100 working minutes waited (Tue 04/03 10:00 to Mon 10/03 14:00), added to both dues
        ("resume", at(18, 3, 12), at(21, 3, 12)),
    ],
)
def test_supplement_moves_the_open_stage_due(cal, policy, stage_due, overall_due):
    rule = ProcedureRule(
        amount=10,
        unit="working_days",
        supplement_policy=policy,
        steps=(step(1, "Thẩm định", "A", 7), step(2, "Phê duyệt", "B", 3)),
    )
    events = [
        ev("received", at(3, 3, 9)),
        ev("supplement_requested", at(4, 3, 10)),
        ev("supplement_received", at(10, 3, 14)),
    ]
    before = replay(rule, cal, events[:1], receiving_agency_code="A")
    assert (before.stages[0].due_at, before.due_at) == (at(12, 3, 9), at(17, 3, 9))
    state = replay(rule, cal, events, receiving_agency_code="A")
    assert (state.stages[0].due_at, state.due_at) == (stage_due, overall_due)
    assert state.stages[0].allotment_minutes == 7 * 480


# -- apology -------------------------------------------------------------------------------------


def test_apology_reschedules_but_statistics_keep_the_original_due(cal):
    events = [
        ev("received", at(25, 4, 9)),
        ev("apology_issued", at(28, 4, 9), new_due_at=at(9, 5, 17), reason="chờ xác minh"),
        ev("resolved", at(5, 5, 10)),
    ]
    open_ = replay(THREE_DAYS, cal, events[:2], receiving_agency_code="XA")
    assert open_.apology_issued and open_.status == Status.RECEIVED
    assert (open_.original_due_at, open_.rescheduled_due_at, open_.due_at) == (at(29, 4, 9), at(9, 5, 17), at(9, 5, 17))
    state = replay(THREE_DAYS, cal, events, receiving_agency_code="XA")
    assert state.outcome == "late"  # after the original due, though before the new appointment
    assert state.late_stage_seqs == [1]


def test_a_pause_after_the_apology_moves_both_dues(cal):
    events = [
        ev("received", at(25, 4, 9)),
        ev("apology_issued", at(26, 4, 10), new_due_at=at(6, 5, 17)),
        ev("paused", at(28, 4, 8)),
        ev("resumed", at(28, 4, 12)),
    ]
    state = replay(THREE_DAYS, cal, events, receiving_agency_code="XA")
    assert state.paused_minutes == 240
    assert (state.original_due_at, state.rescheduled_due_at) == (at(29, 4, 14), at(7, 5, 12))
    assert state.due_at == at(7, 5, 12)


def test_a_restart_after_the_apology_may_pass_the_appointment(cal):
    events = [
        ev("received", at(25, 4, 9)),
        ev("apology_issued", at(26, 4, 10), new_due_at=at(5, 5, 17)),
        ev("supplement_requested", at(28, 4, 10)),
        ev("supplement_received", at(5, 5, 14)),
    ]
    state = replay(THREE_DAYS, cal, events, receiving_agency_code="XA")
    # the appointment moves by the 1140 working minutes waited; the statutory due restarts in full
    assert (state.rescheduled_due_at, state.original_due_at) == (at(8, 5, 11), at(8, 5, 14))
    assert state.due_at == at(8, 5, 14)  # the citizen is never given less than the statutory time


def test_apology_at_most_once(cal):
    events = [
        ev("received", at(25, 4, 9)),
        ev("apology_issued", at(26, 4, 10), new_due_at=at(9, 5, 17)),
        ev("apology_issued", at(28, 4, 8), new_due_at=at(16, 5, 17)),
    ]
    with pytest.raises(InvalidTransition, match="at most once"):
        replay(THREE_DAYS, cal, events, receiving_agency_code="XA")


def test_apology_must_come_one_working_day_before_the_due(cal):
    received = ev("received", at(25, 4, 9))
    # exactly one working day before Tue 29/04 09:00 is allowed, a minute later is not
    ok = replay(
        THREE_DAYS,
        cal,
        [received, ev("apology_issued", at(28, 4, 9), new_due_at=at(6, 5, 17))],
        receiving_agency_code="XA",
    )
    assert ok.rescheduled_due_at == at(6, 5, 17)
    with pytest.raises(ApologyError, match="at least 1 working day before the due date 29/04/2025 09:00"):
        replay(
            THREE_DAYS,
            cal,
            [received, ev("apology_issued", at(28, 4, 9, 1), new_due_at=at(6, 5, 17))],
            receiving_agency_code="XA",
        )


def test_apology_needs_a_later_new_due(cal):
    received = ev("received", at(25, 4, 9))
    with pytest.raises(ApologyError, match="must be after the current due date 29/04/2025 09:00"):
        replay(
            THREE_DAYS,
            cal,
            [received, ev("apology_issued", at(26, 4, 10), new_due_at=at(29, 4, 9))],
            receiving_agency_code="XA",
        )
    with pytest.raises(ApologyError, match="new_due_at"):
        replay(THREE_DAYS, cal, [received, ev("apology_issued", at(26, 4, 10))], receiving_agency_code="XA")


# -- stages and hand-offs ------------------------------------------------------------------------

RELIGION_EVENTS = [
    ev("received", at(1, 4, 10)),
    ev("forwarded", at(29, 4, 15), agency_code="SO", to_agency_code="VP"),
    ev("forwarded", at(15, 5, 11), agency_code="VP", to_agency_code="SO"),
    ev("resolved", at(19, 5, 10)),
]


def test_interconnected_chain_blames_only_the_late_step(cal):
    state = replay(RELIGION, cal, RELIGION_EVENTS, receiving_agency_code="SO")
    # 30 working days from Tue 01/04 10:00, skipping 07/04 and 30/04–02/05, counting Sat 26/04
    assert state.original_due_at == at(16, 5, 10)
    assert state.outcome == "late"
    first, second, third = state.stages
    assert [s.step_seq for s in state.stages] == [1, 2, 3]
    assert [s.agency_code for s in state.stages] == ["SO", "VP", "SO"]
    assert [s.allotment_minutes for s in state.stages] == [21 * 480, 7 * 480, 2 * 480]
    assert (first.due_at, first.ended_at, first.outcome) == (at(5, 5, 10), at(29, 4, 15), "early")
    assert (second.started_at, second.due_at, second.outcome) == (at(29, 4, 15), at(13, 5, 15), "late")
    # Tue 13/05 15–17 (120) + Wed 14/05 (480) + Thu 15/05 8–11 (180)
    assert second.overrun_minutes == 780
    assert (third.due_at, third.ended_at, third.outcome) == (at(19, 5, 11), at(19, 5, 10), "on_time")
    assert first.overrun_minutes == third.overrun_minutes == 0
    assert state.late_stage_seqs == [2]
    assert state.current_agency_code == "SO"


def test_hand_offs_beyond_the_steps_share_the_overall_due(cal):
    events = RELIGION_EVENTS[:3] + [ev("forwarded", at(16, 5, 9), agency_code="SO", to_agency_code="VP")]
    state = replay(RELIGION, cal, events, receiving_agency_code="SO")
    extra = state.stages[3]
    assert (extra.agency_code, extra.step_seq, extra.name, extra.allotment_minutes) == ("VP", None, "hand-off", None)
    assert extra.due_at == state.original_due_at == at(16, 5, 10)


def test_current_agency_follows_the_hand_offs(cal):
    holders = [
        replay(RELIGION, cal, RELIGION_EVENTS[:n], receiving_agency_code="SO").current_agency_code for n in range(1, 4)
    ]
    assert holders == ["SO", "VP", "SO"]
    middle = replay(RELIGION, cal, RELIGION_EVENTS[:2], receiving_agency_code="SO")
    assert middle.status == Status.PROCESSING and middle.stages[1].outcome is None


def test_hand_off_errors(cal):
    received = ev("received", at(1, 4, 10))
    with pytest.raises(HandOffError, match="VP holds no open stage.*held by SO"):
        replay(
            RELIGION,
            cal,
            [received, ev("forwarded", at(2, 4, 9), agency_code="VP", to_agency_code="SO")],
            receiving_agency_code="SO",
        )
    with pytest.raises(HandOffError, match="to_agency_code"):
        replay(RELIGION, cal, [received, ev("forwarded", at(2, 4, 9), agency_code="SO")], receiving_agency_code="SO")
    twice = [
        received,
        ev("forwarded", at(2, 4, 9), agency_code="SO", to_agency_code="VP"),
        ev("forwarded", at(2, 4, 9), agency_code="SO", to_agency_code="X"),
    ]
    with pytest.raises(HandOffError, match="not in a parallel group"):
        replay(RELIGION, cal, twice, receiving_agency_code="SO")


def test_forward_without_agency_closes_the_open_stage(cal):
    events = [ev("received", at(1, 4, 10)), ev("forwarded", at(29, 4, 15), to_agency_code="VP")]
    state = replay(RELIGION, cal, events, receiving_agency_code="SO")
    assert [(s.agency_code, s.ended_at) for s in state.stages] == [("SO", at(29, 4, 15)), ("VP", None)]


BIRTH_EVENTS = [
    ev("received", at(10, 3, 16)),  # after the 15:00 cut-off: counting starts Tue 11/03
    ev("forwarded", at(11, 3, 14), agency_code="XA", to_agency_code="BHXH"),
    ev("forwarded", at(11, 3, 14), agency_code="XA", to_agency_code="CA"),
    ev("forwarded", at(12, 3, 10), agency_code="CA", to_agency_code="XA"),  # residence done
    ev("resolved", at(14, 3, 9)),  # the card is the last: the dossier finishes with it
]


def test_parallel_steps_of_the_birth_chain(cal):
    state = replay(BIRTH_CHAIN, cal, BIRTH_EVENTS, receiving_agency_code="XA")
    assert (state.clock_start, state.original_due_at) == (at(11, 3, 8), at(13, 3, 17))
    birth, card, residence = state.stages
    assert (birth.step_seq, birth.due_at, birth.allotment_minutes) == (1, at(11, 3, 17), 480)
    assert birth.outcome == "on_time"
    # each branch maps to the step of its agency, whatever the order of the two hand-offs
    assert (card.agency_code, card.step_seq, residence.agency_code, residence.step_seq) == ("BHXH", 3, "CA", 2)
    assert card.started_at == residence.started_at == at(11, 3, 14)
    assert card.due_at == residence.due_at == at(13, 3, 14)
    assert (residence.ended_at, residence.outcome) == (at(12, 3, 10), "early")
    # Thu 13/03 14–17 (180) + Fri 14/03 8–9 (60)
    assert (card.ended_at, card.outcome, card.overrun_minutes) == (at(14, 3, 9), "late", 240)
    assert len(state.stages) == 3  # a finished branch opens nothing while its sibling runs
    assert state.late_stage_seqs == [2]
    assert (state.finished_at, state.outcome) == (at(14, 3, 9), "late")
    assert state.current_agency_code == "BHXH"


def test_parallel_branches_while_open(cal):
    both = replay(BIRTH_CHAIN, cal, BIRTH_EVENTS[:3], receiving_agency_code="XA")
    assert [s.ended_at is None for s in both.stages] == [False, True, True]
    assert both.current_agency_code == "CA"
    one_left = replay(BIRTH_CHAIN, cal, BIRTH_EVENTS[:4], receiving_agency_code="XA")
    assert one_left.current_agency_code == "BHXH"


def test_after_the_last_branch_the_next_stage_opens(cal):
    events = BIRTH_EVENTS[:4] + [
        ev("forwarded", at(13, 3, 9), agency_code="BHXH", to_agency_code="XA"),
        ev("resolved", at(13, 3, 10)),
    ]
    state = replay(BIRTH_CHAIN, cal, events, receiving_agency_code="XA")
    last = state.stages[-1]
    assert (len(state.stages), last.agency_code, last.step_seq, last.started_at) == (4, "XA", None, at(13, 3, 9))
    assert last.due_at == state.original_due_at and last.outcome == "on_time"
    assert state.outcome == "on_time" and state.late_stage_seqs == []


def test_group_members_not_opened_are_passed_over(cal):
    events = [
        ev("received", at(10, 3, 10)),
        ev("forwarded", at(10, 3, 14), agency_code="XA", to_agency_code="CA"),
        ev("forwarded", at(11, 3, 9), agency_code="CA", to_agency_code="XA"),
    ]
    state = replay(BIRTH_CHAIN, cal, events, receiving_agency_code="XA")
    assert [(s.agency_code, s.step_seq) for s in state.stages] == [("XA", 1), ("CA", 2), ("XA", None)]


def test_an_excluded_step_pauses_the_dossier_clock(cal):
    events = [
        ev("received", at(10, 3, 10), agency_code="TT"),
        ev("forwarded", at(10, 3, 14), agency_code="TT", to_agency_code="VP"),
        ev("forwarded", at(12, 3, 16), agency_code="VP", to_agency_code="THUE"),
        ev("forwarded", at(18, 3, 11), agency_code="THUE", to_agency_code="VP"),
        ev("resolved", at(20, 3, 16)),
    ]
    at_tax = replay(LAND, cal, events[:3], receiving_agency_code="TT")
    assert at_tax.clock_stopped_since == at(12, 3, 16)
    assert at_tax.due_at == at(17, 3, 10) and at_tax.paused_minutes == 0

    state = replay(LAND, cal, events, receiving_agency_code="TT")
    intake, check, tax, issue = state.stages
    assert (intake.allotment_minutes, intake.due_at, intake.outcome) == (240, at(10, 3, 15), "on_time")
    assert (check.allotment_minutes, check.due_at, check.outcome) == (1200, at(13, 3, 9), "early")
    assert tax.excluded and (tax.allotment_minutes, tax.due_at, tax.outcome) == (None, None, None)
    assert (tax.started_at, tax.ended_at) == (at(12, 3, 16), at(18, 3, 11))
    # the tax step lasted Wed 12/03 16–17 (60) + Thu, Fri, Mon (1440) + Tue 18/03 8–11 (180)
    assert state.paused_minutes == 1680
    assert state.original_due_at == at(20, 3, 15)
    assert (issue.step_seq, issue.due_at, issue.outcome) == (4, at(20, 3, 11), "on_time")
    assert state.outcome == "on_time"  # late against the unpaused due of Mon 17/03
    assert state.late_stage_seqs == [] and state.clock_stopped_since is None


def test_resolving_during_an_excluded_step_counts_its_time_out(cal):
    events = [
        ev("received", at(10, 3, 10)),
        ev("forwarded", at(10, 3, 14), agency_code="TT", to_agency_code="VP"),
        ev("forwarded", at(12, 3, 16), agency_code="VP", to_agency_code="THUE"),
        ev("resolved", at(18, 3, 11)),
    ]
    state = replay(LAND, cal, events, receiving_agency_code="TT")
    assert state.paused_minutes == 1680 and state.original_due_at == at(20, 3, 15)
    assert state.outcome == "early"  # late against the unpaused due of Mon 17/03
    assert state.stages[-1].ended_at == at(18, 3, 11) and state.stages[-1].outcome is None


# -- closed without a result ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("events", "status", "paused_minutes"),
    [
        ([ev("submitted", at(24, 4, 20)), ev("withdrawn", at(25, 4, 8))], Status.WITHDRAWN, 0),
        (
            [
                ev("received", at(25, 4, 9)),
                ev("forwarded", at(26, 4, 9), to_agency_code="B"),
                ev("stopped", at(5, 5, 9)),
            ],
            Status.STOPPED,
            0,
        ),
        # the pause ends with the withdrawal: Sat 26/04 9–17 (420) + Mon 28/04 8–9 (60)
        (
            [ev("received", at(25, 4, 9)), ev("paused", at(26, 4, 9)), ev("withdrawn", at(28, 4, 9))],
            Status.WITHDRAWN,
            480,
        ),
        # under restart a supplement wait that never ends in a complete dossier moves nothing
        (
            [ev("received", at(25, 4, 9)), ev("supplement_requested", at(26, 4, 9)), ev("abandoned", at(20, 5, 9))],
            Status.STOPPED,
            0,
        ),
    ],
)
def test_withdrawn_stopped_and_abandoned_count_as_withdrawn(cal, events, status, paused_minutes):
    state = replay(THREE_DAYS, cal, events, receiving_agency_code="XA")
    assert (state.status, state.outcome, state.finished_at) == (status, "withdrawn", events[-1].at)
    assert state.paused_minutes == paused_minutes
    if state.stages:  # the stage still open is closed by the final event, without a grade
        assert (state.stages[-1].outcome, state.stages[-1].ended_at) == ("withdrawn", events[-1].at)
    assert state.late_stage_seqs == [] and state.clock_stopped_since is None


def test_only_stages_open_at_the_withdrawal_count_as_withdrawn(cal):
    events = [
        ev("received", at(25, 4, 9)),
        ev("forwarded", at(26, 4, 9), to_agency_code="B"),
        ev("stopped", at(5, 5, 9)),
    ]
    state = replay(THREE_DAYS, cal, events, receiving_agency_code="XA")
    assert [(s.agency_code, s.outcome) for s in state.stages] == [("XA", "early"), ("B", "withdrawn")]
    assert state.current_agency_code == "B" and state.late_stage_seqs == []


@pytest.mark.parametrize(
    "events",
    [
        [ev("refused", at(25, 4, 9))],
        [ev("submitted", at(24, 4, 20)), ev("refused", at(25, 4, 9))],
    ],
)
def test_refused_at_intake(cal, events):
    state = replay(THREE_DAYS, cal, events, receiving_agency_code="XA")
    assert (state.status, state.outcome, state.finished_at) == (Status.REFUSED, "refused", at(25, 4, 9))
    assert state.clock_start is None and state.due_at is None and state.stages == []
    assert state.current_agency_code == "XA"


# -- the steps against the whole -----------------------------------------------------------------


def test_rule_total_minutes():
    assert rule_total_minutes(RELIGION, 480) == 30 * 480
    assert rule_total_minutes(ProcedureRule(amount=2.5, unit="working_days"), 480) == 1200
    assert rule_total_minutes(ProcedureRule(amount=4, unit="working_hours"), 480) == 240
    assert rule_total_minutes(ProcedureRule(amount=None, unit="same_day"), 480) == 480
    assert rule_total_minutes(ProcedureRule(amount=15, unit="calendar_days"), 450) == 15 * 450
    assert rule_total_minutes(ProcedureRule(amount=None, unit="working_days"), 480) is None
    with pytest.raises(ValueError, match="unknown unit 'weeks'"):
        rule_total_minutes(ProcedureRule(amount=2, unit="weeks"), 480)


def test_the_sourced_chains_fit():
    death_chain = ProcedureRule(
        amount=6,
        unit="working_days",
        cutoff=time(15),
        steps=(
            step(1, "Đăng ký khai tử", "XA", None, "same_day"),
            step(2, "Xóa đăng ký thường trú", "CA", None, "same_day", group="after_death"),
            step(3, "Hỗ trợ chi phí mai táng", "LDTBXH", 5, group="after_death"),
        ),
    )
    for rule in (RELIGION, BIRTH_CHAIN, LAND, death_chain):
        assert check_steps_fit(rule, 480) is None
    assert check_steps_fit(THREE_DAYS, 480) is None  # no steps


def test_steps_that_allot_more_than_the_whole():
    longer = ProcedureRule(amount=30, unit="working_days", steps=RELIGION.steps[:2] + (step(3, "Sở", "SO", 3),))
    assert check_steps_fit(longer, 480) == (
        "the steps allot 31 working days along the longest path, more than the procedure's 30 working days"
    )
    sequential = ProcedureRule(
        amount=3,
        unit="working_days",
        cutoff=time(15),
        steps=tuple(step(s.seq, s.name, s.agency_code, s.amount, s.unit) for s in BIRTH_CHAIN.steps),
    )
    assert "5 working days" in check_steps_fit(sequential, 480)
    calendar_days = ProcedureRule(amount=15, unit="calendar_days", steps=(step(1, "A", "A", 10), step(2, "B", "B", 6)))
    assert "16 working days" in check_steps_fit(calendar_days, 480)
    same_day = ProcedureRule(
        amount=None, unit="same_day", steps=(step(1, "A", "A", None, "same_day"), step(2, "B", "B", None, "same_day"))
    )
    assert "2 working days" in check_steps_fit(same_day, 480)
    hours = ProcedureRule(amount=0.5, unit="working_days", steps=(step(1, "A", "A", 5, "working_hours"),))
    assert "0.625 working days" in check_steps_fit(hours, 480)


def test_steps_that_cannot_be_measured():
    no_amount = ProcedureRule(amount=5, unit="working_days", steps=(step(1, "Thẩm định", "A", None),))
    assert check_steps_fit(no_amount, 480) == (
        "step 1 (Thẩm định) has no amount; only same_day and excluded steps go without"
    )
    bad_unit = ProcedureRule(amount=5, unit="working_days", steps=(step(1, "A", "A", 2, "calendar_days"),))
    assert "accepted: working_days, working_hours, same_day, excluded" in check_steps_fit(bad_unit, 480)
    no_total = ProcedureRule(amount=None, unit="working_days", steps=(step(1, "A", "A", 2),))
    assert check_steps_fit(no_total, 480) == "the procedure has no processing time to compare its steps with"


def test_an_apology_in_the_history_is_not_rechecked_under_a_moved_due(cal):
    """Lawful when recorded, 1 working day ahead and later than the due; a re-derivation (or the next
    event) replays it as history even if the calendar has since moved the due past its new date."""
    events = [ev("received", at(25, 4, 9)), ev("apology_issued", at(26, 4, 10), new_due_at=at(29, 4, 9))]
    with pytest.raises(ApologyError, match="must be after the current due date"):
        replay(THREE_DAYS, cal, events, receiving_agency_code="XA")
    state = replay(THREE_DAYS, cal, events, receiving_agency_code="XA", checked_from=len(events))
    assert state.rescheduled_due_at == state.due_at == at(29, 4, 9)
    assert state.original_due_at == at(29, 4, 9)
    with pytest.raises(ApologyError):  # the event being recorded is checked
        replay(THREE_DAYS, cal, events, receiving_agency_code="XA", checked_from=1)


# -- the hand-back to the receiving desk ----------------------------------------------------------

RESOLVED_AT_VP = RELIGION_EVENTS[:2] + [ev("resolved", at(15, 5, 11), agency_code="VP")]
HAND_BACK = ev("result_sent_to_desk", at(15, 5, 15), agency_code="VP")
RETURNED = ev("result_returned", at(19, 5, 9), agency_code="SO")


def test_a_result_resolved_away_travels_back_to_the_desk_in_its_own_stage(cal):
    resolved = replay(RELIGION, cal, RESOLVED_AT_VP, receiving_agency_code="SO")
    assert (resolved.status, resolved.current_agency_code) == (Status.RESOLVED, "VP")
    sent = replay(RELIGION, cal, [*RESOLVED_AT_VP, HAND_BACK], receiving_agency_code="SO")
    assert (sent.status, sent.current_agency_code) == (Status.RESOLVED, "SO")
    back = sent.stages[-1]
    assert (back.seq, back.agency_code, back.name, back.step_seq) == (3, "SO", "hand-back", None)
    assert (back.started_at, back.ended_at, back.due_at, back.allotment_minutes) == (at(15, 5, 15), None, None, None)
    assert (back.outcome, back.overrun_minutes, back.excluded) == (None, 0, False)
    returned = replay(RELIGION, cal, [*RESOLVED_AT_VP, HAND_BACK, RETURNED], receiving_agency_code="SO")
    assert (returned.status, returned.current_agency_code) == (Status.RETURNED, "SO")
    assert returned.stages[-1].ended_at == at(19, 5, 9) and returned.stages[-1].outcome is None


def test_the_hand_back_changes_neither_the_outcome_nor_the_blame(cal):
    without = replay(RELIGION, cal, RESOLVED_AT_VP, receiving_agency_code="SO")
    with_it = replay(RELIGION, cal, [*RESOLVED_AT_VP, HAND_BACK, RETURNED], receiving_agency_code="SO")
    assert with_it.finished_at == without.finished_at == at(15, 5, 11)
    assert with_it.outcome == without.outcome
    assert with_it.original_due_at == without.original_due_at and with_it.due_at == without.due_at
    assert with_it.late_stage_seqs == without.late_stage_seqs == [2]
    assert with_it.stages[:2] == without.stages
    assert with_it.paused_minutes == without.paused_minutes


def test_a_result_away_is_not_returned_before_it_is_sent_back(cal):
    away_return = ev("result_returned", at(16, 5, 9), agency_code="VP")
    with pytest.raises(InvalidTransition, match="goes back to the receiving desk first") as info:
        replay(RELIGION, cal, [*RESOLVED_AT_VP, away_return], receiving_agency_code="SO")
    assert info.value.allowed == ("result_sent_to_desk",)
    # history (an older log, an import): a return where the result was stands, as it was accepted
    state = replay(RELIGION, cal, [*RESOLVED_AT_VP, away_return], receiving_agency_code="SO", checked_from=4)
    assert (state.status, state.current_agency_code, len(state.stages)) == (Status.RETURNED, "VP", 2)


def test_a_result_at_the_desk_is_returned_directly_and_never_sent_back(cal):
    at_desk = [ev("received", at(25, 4, 9)), ev("resolved", at(28, 4, 9))]
    state = replay(THREE_DAYS, cal, [*at_desk, ev("result_returned", at(28, 4, 10))], receiving_agency_code="XA")
    assert (state.status, state.current_agency_code, len(state.stages)) == (Status.RETURNED, "XA", 1)
    for events in (
        [*at_desk, ev("result_sent_to_desk", at(28, 4, 10))],  # resolved where it was received
        [*RELIGION_EVENTS, ev("result_sent_to_desk", at(19, 5, 11))],  # the chain ended back at the desk
        [*RESOLVED_AT_VP, HAND_BACK, ev("result_sent_to_desk", at(15, 5, 16))],  # twice
    ):
        with pytest.raises(InvalidTransition, match="already at the receiving desk") as info:
            replay(RELIGION, cal, events, receiving_agency_code="XA" if len(events) == 3 else "SO",
                   checked_from=len(events))  # fmt: skip
        assert info.value.allowed == ("result_returned",)


@pytest.mark.parametrize("status_events", [RELIGION_EVENTS[:2], RELIGION_EVENTS[:1]])
def test_the_hand_back_follows_a_resolution_only(cal, status_events):
    with pytest.raises(InvalidTransition, match="result_sent_to_desk"):
        replay(RELIGION, cal, [*status_events, ev("result_sent_to_desk", at(20, 5, 9))], receiving_agency_code="SO")
