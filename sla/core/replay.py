"""The clock replay: a dossier's deadlines, stages and outcome, derived from its ordered events.

Rules: docs/sla-core.md (replay section) and ../shared/domain.md §3–§5. Pure: no database, no web.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time

import numpy as np

from sla.core.calendar import LOCAL_MINUTE_FORMAT, LOCAL_TZ, OUTCOME_LATE, OUTCOME_NAMES, Unit, WorkingCalendar
from sla.core.lifecycle import HAND_BACK, Status, next_status

STEP_EXCLUDED = "excluded"
HAND_BACK_STAGE = "hand-back"
"""The name of the stage a hand-back (result_sent_to_desk) opens at the receiving desk."""
SUPPLEMENT_POLICIES = ("restart", "resume")
_WITHDRAWAL_EVENTS = ("withdrawn", "stopped", "abandoned")


class ReplayError(ValueError):
    """The events or the rule cannot be replayed; the message says what is accepted."""


class EventOrderError(ReplayError):
    """An event is dated before the event that precedes it."""


class ApologyError(ReplayError):
    """An apology (form 04) that breaks the rule: 1 working day ahead, a later new due."""


class HandOffError(ReplayError):
    """A `forwarded` event that does not fit the open stages."""


@dataclass(frozen=True)
class StepRule:
    seq: int
    name: str
    agency_code: str | None
    role: str | None
    amount: float | None
    unit: str  # working_days | working_hours | same_day | excluded
    parallel_group: str | None = None  # steps sharing a group run in parallel


@dataclass(frozen=True)
class ProcedureRule:
    amount: float | None
    unit: str  # Unit value; amount None for same_day
    cutoff: time | None = None
    supplement_policy: str = "restart"  # restart | resume
    steps: tuple[StepRule, ...] = ()


@dataclass(frozen=True)
class Event:
    type: str
    at: datetime  # aware
    agency_code: str | None = None  # agency acting (from)
    to_agency_code: str | None = None  # forwarded
    new_due_at: datetime | None = None  # apology_issued
    reason: str | None = None


@dataclass
class StageState:
    seq: int
    agency_code: str | None
    name: str
    step_seq: int | None
    started_at: datetime
    allotment_minutes: int | None  # None: no own allotment (excluded, or no step: overall due)
    due_at: datetime | None  # None only for an excluded stage and the hand-back
    ended_at: datetime | None
    outcome: str | None  # early | on_time | late | withdrawn | None (open, excluded, hand-back)
    overrun_minutes: int  # working minutes past its due (0 unless late)
    excluded: bool = False  # an excluded step: pauses the dossier clock while open


@dataclass
class ClockState:
    status: Status
    clock_start: datetime | None
    original_due_at: datetime | None
    rescheduled_due_at: datetime | None
    due_at: datetime | None
    finished_at: datetime | None
    outcome: str | None  # early | on_time | late | withdrawn | refused | None (open)
    paused_minutes: int
    supplement_count: int
    apology_issued: bool
    current_agency_code: str | None
    stages: list[StageState]
    late_stage_seqs: list[int]
    clock_stopped_since: datetime | None = None  # set while the clock stands still


def replay(
    rule: ProcedureRule,
    calendar: WorkingCalendar,
    events: Sequence[Event],
    *,
    receiving_agency_code: str,
    checked_from: int = 0,
) -> ClockState:
    """Walk the dossier's events in order and return its derived clock state.

    The rules of the moment an event is recorded (an apology 1 working day ahead of the due, for a
    later date) are checked from event `checked_from` on: the events before it are history, taken
    as they were accepted, even if the calendar or the procedure has moved the due since (a
    re-derivation checks none; recording an event checks that one).
    """
    if not events:
        raise ReplayError("a dossier has at least one event (submitted, received or refused)")
    if rule.supplement_policy not in SUPPLEMENT_POLICIES:
        raise ReplayError(
            f"unknown supplement policy {rule.supplement_policy!r}; accepted: {', '.join(SUPPLEMENT_POLICIES)}"
        )
    walk = _Replay(rule, calendar, receiving_agency_code)
    for index, event in enumerate(events):
        walk.checking = index >= checked_from
        walk.apply(event)
    return walk.result()


def rule_total_minutes(rule: ProcedureRule, minutes_per_day: int) -> int | None:
    """The procedure's whole time in working minutes, for comparison with its steps.

    N calendar days count as N working days and a same-day procedure as 1 day;
    None when the rule has no amount.
    """
    if rule.unit == Unit.SAME_DAY:
        return minutes_per_day
    if rule.amount is None:
        return None
    if rule.unit == Unit.CALENDAR_DAYS:
        return round(rule.amount * minutes_per_day)
    return _working_minutes(rule.amount, rule.unit, minutes_per_day)


def check_steps_fit(rule: ProcedureRule, minutes_per_day: int) -> str | None:
    """An error message when the steps allot more than the whole along the longest path, else None.

    Steps of one parallel group count their longest member; excluded steps count 0; same_day 1 day.
    """
    if not rule.steps:
        return None
    try:
        total = rule_total_minutes(rule, minutes_per_day)
        longest_path, group_longest = 0, {}
        for step in sorted(rule.steps, key=lambda s: s.seq):
            minutes = _step_minutes(step, minutes_per_day)
            if step.parallel_group is None:
                longest_path += minutes
            else:
                group_longest[step.parallel_group] = max(minutes, group_longest.get(step.parallel_group, 0))
    except ValueError as exc:
        return str(exc)
    if total is None:
        return "the procedure has no processing time to compare its steps with"
    longest_path += sum(group_longest.values())
    if longest_path > total:
        return (
            f"the steps allot {_days(longest_path, minutes_per_day)} working days along the longest path, "
            f"more than the procedure's {_days(total, minutes_per_day)} working days"
        )
    return None


def _working_minutes(amount: float, unit: str, minutes_per_day: int) -> int:
    if unit == Unit.WORKING_DAYS:
        return round(amount * minutes_per_day)
    if unit == Unit.WORKING_HOURS:
        return round(amount * 60)
    raise ValueError(f"unknown unit {unit!r}; accepted: {', '.join(u.value for u in Unit)}")


def _step_minutes(step: StepRule, minutes_per_day: int) -> int:
    """A step's nominal allotment: excluded 0, same_day 1 day."""
    if step.unit == STEP_EXCLUDED:
        return 0
    if step.unit == Unit.SAME_DAY:
        return minutes_per_day
    if step.amount is None:
        raise ValueError(f"step {step.seq} ({step.name}) has no amount; only same_day and excluded steps go without")
    if step.unit not in (Unit.WORKING_DAYS, Unit.WORKING_HOURS):
        raise ValueError(
            f"step {step.seq} ({step.name}) has unit {step.unit!r}; "
            "accepted: working_days, working_hours, same_day, excluded"
        )
    return _working_minutes(step.amount, step.unit, minutes_per_day)


