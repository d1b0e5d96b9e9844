"""The batch replay (sla.core.batch) against the per-dossier replay: identical derived columns and stages.

Event logs are generated for every rule shape of the seed catalogue (seed/data/procedures.csv: working
days, hours, calendar days, same day, with and without a cut-off, chains with parallel groups and
excluded steps), under both supplement policies; each dossier's log is grown one event at a time from
the events its status admits, so most are valid and a few are rejected by `replay` (the batch must
then report the same error for that dossier and still replay the others). A resolved dossier may take
both a hand-back to the desk (result_sent_to_desk) and a return, in any order the table admits: a
hand-back from the desk itself is rejected, a return away from the desk is history (not checked).
"""

import csv
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sla.core.batch import EVENT_CODES, NONE, BatchReplay, EventColumns, micros_of, replay_batch
from sla.core.calendar import Override, WorkingCalendar
from sla.core.lifecycle import Status, allowed_events, next_status
from sla.core.replay import Event, ProcedureRule, StepRule, replay

CATALOGUE = Path(__file__).resolve().parents[3] / "seed" / "data" / "procedures.csv"
CALENDAR = WorkingCalendar(
    first_year=2024,
    last_year=2026,
    overrides=[Override(datetime(2025, 4, 26).date(), "workday", "make-up Saturday")],
)
_STEP_UNITS = {"same_day": "same_day", "excluded": "excluded"}


def _steps(text: str) -> tuple[StepRule, ...]:
    steps = []
    for seq, item in enumerate(filter(None, text.split(";")), start=1):
        name, _, rest = item.rpartition("=")
        ref, _, amount = rest.partition(":")
        amount, _, group = amount.partition("|")
        if amount in _STEP_UNITS:
            unit, value = _STEP_UNITS[amount], None
        elif amount.endswith("h"):
            unit, value = "working_hours", float(amount[:-1])
        else:
            unit, value = "working_days", float(amount)
        agency = None if ref.startswith("@") else ref
        role = ref[1:] if agency is None else None
        steps.append(StepRule(seq, name or ref, agency, role, value, unit, group or None))
    return tuple(steps)


def _catalogue_shapes() -> list[ProcedureRule]:
    """One rule per distinct shape of the seed catalogue (unit, amount, cut-off, steps), each under both
    supplement policies."""
    rules = {}
    with CATALOGUE.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            cutoff = time.fromisoformat(row["same_day_cutoff"]) if row["same_day_cutoff"] else None
            amount = float(row["amount"]) if row["amount"] else None
            for policy in ("restart", "resume"):
                rule = ProcedureRule(amount, row["unit"], cutoff, policy, _steps(row["steps"]))
                shape = (rule.unit, rule.cutoff, policy, tuple((s.unit, s.parallel_group) for s in rule.steps))
                rules.setdefault(shape, rule)
    return list(rules.values())


RULES = _catalogue_shapes()
AGENCIES = ["R1", "R2", "X1", "X2"]
WEIGHTS = {"received": 12, "forwarded": 10, "refused": 1, "withdrawn": 1, "stopped": 1, "abandoned": 1, "resolved": 2,
           "result_sent_to_desk": 6}  # fmt: skip
"""How often each admitted event is drawn (default 3): lives long enough to reach every move."""


def test_the_catalogue_gives_every_rule_shape():
    units = {r.unit for r in RULES}
    assert units == {"working_days", "calendar_days", "same_day"} | (units & {"working_hours"})
    assert any(r.cutoff for r in RULES) and any(not r.cutoff for r in RULES)
    assert any(any(s.parallel_group for s in r.steps) for r in RULES)
    assert any(any(s.unit == "excluded" for s in r.steps) for r in RULES)
    assert {r.supplement_policy for r in RULES} == {"restart", "resume"}


def _agency_pool(rule: ProcedureRule) -> list[str]:
    return AGENCIES + sorted({s.agency_code for s in rule.steps if s.agency_code})


