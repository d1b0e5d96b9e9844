"""The clock replay of `sla.core.replay`, vectorised over many dossiers of one procedure rule.

The generator drives it event by event: each call applies one event type to a subset of the
dossiers (an index array), with the same arithmetic as `replay` (the same calendar functions, in
the same order), so the derived columns come out identical. It does not check the state machine
or the hand-off rules: the generator only writes event sequences that `replay` accepts, and
`seed.generator.check` replays a sample of every chunk through `dossiers.service.derive` to prove it.

Instants are int64 UTC minutes since the epoch (the calendar's ``datetime64[m]`` viewed as int64);
``NONE`` marks a missing one.
"""

from __future__ import annotations

from datetime import time

import numpy as np

from sla.core.calendar import OUTCOME_LATE, OUTCOME_NAMES, Unit, WorkingCalendar
from sla.core.lifecycle import Status
from sla.core.replay import STEP_EXCLUDED, ProcedureRule, StepRule

NONE = np.iinfo(np.int64).min

END_OPEN, END_GRADED, END_WITHDRAWN, END_REFUSED = 0, 1, 2, 3

# stage outcome codes: OUTCOME_EARLY / ON_TIME / LATE (0, 1, 2), then:
STAGE_WITHDRAWN, STAGE_NONE = 3, -1
STAGE_OUTCOME_NAMES = {**dict(enumerate(OUTCOME_NAMES)), STAGE_WITHDRAWN: "withdrawn", STAGE_NONE: None}


def _m(values: np.ndarray) -> np.ndarray:
    return values.view("datetime64[m]")