def _days(minutes: int, minutes_per_day: int) -> str:
    return f"{minutes / minutes_per_day:g}"


def _utc(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ReplayError(f"{what} must be timezone-aware (e.g. 2025-04-25T09:00+07:00), got {value.isoformat()}")
    return value.astimezone(UTC)


def _local(value: datetime) -> str:
    return value.astimezone(LOCAL_TZ).strftime(LOCAL_MINUTE_FORMAT)


class _Stage:
    """A stage and what the walk needs to move its due."""

    __slots__ = ("state", "step", "graded")

    def __init__(self, state: StageState, step: StepRule | None) -> None:
        self.state = state
        self.step = step  # None: no own allotment, the stage shares the overall due
        self.graded = True  # False once closed by a withdrawal, stop or abandonment

    @property
    def group(self) -> str | None:
        return self.step.parallel_group if self.step else None


class _Replay:
    """One pass over a dossier's events."""

    def __init__(self, rule: ProcedureRule, calendar: WorkingCalendar, receiving_agency_code: str) -> None:
        self.rule = rule
        self.cal = calendar
        self.receiving_agency_code = receiving_agency_code
        self.steps = sorted(rule.steps, key=lambda s: s.seq)
        self.unused_steps = list(range(len(self.steps)))
        self.started_groups: set[str] = set()

        self.status: Status | None = None
        self.last_at: datetime | None = None
        self.clock_start: datetime | None = None
        self.original_due: datetime | None = None
        self.rescheduled_due: datetime | None = None
        self.finished_at: datetime | None = None
        self.end_kind: str | None = None  # graded | withdrawn | refused
        self.paused_minutes = 0
        self.supplement_count = 0
        self.apology_issued = False
        self.checking = True  # whether the event being applied is held to the rules of its recording
        self.stages: list[_Stage] = []
        # (at, from agency, group of the stage it opened) of the latest forward that opened a stage
        self.last_forward: tuple[datetime, str | None, str | None] | None = None

        # why the clock stands still, and since when
        self.paused = False
        self.supplement_requested_at: datetime | None = None
        self.excluded_open = 0
        self.stopped_since: datetime | None = None

    # -- walking ---------------------------------------------------------------------------------

    def apply(self, event: Event) -> None:
        at = _utc(event.at, f"the {event.type!r} event's time")
        if self.last_at is not None and at < self.last_at:
            raise EventOrderError(
                f"event {event.type!r} at {_local(at)} is before the previous event at {_local(self.last_at)}; "
                "events must be in time order"
            )
        status = next_status(self.status, event.type, apology_issued=self.apology_issued,
                             result_away=self._result_away(event.type))  # fmt: skip
        getattr(self, f"_on_{event.type}")(event, at)
        if event.type != "forwarded":
            self.last_forward = None
        self.status = status
        self.last_at = at

    def _on_submitted(self, event: Event, at: datetime) -> None:
        pass  # an online dossier waits for reception; its clock has not started

    def _on_received(self, event: Event, at: datetime) -> None:
        rule = self.rule
        self.clock_start, self.original_due = self.cal.due_at(at, rule.amount, rule.unit, rule.cutoff)
        self._open_stage(
            at, self.receiving_agency_code, self._take_step(self.receiving_agency_code), cutoff=rule.cutoff
        )

    def _on_refused(self, event: Event, at: datetime) -> None:
        self.finished_at, self.end_kind = at, "refused"

    def _on_forwarded(self, event: Event, at: datetime) -> None:
        if not event.to_agency_code:
            raise HandOffError("a hand-off (forwarded) needs the agency it goes to: to_agency_code")
        if self.last_forward is not None and self.last_forward[:2] == (at, event.agency_code):
            # the same agency forwarding again at the same instant: a further parallel branch
            self._open_stage(at, event.to_agency_code, self._take_branch_step(event.to_agency_code))
            return
        open_stages = self._open_stages()
        if event.agency_code is not None:
            closing = [s for s in open_stages if s.state.agency_code == event.agency_code]
        else:
            closing = [s for s in open_stages if s.group is None]
        if not closing:
            who = event.agency_code or "an unnamed agency"
            holders = ", ".join(sorted({str(s.state.agency_code) for s in open_stages}))
            raise HandOffError(
                f"{who} holds no open stage to forward at {_local(at)}; open stages are held by {holders} "
                "(name the forwarding agency, or forward parallel branches at the same instant)"
            )
        self._close(closing, at, graded=True)
        groups = {s.group for s in closing}
        if None not in groups and any(s.group in groups for s in self._open_stages()):
            self.last_forward = None  # a parallel branch is done; the next stage opens with the last branch
            return
        stage = self._open_stage(at, event.to_agency_code, self._take_step(event.to_agency_code))
        self.last_forward = (at, event.agency_code, stage.group)

    def _on_supplement_requested(self, event: Event, at: datetime) -> None:
        self.supplement_count += 1
        self._stop(at)
        self.supplement_requested_at = at

    def _on_supplement_received(self, event: Event, at: datetime) -> None:
        requested_at, self.supplement_requested_at = self.supplement_requested_at, None
        if self.rule.supplement_policy == "resume":
            self._release(at)
        else:
            self._restart(at, requested_at)

    def _on_paused(self, event: Event, at: datetime) -> None:
        self._stop(at)
        self.paused = True

    def _on_resumed(self, event: Event, at: datetime) -> None:
        self.paused = False
        self._release(at)

    def _on_apology_issued(self, event: Event, at: datetime) -> None:
        if event.new_due_at is None:
            raise ApologyError("an apology (form 04) needs the new appointment: new_due_at")
        new_due = _utc(event.new_due_at, "the apology's new_due_at")
        current = self._due_at()
        if self.checking and self.cal.minutes_between(at, current) < self.cal.minutes_per_day:
            raise ApologyError(
                f"an apology must be issued at least 1 working day before the due date {_local(current)}; "
                f"this one is dated {_local(at)}"
            )
        if self.checking and new_due <= current:
            raise ApologyError(
                f"the new appointment {_local(new_due)} must be after the current due date {_local(current)}"
            )
        self.rescheduled_due, self.apology_issued = new_due, True

    def _on_resolved(self, event: Event, at: datetime) -> None:
        self._close(self._open_stages(), at, graded=True)
        self.finished_at, self.end_kind = at, "graded"

    def _on_result_sent_to_desk(self, event: Event, at: datetime) -> None:
        """The result travels back to the receiving desk: a stage there, outside the clock (no due)."""
        stage = _Stage(
            StageState(
                seq=len(self.stages) + 1,
                agency_code=self.receiving_agency_code,
                name=HAND_BACK_STAGE,
                step_seq=None,
                started_at=at,
                allotment_minutes=None,
                due_at=None,
                ended_at=None,
                outcome=None,
                overrun_minutes=0,
            ),
            None,
        )
        self.stages.append(stage)

    def _on_result_returned(self, event: Event, at: datetime) -> None:
        self._close(self._open_stages(), at, graded=True)  # the hand-back, if any: no due, no outcome
        # the end stays at the resolution

    def _result_away(self, event_type: str) -> bool | None:
        """For a resolved dossier: whether its result is held away from the receiving desk. The hand-back
        needs it away (always); the return needs it at the desk when the event is being recorded (a log
        of the past may return a result where it was: older logs, imports)."""
        if self.status != Status.RESOLVED or not (event_type == HAND_BACK or self.checking):
            return None
        return self._holder() != self.receiving_agency_code

    def _on_withdrawn(self, event: Event, at: datetime) -> None:
        self._close(self._open_stages(), at, graded=False)
        if self.supplement_requested_at is not None and self.rule.supplement_policy == "restart":
            self.stopped_since = None  # the wait never ended in a complete dossier: nothing to move
        self.paused, self.supplement_requested_at = False, None
        self._release(at)
        self.finished_at, self.end_kind = at, "withdrawn"

    _on_stopped = _on_withdrawn
    _on_abandoned = _on_withdrawn

    # -- stages ----------------------------------------------------------------------------------

    def _open_stages(self) -> list[_Stage]:
        return [s for s in self.stages if s.state.ended_at is None]

    def _take_step(self, to_agency: str) -> StepRule | None:
        """The next step in order; steps of a parallel group already under way are passed over."""
        pending = [i for i in self.unused_steps if self.steps[i].parallel_group not in self.started_groups]
        if not pending:
            return None
        group = self.steps[pending[0]].parallel_group
        if group is None:
            return self._use_step(pending[0])
        self.started_groups.add(group)
        return self._use_step(self._member_for(to_agency, group))

    def _take_branch_step(self, to_agency: str) -> StepRule | None:
        group = self.last_forward[2] if self.last_forward else None
        if group is None:
            if any(self.steps[i].parallel_group not in self.started_groups for i in self.unused_steps):
                raise HandOffError(
                    "two hand-offs at the same instant from the same agency open parallel stages, "
                    "but the step being opened is not in a parallel group"
                )
            return None  # no steps (left): the branch shares the overall due
        return self._use_step(self._member_for(to_agency, group))

    def _member_for(self, to_agency: str, group: str) -> int:
        members = [i for i in self.unused_steps if self.steps[i].parallel_group == group]
        if not members:
            raise HandOffError(f"every step of parallel group {group!r} is already open")
        return next((i for i in members if self.steps[i].agency_code == to_agency), members[0])

    def _use_step(self, index: int) -> StepRule:
        self.unused_steps.remove(index)
        return self.steps[index]

    def _open_stage(self, at: datetime, agency_code: str, step: StepRule | None, cutoff: time | None = None) -> _Stage:
        seq = len(self.stages) + 1
        excluded = step is not None and step.unit == STEP_EXCLUDED
        name = step.name if step else ("intake" if seq == 1 else "hand-off")
        stage = _Stage(
            StageState(
                seq=seq,
                agency_code=agency_code,
                name=name,
                step_seq=step.seq if step else None,
                started_at=at,
                allotment_minutes=None,
                due_at=None,
                ended_at=None,
                outcome=None,
                overrun_minutes=0,
                excluded=excluded,
            ),
            step,
        )
        self.stages.append(stage)
        if excluded:
            self._stop(max(at, self.clock_start))
            self.excluded_open += 1
        else:
            self._schedule(stage, at, cutoff)
        return stage

    def _schedule(self, stage: _Stage, at: datetime, cutoff: time | None) -> None:
        """Give a (not excluded) stage its due: its own allotment from `at`, or the overall due."""
        step = stage.step
        if step is None:
            stage.state.due_at = self.original_due
            return
        clock_start, stage.state.due_at = self.cal.due_at(at, step.amount, step.unit, cutoff)
        if step.unit == Unit.SAME_DAY:
            stage.state.allotment_minutes = self.cal.minutes_between(clock_start, stage.state.due_at)
        else:
            stage.state.allotment_minutes = _working_minutes(step.amount, step.unit, self.cal.minutes_per_day)

    def _close(self, stages: list[_Stage], at: datetime, *, graded: bool) -> None:
        released = False
        for stage in stages:
            stage.state.ended_at, stage.graded = at, graded
            if stage.state.excluded:
                self.excluded_open -= 1
                released = True
        if released:
            self._release(at)

    # -- the clock -------------------------------------------------------------------------------

    def _clock_stopped(self) -> bool:
        return self.paused or self.supplement_requested_at is not None or self.excluded_open > 0

    def _due_at(self) -> datetime | None:
        if self.rescheduled_due is None:
            return self.original_due
        return max(self.original_due, self.rescheduled_due)

    def _stop(self, at: datetime) -> None:
        """Call before setting a reason to stop."""
        if not self._clock_stopped():
            self.stopped_since = at

    def _release(self, at: datetime) -> None:
        """Call after clearing a reason: once no reason is left, every due moves by the time stopped."""
        if self._clock_stopped() or self.stopped_since is None:
            return
        since, self.stopped_since = self.stopped_since, None
        minutes = self.cal.minutes_between(since, at)
        if not minutes:
            return
        self.paused_minutes += minutes
        self.original_due = self.cal.shift(self.original_due, minutes)
        if self.rescheduled_due is not None:
            self.rescheduled_due = self.cal.shift(self.rescheduled_due, minutes)
        # a stage never starts counting inside a stop (forwards need status 2 or 4, branches open
        # at the instant of their sibling, a restart reschedules from the stop's new start)
        for stage in self._open_stages():
            if stage.step is None:
                stage.state.due_at = self.original_due
            elif not stage.state.excluded:
                stage.state.due_at = self.cal.shift(stage.state.due_at, minutes)

    def _restart(self, at: datetime, requested_at: datetime) -> None:
        """Supplement received under `restart`: the full time counts again from the complete dossier."""
        rule = self.rule
        self.clock_start, self.original_due = self.cal.due_at(at, rule.amount, rule.unit, rule.cutoff)
        if self.rescheduled_due is not None:
            self.rescheduled_due = self.cal.shift(self.rescheduled_due, self.cal.minutes_between(requested_at, at))
        for stage in self._open_stages():
            if not stage.state.excluded:
                self._schedule(stage, at, rule.cutoff)
        self.stopped_since = self.clock_start if self._clock_stopped() else None

    # -- result ----------------------------------------------------------------------------------

    def result(self) -> ClockState:
        graded = [
            s.state for s in self.stages if s.graded and s.state.ended_at is not None and s.state.due_at is not None
        ]
        ends = [s.ended_at for s in graded]
        dues = [s.due_at for s in graded]
        if self.end_kind == "graded":
            ends.append(self.finished_at)
            dues.append(self.original_due)
        names = self._outcomes(ends, dues)
        outcome = names.pop() if self.end_kind == "graded" else self.end_kind
        for stage, name in zip(graded, names, strict=True):
            stage.outcome = name
        for stage in self.stages:
            if not stage.graded and not stage.state.excluded:
                stage.state.outcome = "withdrawn"
        late = [s for s in graded if s.outcome == OUTCOME_NAMES[OUTCOME_LATE]]
        if late:
            overrun = self.cal.working_minutes(_m64([s.due_at for s in late]), _m64([s.ended_at for s in late]))
            for stage, minutes in zip(late, overrun.tolist(), strict=True):
                stage.overrun_minutes = minutes
        return ClockState(
            status=self.status,
            clock_start=self.clock_start,
            original_due_at=self.original_due,
            rescheduled_due_at=self.rescheduled_due,
            due_at=self._due_at(),
            finished_at=self.finished_at,
            outcome=outcome,
            paused_minutes=self.paused_minutes,
            supplement_count=self.supplement_count,
            apology_issued=self.apology_issued,
            current_agency_code=self._holder(),
            stages=[s.state for s in self.stages],
            late_stage_seqs=[s.seq for s in late],
            clock_stopped_since=self.stopped_since,
        )

    def _outcomes(self, ends: list[datetime], dues: list[datetime]) -> list[str]:
        if not ends:
            return []
        codes = self.cal.outcome(_m64(ends), _m64(dues))
        return [OUTCOME_NAMES[code] for code in codes.tolist()]

    def _holder(self) -> str | None:
        """The agency of the latest open stage; once all are closed, of the last to close."""
        if not self.stages:
            return self.receiving_agency_code
        open_stages = self._open_stages()
        if open_stages:
            return open_stages[-1].state.agency_code
        return max(self.stages, key=lambda s: (s.state.ended_at, s.state.seq)).state.agency_code


def _m64(values: list[datetime]) -> np.ndarray:
    """Aware instants as the calendar's naive-UTC datetime64[m] array."""
    return np.array([v.astimezone(UTC).replace(tzinfo=None) for v in values], dtype="datetime64[m]")