@st.composite
def dossier_logs(draw, rule: ProcedureRule):
    """(receiving agency, events) of one dossier: grown from the events its status admits."""
    pool = _agency_pool(rule)
    receiving = draw(st.sampled_from(AGENCIES[:2]))
    start = datetime(2025, 1, 2, tzinfo=UTC) + timedelta(
        minutes=draw(st.integers(0, 300 * 1440)), seconds=draw(st.sampled_from([0, 0, 0, 17]))
    )
    events: list[Event] = []
    status, apology, at, state = None, False, start, None
    for _ in range(draw(st.integers(1, 14))):
        admitted = allowed_events(status, apology_issued=apology)
        if status == Status.RESOLVED:  # the table's both: the replay decides (hand-back only away from the desk)
            admitted = ("result_sent_to_desk", "result_returned")
        if not admitted:
            break
        kind = draw(st.sampled_from([e for e in admitted for _ in range(WEIGHTS.get(e, 3))]))
        gap = draw(st.sampled_from([0, 1, 45, 240, 600, 1440, 3 * 1440, 9 * 1440]))
        if kind != "forwarded" or not events or events[-1].type != "forwarded":
            gap = max(gap, 1) if draw(st.booleans()) else gap
        at = at + timedelta(minutes=gap)
        fields = {}
        if kind == "forwarded":
            same = events and events[-1].type == "forwarded" and gap == 0
            holders = [s.agency_code for s in state.stages if s.ended_at is None] if state else []
            fields["agency_code"] = (
                events[-1].agency_code
                if same and draw(st.booleans())
                else draw(st.sampled_from(holders * 4 + pool + [None]))
            )
            fields["to_agency_code"] = draw(st.sampled_from(pool))
        elif kind == "apology_issued":
            fields["new_due_at"] = at + timedelta(days=draw(st.integers(1, 20)))
        candidate = Event(kind, at, **fields)
        try:
            state = replay(
                rule, CALENDAR, [*events, candidate], receiving_agency_code=receiving, checked_from=len(events) + 1
            )
        except Exception:  # noqa: BLE001
            if draw(st.integers(0, 9)) == 0:  # now and then keep a log the replay rejects
                events.append(candidate)
                break
            continue
        events.append(candidate)
        status = next_status(status, kind, apology_issued=apology)
        apology = apology or kind == "apology_issued"
    return receiving, events


def _columns(logs, ids) -> EventColumns:
    rows = [(row, e) for row, (_, events) in enumerate(logs) for e in events]
    return EventColumns(
        dossier=np.array([row for row, _ in rows], dtype=np.int64),
        type=np.array([EVENT_CODES[e.type] for _, e in rows], dtype=np.int64),
        at=np.array([micros_of(e.at) for _, e in rows], dtype=np.int64),
        agency=np.array([ids.get(e.agency_code, -1) for _, e in rows], dtype=np.int64),
        to_agency=np.array([ids.get(e.to_agency_code, -1) for _, e in rows], dtype=np.int64),
        new_due=np.array([micros_of(e.new_due_at) for _, e in rows], dtype=np.int64),
    )


def _retimed(events: list[Event], draw) -> list[Event]:
    """The same life at other instants: same types and agencies, same-instant hand-offs kept together."""
    shift = timedelta(minutes=draw(st.integers(-100 * 1440, 100 * 1440)))
    out, previous, moved = [], None, shift
    for event in events:
        if previous is not None and event.at > previous.at:
            moved += timedelta(minutes=draw(st.integers(0, 2 * 1440)))
        new_due = event.new_due_at + moved if event.new_due_at else None
        out.append(Event(event.type, event.at + moved, event.agency_code, event.to_agency_code, new_due))
        previous = event
    return out


@st.composite
def batches(draw):
    rule = draw(st.sampled_from(RULES))
    logs = draw(st.lists(dossier_logs(rule), min_size=1, max_size=6))
    logs += [(receiving, _retimed(events, draw)) for receiving, events in logs if draw(st.booleans())]
    return rule, logs


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches())
def test_batch_equals_replay(case):
    rule, logs = case
    pool = _agency_pool(rule)
    codes = dict(enumerate(pool, start=10))
    ids = {code: agency_id for agency_id, code in codes.items()}
    result = replay_batch(rule, CALENDAR, np.array([ids[r] for r, _ in logs]), _columns(logs, ids), codes)
    for row, (receiving, events) in enumerate(logs):
        try:
            expected = replay(rule, CALENDAR, events, receiving_agency_code=receiving, checked_from=len(events))
        except Exception as exc:  # noqa: BLE001
            assert type(result.failed[row]) is type(exc) and str(result.failed[row]) == str(exc)
            continue
        assert row not in result.failed
        assert result.clock_state(row, codes) == expected


