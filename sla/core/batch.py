"""The clock replay of many dossiers at once: `replay` vectorised over arrays of one rule and one calendar.

Two layers, both pure (numpy and the calendar's vectorised functions):

- :class:`BatchReplay` holds the clock state of ``n`` dossiers as arrays and applies one event type to a
  subset of them (an index array) per call, method for method the twin of ``replay._Replay`` (the same
  calendar functions in the same order, so the columns come out identical). The synthetic-city generator
  drives it directly, drawing each next event from the state so far.
- :func:`replay_batch` replays stored event logs: the structure of a dossier's life (which stages a
  hand-off closes, which step and parallel branch a stage takes, the statuses) depends only on its event
  types, on which agencies are the same and on which hand-offs share an instant, never on the
  calendar. Dossiers are grouped by that *shape*; one dossier of each shape is walked by ``replay``'s
  own code (``_Replay``, recording its stage moves), and every dossier of the rule is then timed by
  :class:`BatchReplay`, event position by event position. A dossier the batch cannot take (events out
  of order, a shape ``replay`` rejects, an instant outside the calendar) is replayed alone by
  ``replay``: it gets the same result, or its own error in :attr:`BatchResult.failed`.

Statuses come from the lifecycle table (``sla.core.lifecycle.next_status``). Events are history: the
rules checked only when an event is recorded (an apology 1 working day ahead, for a later date) are
not checked, as ``replay(..., checked_from=len(events))``.

Instants are int64 UTC minutes since the epoch (the calendar's ``datetime64[m]`` viewed as int64);
:data:`NONE` marks a missing one. Agencies are int ids; ``codes`` maps them to the codes the rule's
steps name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

import numpy as np

from sla.core.calendar import OUTCOME_LATE, OUTCOME_NAMES, Unit, WorkingCalendar
from sla.core.lifecycle import EVENT_TYPES, HAND_BACK, InvalidTransition, Status, next_status
from sla.core.replay import (
    HAND_BACK_STAGE,
    STEP_EXCLUDED,
    ClockState,
    Event,
    ProcedureRule,
    ReplayError,
    StageState,
    StepRule,
    _Replay,
    _working_minutes,
    replay,
)

NONE = np.iinfo(np.int64).min
EVENT_CODES = {name: code for code, name in enumerate(EVENT_TYPES)}

# dossier outcome codes: OUTCOME_EARLY / ON_TIME / LATE (0, 1, 2), then:
OUTCOME_WITHDRAWN, OUTCOME_REFUSED, OUTCOME_OPEN = 3, 4, -1
DOSSIER_OUTCOME_NAMES = {**dict(enumerate(OUTCOME_NAMES)), OUTCOME_WITHDRAWN: "withdrawn", OUTCOME_REFUSED: "refused",
                         OUTCOME_OPEN: None}  # fmt: skip
# stage outcome codes: OUTCOME_EARLY / ON_TIME / LATE (0, 1, 2), then:
STAGE_WITHDRAWN, STAGE_NONE = 3, -1
STEP_HAND_BACK = -3
"""The step index of the hand-back stage (result_sent_to_desk); like -1 (no step) it has no step of its own."""
STAGE_OUTCOME_NAMES = {**dict(enumerate(OUTCOME_NAMES)), STAGE_WITHDRAWN: "withdrawn", STAGE_NONE: None}

_END_OPEN, _END_GRADED, _END_WITHDRAWN, _END_REFUSED = 0, 1, 2, 3
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MICROSECOND = timedelta(microseconds=1)


def _status_table() -> np.ndarray:
    """The lifecycle's transitions as a (status code, event code) → status code table (-1: not admitted;
    status 0: no event yet)."""
    table = np.full((len(Status) + 1, len(EVENT_TYPES)), -1, dtype=np.int8)
    for status in (None, *Status):
        for code, event in enumerate(EVENT_TYPES):
            try:
                table[0 if status is None else int(status), code] = int(next_status(status, event))
            except InvalidTransition:
                continue
    return table


_STATUS_AFTER = _status_table()


def micros_of(instant: datetime | None) -> int:
    """An aware instant as int64 UTC microseconds since the epoch (NONE for None)."""
    if instant is None:
        return NONE
    return (instant.astimezone(UTC) - _EPOCH) // _ONE_MICROSECOND


def instant_of(value: int, unit: str = "us") -> datetime | None:
    """int64 UTC microseconds (or minutes, ``unit="m"``) as an aware UTC datetime (None for NONE)."""
    value = int(value)
    if value == NONE:
        return None
    return _EPOCH + (timedelta(microseconds=value) if unit == "us" else timedelta(minutes=value))


class CalendarOps:
    """The calendar's vectorised functions on int64 instants in ``unit`` ("m" minutes, "us" microseconds,
    which the calendar floors to the minute as its scalar methods do); no-ops on empty input."""

    def __init__(self, calendar: WorkingCalendar, unit: str = "m") -> None:
        if unit not in ("m", "us"):
            raise ValueError(f"unit must be 'm' or 'us', got {unit!r}")
        self.calendar = calendar
        self.minutes_per_day = calendar.minutes_per_day
        self.unit = unit
        self._dtype = np.dtype(f"datetime64[{unit}]")

    def _m(self, values: np.ndarray) -> np.ndarray:
        return values.view(self._dtype)

    def _out(self, instants: np.ndarray) -> np.ndarray:
        return instants.astype(self._dtype, copy=False).view(np.int64)

    def due(
        self, at: np.ndarray, amount: float | None, unit: str, cutoff: time | None
    ) -> tuple[np.ndarray, np.ndarray]:
        if not at.size:
            return at.copy(), at.copy()
        start, due = self.calendar.due(self._m(at), amount, unit, cutoff)
        return self._out(start), self._out(due)

    def clock_start(self, at: np.ndarray) -> np.ndarray:
        if not at.size:
            return at.copy()
        return self._out(self.calendar.clock_start(self._m(at)))

    def shift(self, start: np.ndarray, minutes: np.ndarray | int) -> np.ndarray:
        if not start.size:
            return start.copy()
        return self._out(self.calendar.add_working_minutes(self._m(start), minutes))

    def between(self, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        if not start.size:
            return np.zeros(0, dtype=np.int64)
        return self.calendar.working_minutes(self._m(start), self._m(end))

    def outcome(self, finished: np.ndarray, due: np.ndarray) -> np.ndarray:
        if not finished.size:
            return np.zeros(0, dtype=np.int8)
        return self.calendar.outcome(self._m(finished), self._m(due))


@dataclass
class BatchResult:
    """Derived columns of ``n`` dossiers (arrays by dossier row) and their stages (``(n, stages)`` arrays,
    the first ``stage_count[row]`` of each row used). Outcome codes: :data:`DOSSIER_OUTCOME_NAMES`,
    :data:`STAGE_OUTCOME_NAMES`; a step index refers to ``steps`` (the rule's steps in seq order), -1 none."""

    steps: list[StepRule]
    status: np.ndarray
    clock_start: np.ndarray
    original_due: np.ndarray
    rescheduled_due: np.ndarray
    due: np.ndarray
    finished: np.ndarray
    outcome: np.ndarray
    paused_minutes: np.ndarray
    supplement_count: np.ndarray
    apology_issued: np.ndarray
    holder: np.ndarray
    clock_stopped_since: np.ndarray
    stage_count: np.ndarray
    stage_agency: np.ndarray
    stage_step: np.ndarray
    stage_started: np.ndarray
    stage_allotment: np.ndarray  # -1: none
    stage_due: np.ndarray
    stage_ended: np.ndarray
    stage_outcome: np.ndarray
    stage_overrun: np.ndarray
    stage_excluded: np.ndarray
    failed: dict[int, Exception] = field(default_factory=dict)
    """Rows that could not be replayed, with ``replay``'s error; their columns are not meaningful."""

    def stage_name(self, step: int, seq: int) -> str:
        """A stage's name: its step's, "hand-back" for the hand-back, else "intake" for the first stage and
        "hand-off" for the others."""
        if step >= 0:
            return self.steps[step].name
        if step == STEP_HAND_BACK:
            return HAND_BACK_STAGE
        return "intake" if seq == 1 else "hand-off"

    def clock_state(self, row: int, codes: Mapping[int, str], unit: str = "us") -> ClockState:
        """Row ``row`` as the `ClockState` `replay` returns (agency ids named by ``codes``)."""
        if row in self.failed:
            raise self.failed[row]

        def instant(value) -> datetime | None:
            return instant_of(value, unit)

        stages = []
        for slot in range(int(self.stage_count[row])):
            step = int(self.stage_step[row, slot])
            allotment = int(self.stage_allotment[row, slot])
            agency = int(self.stage_agency[row, slot])
            stages.append(
                StageState(
                    seq=slot + 1,
                    agency_code=codes.get(agency) if agency >= 0 else None,
                    name=self.stage_name(step, slot + 1),
                    step_seq=self.steps[step].seq if step >= 0 else None,
                    started_at=instant(self.stage_started[row, slot]),
                    allotment_minutes=None if allotment < 0 else allotment,
                    due_at=instant(self.stage_due[row, slot]),
                    ended_at=instant(self.stage_ended[row, slot]),
                    outcome=STAGE_OUTCOME_NAMES[int(self.stage_outcome[row, slot])],
                    overrun_minutes=int(self.stage_overrun[row, slot]),
                    excluded=bool(self.stage_excluded[row, slot]),
                )
            )
        holder = int(self.holder[row])
        return ClockState(
            status=Status(int(self.status[row])),
            clock_start=instant(self.clock_start[row]),
            original_due_at=instant(self.original_due[row]),
            rescheduled_due_at=instant(self.rescheduled_due[row]),
            due_at=instant(self.due[row]),
            finished_at=instant(self.finished[row]),
            outcome=DOSSIER_OUTCOME_NAMES[int(self.outcome[row])],
            paused_minutes=int(self.paused_minutes[row]),
            supplement_count=int(self.supplement_count[row]),
            apology_issued=bool(self.apology_issued[row]),
            current_agency_code=codes.get(holder) if holder >= 0 else None,
            stages=stages,
            late_stage_seqs=[s.seq for s in stages if s.outcome == OUTCOME_NAMES[OUTCOME_LATE]],
            clock_stopped_since=instant(self.clock_stopped_since[row]),
        )


class BatchReplay:
    """The clock state of ``n`` dossiers of one rule whose receiving agencies share one calendar.

    Each event method applies that event to the rows ``idx`` at the instants ``at`` (arrays of the
    same length), as ``replay._Replay``'s ``_on_<event>`` does for one dossier. Instants are int64 in
    ``unit`` (CalendarOps). Stages open in the
    next free slot of each row; a hand-off names the stages it closes as a ``(len(idx), stages)`` mask.
    """

    def __init__(
        self, rule: ProcedureRule, calendar: WorkingCalendar, receiving: np.ndarray, max_stages: int, unit: str = "m"
    ) -> None:
        if rule.supplement_policy not in ("restart", "resume"):
            raise ReplayError(f"unknown supplement policy {rule.supplement_policy!r}; accepted: restart, resume")
        n = len(receiving)
        self.ops = CalendarOps(calendar, unit)
        self.rule = rule
        self.steps = sorted(rule.steps, key=lambda s: s.seq)
        self.step_excluded = np.array([s.unit == STEP_EXCLUDED for s in self.steps] + [False], dtype=bool)
        self.restart = rule.supplement_policy == "restart"
        self.receiving = np.asarray(receiving, dtype=np.int64)
        self.status = np.zeros(n, dtype=np.int8)
        self.clock_start = np.full(n, NONE)
        self.original_due = np.full(n, NONE)
        self.rescheduled_due = np.full(n, NONE)
        self.finished = np.full(n, NONE)
        self.end_kind = np.zeros(n, dtype=np.int8)
        self.paused_minutes = np.zeros(n, dtype=np.int64)
        self.supplement_count = np.zeros(n, dtype=np.int64)
        self.apology = np.zeros(n, dtype=bool)
        self.paused = np.zeros(n, dtype=bool)
        self.supplement_at = np.full(n, NONE)
        self.excluded_open = np.zeros(n, dtype=np.int16)
        self.stopped_since = np.full(n, NONE)
        shape = (n, max(max_stages, 1))
        self.stage_count = np.zeros(n, dtype=np.int64)
        self.st_agency = np.full(shape, -1, dtype=np.int64)
        self.st_step = np.full(shape, -1, dtype=np.int64)
        self.st_started = np.full(shape, NONE)
        self.st_allotment = np.full(shape, -1, dtype=np.int64)
        self.st_due = np.full(shape, NONE)
        self.st_ended = np.full(shape, NONE)
        self.st_graded = np.ones(shape, dtype=bool)
        self.st_excluded = np.zeros(shape, dtype=bool)

    # -- state ----------------------------------------------------------------------------------

    def stopped(self, idx: np.ndarray) -> np.ndarray:
        return self.paused[idx] | (self.supplement_at[idx] != NONE) | (self.excluded_open[idx] > 0)

    def open_mask(self, idx: np.ndarray) -> np.ndarray:
        """(len(idx), stages) bool: stages opened and not ended."""
        return (self.st_started[idx] != NONE) & (self.st_ended[idx] == NONE)

    def due_now(self, idx: np.ndarray) -> np.ndarray:
        """`replay`'s current due: the later of the original and the rescheduled (NONE is the least)."""
        return np.maximum(self.original_due[idx], self.rescheduled_due[idx])

    def holder(self, idx: np.ndarray) -> np.ndarray:
        """Agency id holding each dossier (`_Replay._holder`): the latest-opened open stage, else the last
        to close (latest end, then highest seq); the receiving agency before any stage."""
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

    def _advance(self, idx: np.ndarray, event: str) -> None:
        """The status after `event`, from the lifecycle table; the first row it does not admit raises
        the lifecycle's own error."""
        code = EVENT_CODES[event]
        after = _STATUS_AFTER[self.status[idx], code]
        bad = after < 0
        if event == "apology_issued":
            bad |= self.apology[idx]
        if bad.any():
            row = int(idx[np.argmax(bad)])
            status = Status(self.status[row]) if self.status[row] else None
            next_status(status, event, apology_issued=bool(self.apology[row]))  # raises
        self.status[idx] = after

    # -- events (replay._Replay._on_<event>) ----------------------------------------------------

    def submitted(self, idx: np.ndarray, at: np.ndarray) -> None:
        self._advance(idx, "submitted")

    def received(self, idx: np.ndarray, at: np.ndarray, step: np.ndarray | int) -> None:
        """``step``: index of the step stage 1 takes (-1: none), per row or for all."""
        self._advance(idx, "received")
        rule = self.rule
        self.clock_start[idx], self.original_due[idx] = self.ops.due(at, rule.amount, rule.unit, rule.cutoff)
        self.open_stage(idx, at, self.receiving[idx], step, cutoff=rule.cutoff)

    def refused(self, idx: np.ndarray, at: np.ndarray) -> None:
        self._advance(idx, "refused")
        self.finished[idx] = at
        self.end_kind[idx] = _END_REFUSED

    def forwarded(
        self,
        idx: np.ndarray,
        at: np.ndarray,
        closing: np.ndarray | None,
        step: np.ndarray | int | None,
        agency: np.ndarray | None,
    ) -> None:
        """A hand-off: close the stages in ``closing`` ((len(idx), stages) bool, None: none), then, unless
        ``step`` is None, open a stage at ``agency`` taking ``step`` (-1: no step of its own)."""
        self._advance(idx, "forwarded")
        if closing is not None:
            self._close(idx, at, closing, graded=True)
        if step is not None:
            self.open_stage(idx, at, agency, step)

    def supplement_requested(self, idx: np.ndarray, at: np.ndarray) -> None:
        self._advance(idx, "supplement_requested")
        self.supplement_count[idx] += 1
        self._stop(idx, at)
        self.supplement_at[idx] = at

    def supplement_received(self, idx: np.ndarray, at: np.ndarray) -> None:
        self._advance(idx, "supplement_received")
        requested = self.supplement_at[idx]
        self.supplement_at[idx] = NONE
        if self.restart:
            self._restart(idx, at, requested)
        else:
            self._release(idx, at)

    def paused_event(self, idx: np.ndarray, at: np.ndarray) -> None:
        self._advance(idx, "paused")
        self._stop(idx, at)
        self.paused[idx] = True

    def resumed(self, idx: np.ndarray, at: np.ndarray) -> None:
        self._advance(idx, "resumed")
        self.paused[idx] = False
        self._release(idx, at)

    def apology_issued(self, idx: np.ndarray, at: np.ndarray, new_due: np.ndarray) -> None:
        if (np.asarray(new_due) == NONE).any():
            raise ReplayError("an apology (form 04) needs the new appointment: new_due_at")
        self._advance(idx, "apology_issued")
        self.rescheduled_due[idx] = new_due
        self.apology[idx] = True

    def resolved(self, idx: np.ndarray, at: np.ndarray) -> None:
        self._advance(idx, "resolved")
        self._close(idx, at, self.open_mask(idx), graded=True)
        self.finished[idx] = at
        self.end_kind[idx] = _END_GRADED

    def result_sent_to_desk(self, idx: np.ndarray, at: np.ndarray) -> None:
        """The result travels back to the receiving desk: a stage there without a due (`_Replay`'s)."""
        self._advance(idx, HAND_BACK)
        away = self.holder(idx) != self.receiving[idx]
        if not away.all():
            next_status(Status.RESOLVED, HAND_BACK, result_away=False)  # raises, as `replay` does
        if not idx.size:
            return
        slot = self.stage_count[idx]
        if (slot >= self.st_started.shape[1]).any():
            raise ReplayError(f"more stages than the {self.st_started.shape[1]} this batch was built for")
        self.st_step[idx, slot] = STEP_HAND_BACK
        self.st_agency[idx, slot] = self.receiving[idx]
        self.st_started[idx, slot] = at
        self.stage_count[idx] = slot + 1

    def result_returned(self, idx: np.ndarray, at: np.ndarray) -> None:
        self._advance(idx, "result_returned")
        self._close(idx, at, self.open_mask(idx), graded=True)  # the hand-back, if any: no due, no outcome

    def withdrawn(self, idx: np.ndarray, at: np.ndarray, event: str = "withdrawn") -> None:
        """withdrawn, stopped or abandoned (``event``)."""
        self._advance(idx, event)
        self._close(idx, at, self.open_mask(idx), graded=False)
        if self.restart:
            waiting = idx[self.supplement_at[idx] != NONE]
            self.stopped_since[waiting] = NONE  # the wait never ended in a complete dossier: nothing to move
        self.paused[idx] = False
        self.supplement_at[idx] = NONE
        self._release(idx, at)
        self.finished[idx] = at
        self.end_kind[idx] = _END_WITHDRAWN

    # -- stages ---------------------------------------------------------------------------------

    def open_stage(
        self, idx: np.ndarray, at: np.ndarray, agency: np.ndarray, step: np.ndarray | int, cutoff: time | None = None
    ) -> None:
        if not idx.size:
            return
        slot = self.stage_count[idx]
        if (slot >= self.st_started.shape[1]).any():
            raise ReplayError(f"more stages than the {self.st_started.shape[1]} this batch was built for")
        step = np.broadcast_to(np.asarray(step, dtype=np.int64), idx.shape)
        self.st_step[idx, slot] = step
        self.st_agency[idx, slot] = agency
        self.st_started[idx, slot] = at
        self.stage_count[idx] = slot + 1
        excluded = self.step_excluded[step]
        self.st_excluded[idx, slot] = excluded
        if excluded.any():
            rows = idx[excluded]
            self._stop(rows, np.maximum(at[excluded], self.clock_start[rows]))
            self.excluded_open[rows] += 1
        counted = ~excluded
        self._schedule(idx[counted], slot[counted], at[counted], cutoff)

    def _schedule(self, rows: np.ndarray, slots: np.ndarray, at: np.ndarray, cutoff: time | None) -> None:
        """Give (not excluded) stages their due: their step's allotment from `at`, or the overall due."""
        steps = self.st_step[rows, slots]
        for step_index in np.unique(steps).tolist():
            sel = steps == step_index
            r, s = rows[sel], slots[sel]
            if step_index < 0:
                self.st_due[r, s] = self.original_due[r]
                continue
            step = self.steps[step_index]
            start, due = self.ops.due(at[sel], step.amount, step.unit, cutoff)
            self.st_due[r, s] = due
            if step.unit == Unit.SAME_DAY:
                self.st_allotment[r, s] = self.ops.between(start, due)
            else:
                self.st_allotment[r, s] = _working_minutes(step.amount, step.unit, self.ops.minutes_per_day)

    def _close(self, idx: np.ndarray, at: np.ndarray, closing: np.ndarray, *, graded: bool) -> None:
        rows, slots = np.nonzero(closing)
        if not rows.size:
            return
        self.st_ended[idx[rows], slots] = at[rows]
        self.st_graded[idx[rows], slots] = graded
        closed_excluded = (closing & self.st_excluded[idx]).sum(axis=1)
        released = closed_excluded > 0
        if released.any():
            self.excluded_open[idx[released]] -= closed_excluded[released].astype(np.int16)
            self._release(idx[released], at[released])

    # -- the clock ------------------------------------------------------------------------------

    def _stop(self, idx: np.ndarray, at: np.ndarray) -> None:
        """Call before setting a reason to stop."""
        running = ~self.stopped(idx)
        self.stopped_since[idx[running]] = at[running]

    def _release(self, idx: np.ndarray, at: np.ndarray) -> None:
        """Call after clearing a reason: once no reason is left, every due moves by the time stopped."""
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
        no_step = is_open & (self.st_step[rows] < 0)
        r, s = np.nonzero(no_step)
        self.st_due[rows[r], s] = self.original_due[rows[r]]
        r, s = np.nonzero(is_open & (self.st_step[rows] >= 0) & ~self.st_excluded[rows])
        self.st_due[rows[r], s] = self.ops.shift(self.st_due[rows[r], s], minutes[r])

    def _restart(self, idx: np.ndarray, at: np.ndarray, requested: np.ndarray) -> None:
        """Supplement received under `restart`: the full time counts again from the complete dossier."""
        rule = self.rule
        self.clock_start[idx], self.original_due[idx] = self.ops.due(at, rule.amount, rule.unit, rule.cutoff)
        has = self.rescheduled_due[idx] != NONE
        if has.any():
            moved = self.ops.between(requested[has], at[has])
            self.rescheduled_due[idx[has]] = self.ops.shift(self.rescheduled_due[idx[has]], moved)
        r, s = np.nonzero(self.open_mask(idx) & ~self.st_excluded[idx])
        self._schedule(idx[r], s, at[r], rule.cutoff)
        self.stopped_since[idx] = np.where(self.stopped(idx), self.clock_start[idx], NONE)

    # -- result ---------------------------------------------------------------------------------

    def result(self) -> BatchResult:
        """The derived columns, as `_Replay.result` computes them."""
        ops = self.ops
        n, stages = self.st_started.shape
        outcome = np.full(n, OUTCOME_OPEN, dtype=np.int8)
        graded = self.end_kind == _END_GRADED
        outcome[graded] = ops.outcome(self.finished[graded], self.original_due[graded])
        outcome[self.end_kind == _END_WITHDRAWN] = OUTCOME_WITHDRAWN
        outcome[self.end_kind == _END_REFUSED] = OUTCOME_REFUSED

        started = self.st_started != NONE
        closed = started & (self.st_ended != NONE)
        gradable = closed & self.st_graded & (self.st_due != NONE) & ~self.st_excluded
        st_outcome = np.full((n, stages), STAGE_NONE, dtype=np.int8)
        st_outcome[gradable] = ops.outcome(self.st_ended[gradable], self.st_due[gradable])
        st_outcome[started & ~self.st_graded & ~self.st_excluded] = STAGE_WITHDRAWN
        overrun = np.zeros((n, stages), dtype=np.int64)
        late = st_outcome == OUTCOME_LATE
        overrun[late] = ops.between(self.st_due[late], self.st_ended[late])
        return BatchResult(
            steps=self.steps,
            status=self.status.copy(),
            clock_start=self.clock_start.copy(),
            original_due=self.original_due.copy(),
            rescheduled_due=self.rescheduled_due.copy(),
            due=self.due_now(np.arange(n)),
            finished=self.finished.copy(),
            outcome=outcome,
            paused_minutes=self.paused_minutes.copy(),
            supplement_count=self.supplement_count.copy(),
            apology_issued=self.apology.copy(),
            holder=self.holder(np.arange(n)),
            clock_stopped_since=self.stopped_since.copy(),
            stage_count=self.stage_count.copy(),
            stage_agency=self.st_agency.copy(),
            stage_step=self.st_step.copy(),
            stage_started=self.st_started.copy(),
            stage_allotment=self.st_allotment.copy(),
            stage_due=self.st_due.copy(),
            stage_ended=self.st_ended.copy(),
            stage_outcome=st_outcome,
            stage_overrun=overrun,
            stage_excluded=self.st_excluded & started,
        )


# --- replaying stored event logs -----------------------------------------------------------------


@dataclass
class EventColumns:
    """The events of ``n`` dossiers, each dossier's in order, dossiers in row order (``dossier`` non-decreasing)."""

    dossier: np.ndarray  # int64 row 0..n-1
    type: np.ndarray  # int64 index into lifecycle.EVENT_TYPES
    at: np.ndarray  # int64 UTC microseconds
    agency: np.ndarray  # int64 the acting (forwarding) agency id, -1 none
    to_agency: np.ndarray  # int64 the agency a hand-off goes to, -1 none
    new_due: np.ndarray  # int64 UTC microseconds (apology), NONE none


class _ShapeWalk(_Replay):
    """`replay`'s own walk over one dossier, recording per event the stages it closes and opens."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.checking = False  # history: the rules of the moment of recording are not checked
        self.moves: list[tuple[list[int], list[int]]] = []  # per event: (closed slots, steps of opened stages)

    def apply(self, event: Event) -> None:
        self.moves.append(([], []))
        super().apply(event)

    def _open_stage(self, at, agency_code, step, cutoff=None):
        self.moves[-1][1].append(-1 if step is None else self.steps.index(step))
        return super()._open_stage(at, agency_code, step, cutoff)

    def _close(self, stages, at, *, graded):
        self.moves[-1][0].extend(self.stages.index(s) for s in stages)
        super()._close(stages, at, graded=graded)


def replay_batch(
    rule: ProcedureRule,
    calendar: WorkingCalendar,
    receiving: np.ndarray,
    events: EventColumns,
    codes: Mapping[int, str],
) -> BatchResult:
    """Replay the event logs of ``len(receiving)`` dossiers of ``rule`` received by agencies whose
    calendar is ``calendar``: the columns `replay(rule, calendar, events, checked_from=len(events))`
    gives each, as arrays (module docstring)."""
    receiving = np.asarray(receiving, dtype=np.int64)
    n = len(receiving)
    counts = np.bincount(events.dossier, minlength=n) if events.dossier.size else np.zeros(n, dtype=np.int64)
    starts = np.r_[0, np.cumsum(counts)[:-1]] if n else np.zeros(0, dtype=np.int64)
    position = np.arange(events.dossier.size) - starts[events.dossier]
    steps = sorted(rule.steps, key=lambda s: s.seq)
    shape, fallback = _shapes(steps, receiving, events, counts, position, codes)

    walks: dict[int, _ShapeWalk | None] = {}
    for shape_id in np.unique(shape[shape >= 0]).tolist():
        row = int(np.argmax(shape == shape_id))
        walk = _ShapeWalk(rule, calendar, codes[int(receiving[row])])
        try:
            for event in _events_of(row, events, starts, counts, codes):
                walk.apply(event)
        except Exception:  # noqa: BLE001  (that shape's dossiers are replayed alone: their own errors)
            walk = None
        walks[shape_id] = walk
    for shape_id, walk in walks.items():
        if walk is None:
            fallback |= shape == shape_id
    max_stages = max([len(w.stages) for w in walks.values() if w is not None] + [1])

    # per event: the stages it closes (a bit mask of slots) and the step of the stage it opens (-2: none)
    closes = np.zeros(events.dossier.size, dtype=np.int64)
    opens = np.full(events.dossier.size, -2, dtype=np.int64)
    moves_by_shape = {s: w.moves for s, w in walks.items() if w is not None}
    event_shape = shape[events.dossier]
    for shape_id, moves in moves_by_shape.items():
        sel = np.flatnonzero(event_shape == shape_id)
        close_bits = np.array([sum(1 << slot for slot in closed) for closed, _ in moves], dtype=np.int64)
        open_steps = np.array([opened[0] if opened else -2 for _, opened in moves], dtype=np.int64)
        closes[sel] = close_bits[position[sel]]
        opens[sel] = open_steps[position[sel]]

    clock = BatchReplay(rule, calendar, receiving, max_stages, unit="us")
    try:
        _run(clock, events, position, closes, opens, fallback, max_stages)
    except Exception:  # noqa: BLE001  (an instant outside the calendar, say: every dossier alone, below)
        clock = BatchReplay(rule, calendar, receiving, max_stages, unit="us")
        fallback[:] = True
    result = clock.result()
    for row in np.flatnonzero(fallback).tolist():
        try:
            state = replay(
                rule,
                calendar,
                _events_of(row, events, starts, counts, codes),
                receiving_agency_code=codes[int(receiving[row])],
                checked_from=int(counts[row]),
            )
        except Exception as exc:  # noqa: BLE001  (reported per dossier, as the per-dossier replay raises it)
            result.failed[row] = exc
            continue
        _put(result, row, state, steps, codes, receiving[row])
    return result


def _run(clock, events, position, closes, opens, fallback, max_stages) -> None:
    """Apply the events position by position (every dossier's first event, then every second, ...)."""
    live = ~fallback[events.dossier]
    if not live.any():
        return
    for k in range(int(position[live].max()) + 1):
        at_k = np.flatnonzero(live & (position == k))
        types = events.type[at_k]
        for code in np.unique(types).tolist():
            e = at_k[types == code]
            idx, at = events.dossier[e], events.at[e]
            name = EVENT_TYPES[code]
            if name == "received":
                clock.received(idx, at, opens[e])
            elif name == "forwarded":
                bits = closes[e]
                closing = ((bits[:, None] >> np.arange(max_stages)) & 1).astype(bool)
                opening = opens[e] > -2  # the others only close a parallel branch
                to_agency = events.to_agency[e]
                clock.forwarded(idx[opening], at[opening], closing[opening], opens[e][opening], to_agency[opening])
                only = ~opening
                clock.forwarded(idx[only], at[only], closing[only], None, None)
            elif name == "apology_issued":
                clock.apology_issued(idx, at, events.new_due[e])
            elif name == "paused":
                clock.paused_event(idx, at)
            elif name in ("withdrawn", "stopped", "abandoned"):
                clock.withdrawn(idx, at, name)
            else:
                getattr(clock, name)(idx, at)


def _shapes(steps, receiving, events, counts, position, codes) -> tuple[np.ndarray, np.ndarray]:
    """Each dossier's shape id (dossiers of one shape live the same structure), and the dossiers to
    replay alone (events out of time order)."""
    n = len(receiving)
    fallback = counts == 0  # replay says why a dossier needs an event
    shape = np.full(n, -1, dtype=np.int64)
    size = events.dossier.size
    if not size:
        return shape, fallback
    same_dossier = np.r_[False, events.dossier[1:] == events.dossier[:-1]]
    earlier = np.r_[False, events.at[1:] < events.at[:-1]] & same_dossier
    fallback[events.dossier[earlier]] = True
    # agency labels: where an agency is first named in the dossier (receiving 0, then per event), and
    # which of the steps' agencies it is; only a hand-off's agencies shape the walk
    forwarded = events.type == EVENT_CODES["forwarded"]
    step_agencies = sorted({s.agency_code for s in steps if s.agency_code})
    code_index = {code: i + 1 for i, code in enumerate(step_agencies)}
    refs_dossier = np.concatenate([np.arange(n), events.dossier, events.dossier])
    refs_pos = np.concatenate([np.zeros(n, dtype=np.int64), 1 + 2 * position, 2 + 2 * position])
    refs_agency = np.concatenate([receiving, events.agency, events.to_agency])
    order = np.lexsort((refs_pos, refs_agency, refs_dossier))
    d, a = refs_dossier[order], refs_agency[order]
    run_start = np.r_[True, (d[1:] != d[:-1]) | (a[1:] != a[:-1])]
    first = refs_pos[order][np.flatnonzero(run_start)[np.cumsum(run_start) - 1]]
    first_pos = np.empty_like(first)
    first_pos[order] = first
    step_of = np.vectorize(lambda agency: code_index.get(codes.get(agency), 0), otypes=[np.int64])
    uniques, inverse = np.unique(refs_agency, return_inverse=True)
    step_label = step_of(uniques)[inverse] if uniques.size else np.zeros(0, dtype=np.int64)
    label = np.where(refs_agency < 0, 0, 1 + first_pos * 32 + step_label)
    from_label, to_label = label[n : n + size], label[n + size :]
    prev_forward_same = np.r_[False, forwarded[:-1] & (events.at[1:] == events.at[:-1])] & same_dossier
    apology_without = (events.type == EVENT_CODES["apology_issued"]) & (events.new_due == NONE)
    code = events.type.astype(np.int64)
    code |= np.where(forwarded, (from_label << 5) | (to_label << 25) | (prev_forward_same.astype(np.int64) << 45), 0)
    code |= apology_without.astype(np.int64) << 46
    next_id = 0
    for count in np.unique(counts).tolist():
        rows = np.flatnonzero((counts == count) & ~fallback)
        if not rows.size:
            continue
        first_event = np.r_[0, np.cumsum(counts)[:-1]][rows]
        matrix = code[first_event[:, None] + np.arange(count)[None, :]]
        _, inverse = np.unique(matrix, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        shape[rows] = next_id + inverse
        next_id += int(inverse.max()) + 1
    return shape, fallback


def _events_of(row: int, events: EventColumns, starts, counts, codes: Mapping[int, str]) -> list[Event]:
    begin = int(starts[row])
    out = []
    for k in range(begin, begin + int(counts[row])):
        agency, to_agency = int(events.agency[k]), int(events.to_agency[k])
        out.append(
            Event(
                type=EVENT_TYPES[int(events.type[k])],
                at=instant_of(events.at[k]),
                agency_code=codes.get(agency) if agency >= 0 else None,
                to_agency_code=codes.get(to_agency) if to_agency >= 0 else None,
                new_due_at=instant_of(events.new_due[k]),
            )
        )
    return out


def _put(result: BatchResult, row: int, state: ClockState, steps: list[StepRule], codes, receiving: int) -> None:
    """Write one dossier's `replay` state into the batch's arrays (a dossier replayed alone)."""
    ids = {code: agency for agency, code in codes.items()}
    result.status[row] = int(state.status)
    result.clock_start[row] = micros_of(state.clock_start)
    result.original_due[row] = micros_of(state.original_due_at)
    result.rescheduled_due[row] = micros_of(state.rescheduled_due_at)
    result.due[row] = micros_of(state.due_at)
    result.finished[row] = micros_of(state.finished_at)
    names = {name: code for code, name in DOSSIER_OUTCOME_NAMES.items()}
    result.outcome[row] = names[state.outcome]
    result.paused_minutes[row] = state.paused_minutes
    result.supplement_count[row] = state.supplement_count
    result.apology_issued[row] = state.apology_issued
    result.holder[row] = ids.get(state.current_agency_code, receiving)
    result.clock_stopped_since[row] = micros_of(state.clock_stopped_since)
    if len(state.stages) > result.stage_started.shape[1]:
        _widen(result, len(state.stages))
    result.stage_count[row] = len(state.stages)
    by_seq = {s.seq: i for i, s in enumerate(steps)}
    stage_names = {name: code for code, name in STAGE_OUTCOME_NAMES.items()}
    for slot, stage in enumerate(state.stages):
        result.stage_agency[row, slot] = ids.get(stage.agency_code, -1)
        if stage.step_seq is not None:
            result.stage_step[row, slot] = by_seq.get(stage.step_seq, -1)
        else:
            result.stage_step[row, slot] = STEP_HAND_BACK if stage.name == HAND_BACK_STAGE else -1
        result.stage_started[row, slot] = micros_of(stage.started_at)
        result.stage_allotment[row, slot] = -1 if stage.allotment_minutes is None else stage.allotment_minutes
        result.stage_due[row, slot] = micros_of(stage.due_at)
        result.stage_ended[row, slot] = micros_of(stage.ended_at)
        result.stage_outcome[row, slot] = stage_names[stage.outcome]
        result.stage_overrun[row, slot] = stage.overrun_minutes
        result.stage_excluded[row, slot] = stage.excluded


_STAGE_FILL = {
    "stage_agency": -1, "stage_step": -1, "stage_started": NONE, "stage_allotment": -1, "stage_due": NONE,
    "stage_ended": NONE, "stage_outcome": STAGE_NONE, "stage_overrun": 0, "stage_excluded": False,
}  # fmt: skip


def _widen(result: BatchResult, stages: int) -> None:
    for name, fill in _STAGE_FILL.items():
        old = getattr(result, name)
        new = np.full((old.shape[0], stages), fill, dtype=old.dtype)
        new[:, : old.shape[1]] = old
        setattr(result, name, new)
