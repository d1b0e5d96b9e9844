"""A complaint's clocks on a calendar with a make-up Saturday, and its state machine (no database)."""

from datetime import UTC, date, datetime

import numpy as np
import pytest

from complaints.clocks import ComplaintTransitionError, Fact, derive, late_clocks
from sla.core.calendar import LOCAL_TZ, Override, WorkingCalendar

# 2026: Friday 02/01 off, Saturday 10/01 a make-up working day (official notice 12729/VPCP-KGVX)
CALENDAR = WorkingCalendar(
    first_year=2025,
    last_year=2027,
    overrides=[
        Override(date(2026, 1, 2), "off", "Nghỉ bù"),
        Override(date(2026, 1, 10), "workday", "Ngày làm bù cho 02/01/2026"),
    ],
)


def local(*args) -> datetime:
    return datetime(*args, tzinfo=LOCAL_TZ)


def test_the_clocks_count_the_make_up_saturday():
    # Received Thu 08/01/2026 10:00. Working days after it: Fri 09 (1), Sat 10 make-up (2), Mon 12 (3),
    # Tue 13 (4), Wed 14 (5), Thu 15 (6), Fri 16 (7), 19 (8), 20 (9), 21 (10), 22 (11), 23 (12), 26 (13),
    # 27 (14), Wed 28/01 (15).
    state = derive([Fact("received", local(2026, 1, 8, 10))], 1, CALENDAR)
    assert state.refuse_due_at == local(2026, 1, 10, 10)  # the make-up Saturday
    assert state.supplement_due_at == local(2026, 1, 14, 10)
    assert state.answer_due_at == local(2026, 1, 28, 10)
    assert state.next_due_at == state.answer_due_at
    # Answered Fri 09/01 16:00: publish within 2 working days → Sat 10/01 (1 h) … Mon 12/01 16:00.
    answered = derive(
        [Fact("received", local(2026, 1, 8, 10)), Fact("answered", local(2026, 1, 9, 16))], 1, CALENDAR
    )
    assert answered.publish_due_at == local(2026, 1, 12, 16)
    assert answered.next_due_at == answered.publish_due_at and answered.allowed == ("published", "repeated")


def test_received_on_a_day_off_starts_at_the_next_working_instant():
    # Fri 02/01/2026 (a swapped day off) 09:00 → the clock starts Mon 05/01 08:00; 2 days → Tue 06/01 17:00
    state = derive([Fact("received", local(2026, 1, 2, 9))], 1, CALENDAR)
    assert state.refuse_due_at == local(2026, 1, 6, 17)


def test_the_state_machine_names_what_it_takes():
    facts = [Fact("received", local(2026, 1, 8, 10)), Fact("published", local(2026, 1, 9, 10))]
    with pytest.raises(ComplaintTransitionError, match="takes: transferred, supplement_requested, refused, answered"):
        derive(facts, 1, CALENDAR)
    done = [
        Fact("received", local(2026, 1, 8, 10)),
        Fact("transferred", local(2026, 1, 8, 11), to_agency_id=7),
        Fact("answered", local(2026, 1, 9, 10)),
        Fact("published", local(2026, 1, 9, 11)),
        Fact("disliked", local(2026, 1, 12, 9)),
    ]
    state = derive(done, 1, CALENDAR)
    assert (state.agency_id, state.transfer_count, state.feedback, state.next_due_at) == (7, 1, "disliked", None)
    assert state.allowed == ("repeated",)  # one like or dislike
    with pytest.raises(ComplaintTransitionError):
        derive([*done, Fact("liked", local(2026, 1, 12, 10))], 1, CALENDAR)


def _columns(**instants):
    names = (
        "received_at", "refuse_due_at", "supplement_due_at", "answer_due_at", "publish_due_at",
        "refused_at", "first_supplement_at", "answered_at", "published_at",
    )  # fmt: skip
    return {
        name: np.array(
            [None if v is None else np.datetime64(v.astimezone(UTC).replace(tzinfo=None), "m") for v in instants[name]]
            if name in instants
            else [None] * len(next(iter(instants.values()))),
            dtype="datetime64[m]",
        )
        for name in names
    }


def test_late_clocks_compare_local_dates_as_of_an_instant():
    due = local(2026, 1, 28, 10)
    columns = _columns(
        refuse_due_at=[local(2026, 1, 10, 10)] * 4,
        supplement_due_at=[local(2026, 1, 14, 10)] * 4,
        answer_due_at=[due] * 4,
        publish_due_at=[None, local(2026, 1, 30, 16), None, None],
        answered_at=[None, local(2026, 1, 28, 16), None, None],  # 16:00 on the due day: kept
        refused_at=[None, None, local(2026, 1, 12, 9), None],  # after Saturday's due: late
        first_supplement_at=[None, None, None, local(2026, 1, 14, 16)],  # on the due day: kept
    )
    late = late_clocks(columns, np.datetime64("2026-01-28T16:59"))  # 23:59 local on the answer's due day
    assert late["late"].tolist() == [False, False, True, False]
    late = late_clocks(columns, np.datetime64("2026-01-28T17:00"))  # 00:00 local on 29/01
    assert late["answer"].tolist() == [True, False, False, True]  # unanswered past the due; a refusal owes none
    late = late_clocks(columns, np.datetime64("2026-02-01T00:00"))
    assert late["publish"].tolist() == [False, True, False, False]  # answered, unpublished past 30/01