RELIGION = next(r for r in RULES if len(r.steps) == 3 and not any(s.parallel_group for s in r.steps))
BIRTH = next(r for r in RULES if any(s.parallel_group for s in r.steps) and r.steps[-1].parallel_group)
LAND = next(r for r in RULES if any(s.unit == "excluded" for s in r.steps))


def _local(day: int, month: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, month, day, hour - 7, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    "rule, log",
    [
        (  # a chain with a parallel group: branches at one instant, coming back one by one
            BIRTH,
            [("received", _local(2, 6, 9)), ("forwarded", _local(2, 6, 15), "R1", "X1"),
             ("forwarded", _local(2, 6, 15), "R1", "000.00.15.H26"), ("forwarded", _local(4, 6, 9), "X1", "R1"),
             ("forwarded", _local(5, 6, 10), "000.00.15.H26", "R1"), ("resolved", _local(5, 6, 11))],
        ),
        (  # an excluded step (tax) pauses the clock; a supplement under restart; a late resolution
            LAND,
            [("received", _local(3, 6, 9)), ("supplement_requested", _local(3, 6, 10)),
             ("supplement_received", _local(9, 6, 8)), ("forwarded", _local(10, 6, 9), "R1", "000.00.08.H26"),
             ("forwarded", _local(13, 6, 9), "000.00.08.H26", "000.00.16.H26"),
             ("forwarded", _local(25, 6, 9), "000.00.16.H26", "000.00.08.H26"), ("resolved", _local(21, 7, 9))],
        ),
        (  # received after hours and handed on to the excluded step before the clock starts
            LAND,
            [("received", _local(3, 6, 18)), ("forwarded", _local(3, 6, 18, 30), "R1", "000.00.08.H26"),
             ("forwarded", _local(3, 6, 18, 40), "000.00.08.H26", "000.00.16.H26")],
        ),
        (  # resolved at another agency: the result travels back to the desk, where it is returned
            RELIGION,
            [("received", _local(3, 6, 9)), ("forwarded", _local(3, 6, 14), "R1", "X1"),
             ("resolved", _local(6, 6, 10)), ("result_sent_to_desk", _local(6, 6, 15), "X1"),
             ("result_returned", _local(9, 6, 8), "R1")],
        ),
        (  # sent back, not yet returned: the desk holds it
            BIRTH,
            [("received", _local(2, 6, 9)), ("forwarded", _local(2, 6, 15), "R1", "X1"),
             ("resolved", _local(4, 6, 9)), ("result_sent_to_desk", _local(4, 6, 9), "X1")],
        ),
        (  # an older log: returned at the processing agency, with no hand-back (history stands)
            RELIGION,
            [("received", _local(3, 6, 9)), ("forwarded", _local(3, 6, 14), "R1", "X1"),
             ("resolved", _local(6, 6, 10)), ("result_returned", _local(7, 6, 10), "X1")],
        ),
        (  # an apology, a pause, a withdrawal
            RELIGION,
            [("received", _local(3, 6, 9)), ("apology_issued", _local(4, 6, 9)), ("paused", _local(5, 6, 9)),
             ("resumed", _local(12, 6, 9)), ("withdrawn", _local(13, 6, 9))],
        ),
    ],
)
def test_hand_written_lives(rule, log):
    pool = _agency_pool(rule)
    codes = dict(enumerate(pool, start=10))
    ids = {code: agency_id for agency_id, code in codes.items()}
    events = []
    for item in log:
        kind, at, *agencies = item
        new_due = at + timedelta(days=40) if kind == "apology_issued" else None
        agencies = (agencies + [None, None])[:2]
        events.append(Event(kind, at, *agencies, new_due_at=new_due))
    logs = [("R1", events)] * 3
    result = replay_batch(rule, CALENDAR, np.array([ids["R1"]] * 3), _columns(logs, ids), codes)
    expected = replay(rule, CALENDAR, events, receiving_agency_code="R1", checked_from=len(events))
    assert [result.clock_state(row, codes) for row in range(3)] == [expected] * 3
    assert len(expected.stages) >= 1