class CalendarOps:
    """The calendar's vectorised functions on int64 minutes (no-ops on empty input)."""

    def __init__(self, calendar: WorkingCalendar) -> None:
        self.calendar = calendar
        self.minutes_per_day = calendar.minutes_per_day

    def due(
        self, at: np.ndarray, amount: float | None, unit: str, cutoff: time | None
    ) -> tuple[np.ndarray, np.ndarray]:
        if not at.size:
            return at.copy(), at.copy()
        start, due = self.calendar.due(_m(at), amount, unit, cutoff)
        return start.view(np.int64), due.view(np.int64)

    def clock_start(self, at: np.ndarray) -> np.ndarray:
        if not at.size:
            return at.copy()
        return self.calendar.clock_start(_m(at)).view(np.int64)

    def shift(self, start: np.ndarray, minutes: np.ndarray | int) -> np.ndarray:
        if not start.size:
            return start.copy()
        return self.calendar.add_working_minutes(_m(start), minutes).view(np.int64)

    def between(self, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        if not start.size:
            return np.zeros(0, dtype=np.int64)
        return self.calendar.working_minutes(_m(start), _m(end))

    def outcome(self, finished: np.ndarray, due: np.ndarray) -> np.ndarray:
        if not finished.size:
            return np.zeros(0, dtype=np.int8)
        return self.calendar.outcome(_m(finished), _m(due))


def step_minutes(step: StepRule, minutes_per_day: int) -> int:
    """A step's fixed allotment in working minutes (working_days, working_hours), as `replay` counts it."""
    if step.unit == Unit.WORKING_DAYS:
        return round(step.amount * minutes_per_day)
    return round(step.amount * 60)


class BatchClock:
    """The clock state of ``n`` dossiers of one rule, received by agencies sharing one calendar."""

    def __init__(self, ops: CalendarOps, rule: ProcedureRule, receiving: np.ndarray, max_stages: int) -> None:
        n = len(receiving)
        self.ops = ops
        self.rule = rule
        self.restart = rule.supplement_policy == "restart"
        self.receiving = receiving
        self.status = np.zeros(n, dtype=np.int8)
        self.clock_start = np.full(n, NONE)
        self.original_due = np.full(n, NONE)
        self.rescheduled_due = np.full(n, NONE)
        self.finished = np.full(n, NONE)
        self.end_kind = np.zeros(n, dtype=np.int8)
        self.paused_minutes = np.zeros(n, dtype=np.int64)
        self.supplement_count = np.zeros(n, dtype=np.int16)
        self.apology = np.zeros(n, dtype=bool)
        self.paused = np.zeros(n, dtype=bool)
        self.supplement_at = np.full(n, NONE)
        self.excluded_open = np.zeros(n, dtype=np.int8)
        self.stopped_since = np.full(n, NONE)
        shape = (n, max_stages)
        self.stage_count = np.zeros(n, dtype=np.int8)
        self.st_agency = np.full(shape, -1, dtype=np.int32)
        self.st_started = np.full(shape, NONE)
        self.st_allotment = np.full(shape, -1, dtype=np.int64)
        self.st_due = np.full(shape, NONE)
        self.st_ended = np.full(shape, NONE)
        self.st_graded = np.ones(shape, dtype=bool)
        self.stage_steps: list[StepRule | None] = [None] * max_stages  # a stage slot's step (same for all)

    # -- state ----------------------------------------------------------------------------------

    def stopped(self, idx: np.ndarray) -> np.ndarray:
        return self.paused[idx] | (self.supplement_at[idx] != NONE) | (self.excluded_open[idx] > 0)

    def open_mask(self, idx: np.ndarray) -> np.ndarray:
        """(len(idx), stages) bool: stages opened and not ended."""
        return (self.st_started[idx] != NONE) & (self.st_ended[idx] == NONE)

    def due_now(self, idx: np.ndarray) -> np.ndarray:
        """`replay`'s current due: max(original, rescheduled)."""
        return np.maximum(self.original_due[idx], self.rescheduled_due[idx])

    def holder(self, idx: np.ndarray) -> np.ndarray:
        """Agency id holding each dossier: the latest-opened open stage, else the last to close
        (latest end, then highest seq); the receiving agency before any stage."""
        result = self.receiving[idx].copy()
        started = self.st_started[idx] != NONE
        has_stage = started.any(axis=1)
        if not has_stage.any():
            return result
        ended = self.st_ended[idx]
        is_open = started & (ended == NONE)
        last = started.shape[1] - 1
        last_open = last - np.argmax(is_open[:, ::-1], axis=1)
        ended = np.where(started, ended, NONE)
        latest = ended.max(axis=1, keepdims=True)
        last_closed = last - np.argmax((started & (ended == latest))[:, ::-1], axis=1)
        chosen = np.where(is_open.any(axis=1), last_open, last_closed)
        agencies = self.st_agency[idx, chosen]
        result[has_stage] = agencies[has_stage]
        return result

    # -- events ---------------------------------------------------------------------------------

    def submitted(self, idx: np.ndarray, at: np.ndarray) -> None:
        self.status[idx] = Status.SUBMITTED

    def refused(self, idx: np.ndarray, at: np.ndarray) -> None:
        self.finished[idx] = at
        self.end_kind[idx] = END_REFUSED
        self.status[idx] = Status.REFUSED

    def received(self, idx: np.ndarray, at: np.ndarray, first_step: StepRule | None) -> None:
        rule = self.rule
        self.clock_start[idx], self.original_due[idx] = self.ops.due(at, rule.amount, rule.unit, rule.cutoff)
        self.open_stage(idx, at, 0, self.receiving[idx], first_step, cutoff=rule.cutoff)
        self.status[idx] = Status.RECEIVED

    def forwarded(
        self,
        idx: np.ndarray,
        at: np.ndarray,
        closing: np.ndarray | None,
        opening: tuple[int, np.ndarray, StepRule | None] | None,
    ) -> None:
        """A hand-off: close the stages in ``closing`` ((len(idx), stages) bool), then open
        ``(stage slot, agency ids, step)`` if given."""
        if closing is not None:
            self._close(idx, at, closing, graded=True)
        if opening is not None:
            slot, agency, step = opening
            self.open_stage(idx, at, slot, agency, step)
        self.status[idx] = Status.PROCESSING

    def supplement_requested(self, idx: np.ndarray, at: np.ndarray) -> None:
        self.supplement_count[idx] += 1
        self._stop(idx, at)
        self.supplement_at[idx] = at
        self.status[idx] = Status.WAITING_SUPPLEMENT

    def supplement_received(self, idx: np.ndarray, at: np.ndarray) -> None:
        requested = self.supplement_at[idx]
        self.supplement_at[idx] = NONE
        if self.restart:
            self._restart(idx, at, requested)
        else:
            self._release(idx, at)
        self.status[idx] = Status.PROCESSING

    def paused_event(self, idx: np.ndarray, at: np.ndarray) -> None:
        self._stop(idx, at)
        self.paused[idx] = True
        self.status[idx] = Status.WAITING_OBLIGATION

    def resumed(self, idx: np.ndarray, at: np.ndarray) -> None:
        self.paused[idx] = False
        self._release(idx, at)
        self.status[idx] = Status.PROCESSING

    def apology_issued(self, idx: np.ndarray, at: np.ndarray, new_due: np.ndarray) -> None:
        self.rescheduled_due[idx] = new_due
        self.apology[idx] = True

    def resolved(self, idx: np.ndarray, at: np.ndarray) -> None:
        self._close(idx, at, self.open_mask(idx), graded=True)
        self.finished[idx] = at
        self.end_kind[idx] = END_GRADED
        self.status[idx] = Status.RESOLVED

    def result_returned(self, idx: np.ndarray, at: np.ndarray) -> None:
        self.status[idx] = Status.RETURNED

    def withdrawn(self, idx: np.ndarray, at: np.ndarray, status: Status) -> None:
        """withdrawn (7), stopped or abandoned (8)."""
        self._close(idx, at, self.open_mask(idx), graded=False)
        if self.restart:
            waiting = idx[self.supplement_at[idx] != NONE]
            self.stopped_since[waiting] = NONE
        self.paused[idx] = False
        self.supplement_at[idx] = NONE
        self._release(idx, at)
        self.finished[idx] = at
        self.end_kind[idx] = END_WITHDRAWN
        self.status[idx] = status

    # -- stages ---------------------------------------------------------------------------------

    def open_stage(
        self, idx: np.ndarray, at: np.ndarray, slot: int, agency: np.ndarray, step: StepRule | None, cutoff=None
    ) -> None:
        self.stage_steps[slot] = step
        self.st_agency[idx, slot] = agency
        self.st_started[idx, slot] = at
        self.stage_count[idx] = np.maximum(self.stage_count[idx], slot + 1)
        if step is not None and step.unit == STEP_EXCLUDED:
            self._stop(idx, np.maximum(at, self.clock_start[idx]))
            self.excluded_open[idx] += 1
        else:
            self._schedule(idx, at, slot, cutoff)

    def _schedule(self, idx: np.ndarray, at: np.ndarray, slot: int, cutoff: time | None) -> None:
        step = self.stage_steps[slot]
        if step is None:
            self.st_due[idx, slot] = self.original_due[idx]
            return
        start, due = self.ops.due(at, step.amount, step.unit, cutoff)
        self.st_due[idx, slot] = due
        if step.unit == Unit.SAME_DAY:
            self.st_allotment[idx, slot] = self.ops.between(start, due)
        else:
            self.st_allotment[idx, slot] = step_minutes(step, self.ops.minutes_per_day)

    def _close(self, idx: np.ndarray, at: np.ndarray, closing: np.ndarray, *, graded: bool) -> None:
        rows, slots = np.nonzero(closing)
        self.st_ended[idx[rows], slots] = at[rows]
        self.st_graded[idx[rows], slots] = graded
        excluded = np.array([self._excluded(s) for s in range(closing.shape[1])], dtype=bool)
        closed_excluded = (closing & excluded).sum(axis=1)
        if closed_excluded.any():
            released = closed_excluded > 0
            self.excluded_open[idx[released]] -= closed_excluded[released].astype(np.int8)
            self._release(idx[released], at[released])

    def _excluded(self, slot: int) -> bool:
        step = self.stage_steps[slot]
        return step is not None and step.unit == STEP_EXCLUDED

    # -- the clock ------------------------------------------------------------------------------

    def _stop(self, idx: np.ndarray, at: np.ndarray) -> None:
        running = ~self.stopped(idx)
        self.stopped_since[idx[running]] = at[running]

    def _release(self, idx: np.ndarray, at: np.ndarray) -> None:
        ready = ~self.stopped(idx) & (self.stopped_since[idx] != NONE)
        rows, at = idx[ready], at[ready]
        if not rows.size:
            return
        minutes = self.ops.between(self.stopped_since[rows], at)
        self.stopped_since[rows] = NONE
        moved = minutes > 0
        rows, minutes = rows[moved], minutes[moved]
        if not rows.size:
            return
        self.paused_minutes[rows] += minutes
        self.original_due[rows] = self.ops.shift(self.original_due[rows], minutes)
        has = self.rescheduled_due[rows] != NONE
        self.rescheduled_due[rows[has]] = self.ops.shift(self.rescheduled_due[rows[has]], minutes[has])
        is_open = self.open_mask(rows)
        for slot, step in enumerate(self.stage_steps):
            sel = is_open[:, slot]
            if not sel.any():
                continue
            if step is None:
                self.st_due[rows[sel], slot] = self.original_due[rows[sel]]
            elif step.unit != STEP_EXCLUDED:
                self.st_due[rows[sel], slot] = self.ops.shift(self.st_due[rows[sel], slot], minutes[sel])

    def _restart(self, idx: np.ndarray, at: np.ndarray, requested: np.ndarray) -> None:
        rule = self.rule
        self.clock_start[idx], self.original_due[idx] = self.ops.due(at, rule.amount, rule.unit, rule.cutoff)
        has = self.rescheduled_due[idx] != NONE
        if has.any():
            moved = self.ops.between(requested[has], at[has])
            self.rescheduled_due[idx[has]] = self.ops.shift(self.rescheduled_due[idx[has]], moved)
        is_open = self.open_mask(idx)
        for slot in range(is_open.shape[1]):
            sel = is_open[:, slot]
            if sel.any() and not self._excluded(slot):
                self._schedule(idx[sel], at[sel], slot, rule.cutoff)
        self.stopped_since[idx] = np.where(self.stopped(idx), self.clock_start[idx], NONE)

    # -- result ---------------------------------------------------------------------------------

    def result(self) -> dict[str, np.ndarray]:
        """Derived columns (outcome codes: 0 early, 1 on_time, 2 late, 3 withdrawn, 4 refused, -1 open)
        and stage outcomes/overruns, as `replay.result` computes them."""
        n, stages = self.st_started.shape
        outcome = np.full(n, -1, dtype=np.int8)
        graded = self.end_kind == END_GRADED
        outcome[graded] = self.ops.outcome(self.finished[graded], self.original_due[graded])
        outcome[self.end_kind == END_WITHDRAWN] = 3
        outcome[self.end_kind == END_REFUSED] = 4

        started = self.st_started != NONE
        closed = started & (self.st_ended != NONE)
        excluded = np.array([self._excluded(s) for s in range(stages)], dtype=bool)[None, :]
        gradable = closed & self.st_graded & (self.st_due != NONE) & ~excluded
        st_outcome = np.full((n, stages), STAGE_NONE, dtype=np.int8)
        st_outcome[gradable] = self.ops.outcome(self.st_ended[gradable], self.st_due[gradable])
        st_outcome[started & ~self.st_graded & ~excluded] = STAGE_WITHDRAWN
        overrun = np.zeros((n, stages), dtype=np.int64)
        late = st_outcome == OUTCOME_LATE
        overrun[late] = self.ops.between(self.st_due[late], self.st_ended[late])
        return {
            "outcome": outcome,
            "due": np.maximum(self.original_due, self.rescheduled_due),
            "holder": self.holder(np.arange(n)),
            "stage_outcome": st_outcome,
            "stage_overrun": overrun,
            "stage_excluded": np.broadcast_to(excluded, (n, stages)),
        }