def test_a_failing_dossier_is_named_and_the_others_replayed():
    rule = RELIGION
    codes = {1: "R1", 2: "X1"}
    good = [Event("received", _local(3, 6, 9)), Event("resolved", _local(4, 6, 9))]
    backwards = [Event("received", _local(3, 6, 9)), Event("resolved", _local(2, 6, 9))]
    not_admitted = [Event("received", _local(3, 6, 9)), Event("resumed", _local(4, 6, 9))]
    unknown_agency = [Event("received", _local(3, 6, 9)), Event("forwarded", _local(4, 6, 9), "X1", "R1")]
    logs = [("R1", good), ("R1", backwards), ("R1", not_admitted), ("R1", unknown_agency), ("R1", [])]
    result = replay_batch(rule, CALENDAR, np.array([1] * 5), _columns(logs, {"R1": 1, "X1": 2}), codes)
    assert sorted(result.failed) == [1, 2, 3, 4]
    assert "before the previous event" in str(result.failed[1])
    assert "not allowed" in str(result.failed[2])
    assert "holds no open stage" in str(result.failed[3])
    assert "at least one event" in str(result.failed[4])
    assert result.clock_state(0, codes) == replay(rule, CALENDAR, good, receiving_agency_code="R1")


def test_a_hand_back_from_the_desk_itself_is_refused_as_replay_refuses_it():
    codes = {1: "R1", 2: "X1"}
    at_desk = [Event("received", _local(3, 6, 9)), Event("resolved", _local(4, 6, 9)),
               Event("result_sent_to_desk", _local(4, 6, 10))]  # fmt: skip
    twice = [Event("received", _local(3, 6, 9)), Event("forwarded", _local(3, 6, 10), "R1", "X1"),
             Event("resolved", _local(4, 6, 9)), Event("result_sent_to_desk", _local(4, 6, 10)),
             Event("result_sent_to_desk", _local(4, 6, 11))]  # fmt: skip
    logs = [("R1", at_desk), ("R1", twice), ("R1", twice[:4])]
    result = replay_batch(RELIGION, CALENDAR, np.array([1] * 3), _columns(logs, {"R1": 1, "X1": 2}), codes)
    assert sorted(result.failed) == [0, 1]
    for row in (0, 1):
        assert "already at the receiving desk" in str(result.failed[row])
    state = result.clock_state(2, codes)
    assert state.current_agency_code == "R1" and state.stages[-1].name == "hand-back"
    assert state.stages[-1].due_at is None and state.stages[-1].ended_at is None


def test_the_engine_sends_results_back_only_from_away():
    clock = BatchReplay(RELIGION, CALENDAR, np.array([1, 1]), 4)
    rows, at = np.array([0, 1]), np.array([micros_of(_local(3, 6, 9)) // 60_000_000] * 2)
    clock.received(rows, at, 0)
    clock.forwarded(rows[:1], at[:1] + 60, np.array([[True, False, False, False]]), 1, np.array([2]))
    clock.resolved(rows, at + 120)
    with pytest.raises(Exception, match="already at the receiving desk"):
        clock.result_sent_to_desk(rows, at + 180)
    clock.result_sent_to_desk(rows[:1], at[:1] + 180)
    assert clock.holder(rows).tolist() == [1, 1]
    clock.result_returned(rows, at + 240)
    result = clock.result()
    assert result.stage_count.tolist() == [3, 1]
    assert result.stage_name(int(result.stage_step[0, 2]), 3) == "hand-back"
    assert result.stage_ended[0, 2] == at[0] + 240 and result.stage_outcome[0, 2] == -1
    assert result.status.tolist() == [Status.RETURNED, Status.RETURNED]


def test_the_engine_takes_statuses_from_the_lifecycle():
    clock = BatchReplay(RELIGION, CALENDAR, np.array([1, 1]), 4)
    rows, at = np.array([0, 1]), np.array([micros_of(_local(3, 6, 9)) // 60_000_000] * 2)
    clock.received(rows, at, 0)
    clock.paused_event(rows[:1], at[:1])
    assert clock.status.tolist() == [Status.WAITING_OBLIGATION, Status.RECEIVED]
    with pytest.raises(Exception, match="not allowed"):
        clock.resolved(rows, at)
    assert (clock.finished == NONE).all()
