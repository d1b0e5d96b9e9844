"""One group's life: dossiers of one procedure version received by agencies sharing one calendar.

Events are generated in a fixed order of slots (intake, supplement rounds, the hand-off chain of
the procedure's steps, apology, pause, resolution, return). Each slot's instants are drawn from the
clock state so far, the slot is kept for a dossier when it happens before that dossier's cut (its
withdrawal, or `now`), and the clock state is advanced for the kept ones. A dossier whose slot
falls after its cut stops there: its events are a prefix of its would-be life, so the state at the
cut is exactly the state after its last kept event.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seed.generator import realism as R
from sla.core.batch import NONE, BatchReplay, BatchResult, CalendarOps
from sla.core.lifecycle import EVENT_TYPES
from sla.core.replay import HAND_BACK_STAGE, STEP_EXCLUDED, ProcedureRule, StepRule

EVENT_CODE = {name: code for code, name in enumerate(EVENT_TYPES)}
CHANNEL_COUNTER, CHANNEL_ONLINE, CHANNEL_POST = 1, 2, 3

REASONS = (
    "Hồ sơ chưa đầy đủ thành phần theo quy định",
    "Thiếu giấy tờ chứng minh chỗ ở hợp pháp",
    "Thiếu bản sao giấy tờ tùy thân của người nộp",
    "Thông tin trong tờ khai chưa khớp với giấy tờ kèm theo",
    "Bản vẽ chưa đúng quy chuẩn, đề nghị bổ sung",
    "Hồ sơ không thuộc thẩm quyền giải quyết",
    "Công dân xin rút hồ sơ",
    "Cần xác minh thêm với cơ quan liên quan",
    "Chờ thực hiện nghĩa vụ tài chính",
    "Quá thời hạn bổ sung hồ sơ",
    "Đình chỉ giải quyết theo quy định",
)
R_SUPPLEMENT = (0, 1, 2, 3, 4)
R_REFUSED = (0, 5)
R_WITHDRAWN, R_APOLOGY, R_PAUSE, R_ABANDONED, R_STOPPED = 6, 7, 8, 9, 10


@dataclass
class StepPlan:
    """A step and the agency (per dossier) that takes it."""

    index: int
    step: StepRule
    agency: np.ndarray  # int32 per dossier


@dataclass
class GroupInput:
    rule: ProcedureRule
    steps: list[StepPlan]  # in seq order; the first is stage 1's
    field_code: str
    level: str
    has_fee: bool
    receiving: np.ndarray  # int32 agency ids
    channel: np.ndarray  # int8 CHANNEL_*
    intake_at: np.ndarray  # int64 minutes: submission (online) or receipt


@dataclass
class GroupOutput:
    clock: BatchReplay
    result: BatchResult
    submitted_at: np.ndarray
    received_at: np.ndarray
    events: dict[str, np.ndarray]  # columnar, in order per dossier: row, type, at, agency, from, to, new_due, reason
    stage_names: list[str]
    stage_step_seqs: list[int | None]


class _Timeline:
    """Who is still going, each dossier's cut, and the events kept so far."""

    def __init__(self, n: int, now: int) -> None:
        self.alive = np.ones(n, dtype=bool)
        self.cut = np.full(n, now, dtype=np.int64)
        self.last_at = np.full(n, NONE)
        self.parts: list[tuple] = []

    def candidates(self, mask: np.ndarray | None = None) -> np.ndarray:
        return np.flatnonzero(self.alive if mask is None else self.alive & mask)

    def keep(self, rows: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The rows whose event happens by their cut; the others stop here."""
        ok = at <= self.cut[rows]
        self.alive[rows[~ok]] = False
        rows, at = rows[ok], at[ok]
        if rows.size and (at < self.last_at[rows]).any():
            raise AssertionError("generated events out of time order")
        return rows, at

    def record(self, rows, kind: str, at, agency, source=-1, target=-1, new_due=NONE, reason=-1) -> None:
        if not rows.size:
            return
        size = rows.size
        self.parts.append(
            (
                rows,
                np.full(size, EVENT_CODE[kind], dtype=np.int8),
                at,
                np.broadcast_to(np.asarray(agency, dtype=np.int32), size),
                np.broadcast_to(np.asarray(source, dtype=np.int32), size),
                np.broadcast_to(np.asarray(target, dtype=np.int32), size),
                np.broadcast_to(np.asarray(new_due, dtype=np.int64), size),
                np.broadcast_to(np.asarray(reason, dtype=np.int8), size),
            )
        )
        self.last_at[rows] = at

    def columns(self) -> dict[str, np.ndarray]:
        names = ("row", "type", "at", "agency", "source", "target", "new_due", "reason")
        if not self.parts:
            return {name: np.zeros(0, dtype=np.int64) for name in names}
        columns = [np.concatenate(part) for part in zip(*self.parts, strict=True)]
        order = np.argsort(columns[0], kind="stable")  # per dossier, in slot (= time) order
        return {name: column[order] for name, column in zip(names, columns, strict=True)}


def _profile(field_code: str, level: str, has_fee: bool) -> R.FieldProfile:
    profile = R.FIELD_PROFILES.get(field_code)
    if profile is None:
        prefix = next((p for p in R.FIELD_PREFIX_PROFILES if field_code.startswith(p)), None)
        profile = R.FIELD_PREFIX_PROFILES[prefix] if prefix else R.DEFAULT_PROFILE
        if has_fee and not profile.pause:
            profile = R.FieldProfile(profile.late, profile.supplement, R.FEE_PAUSE)
    if level in ("department", "province"):
        profile = R.FieldProfile(profile.late + R.DEPARTMENT_EXTRA_LATE, profile.supplement, profile.pause)
    return profile


def max_stages(rule: ProcedureRule) -> int:
    """Stages a dossier of this rule can have: one per step, plus a hand-off back after a final
    parallel group (or one stage without steps), plus the result's hand-back to the desk."""
    steps = sorted(rule.steps, key=lambda s: s.seq)
    if not steps:
        return 2
    return len(steps) + (steps[-1].parallel_group is not None) + 1


def simulate(ops: CalendarOps, group: GroupInput, rng: np.random.Generator, now: int) -> GroupOutput:
    n = len(group.receiving)
    rule = group.rule
    mpd = ops.minutes_per_day
    profile = _profile(group.field_code, group.level, group.has_fee)
    clock = BatchReplay(rule, ops.calendar, group.receiving, max_stages(rule))
    slot_steps: list[StepRule | None] = [None] * clock.st_started.shape[1]  # a stage slot's step (same for all)
    tl = _Timeline(n, now)
    steps = group.steps
    has_excluded = any(p.step.unit == STEP_EXCLUDED for p in steps)

    # per-dossier draws, all at once (their order fixes the stream for a seed)
    online = group.channel == CHANNEL_ONLINE
    refused = rng.random(n) < np.where(online, R.REFUSED_ONLINE, R.REFUSED_AT_COUNTER)
    online_delay = 1 + np.minimum(rng.exponential(R.ONLINE_RECEIPT_MINUTES, n), 2 * mpd).astype(np.int64)
    rounds = np.where(rng.random(n) < profile.supplement, 1 + (rng.random(n) < R.SECOND_SUPPLEMENT), 0)
    answer = rng.choice(3, size=(n, 2), p=(1 - R.SUPPLEMENT_ABANDONED - R.SUPPLEMENT_WITHDRAWN,
                                             R.SUPPLEMENT_ABANDONED, R.SUPPLEMENT_WITHDRAWN))  # fmt: skip
    answer[rounds < 2, 1] = 0
    ending = rng.random(n)
    withdraws = ending < R.WITHDRAWN + R.STOPPED
    stops = ending < R.STOPPED
    stages = clock.st_started.shape[1] - 1  # the chain's, without the result's hand-back
    late = rng.random((n, stages + 1)) < profile.late / stages  # a chain's stages share the field's late share
    stuck = rng.random(n) < R.STUCK
    apology = rng.random(n) < R.APOLOGY
    pause = (rng.random(n) < profile.pause) & (not has_excluded)
    returned = rng.random(n) >= R.NOT_RETURNED
    by_post = group.channel == CHANNEL_POST
    mean_return = np.where(
        online, R.RETURN_DAYS["online"], np.where(by_post, R.RETURN_DAYS["post"], R.RETURN_DAYS["counter"])
    )
    return_minutes = 1 + (rng.exponential(mean_return) * mpd).astype(np.int64)
    hand_back_slot = [-1]  # the stage slot a hand-back takes, once one happens
    reason = rng.integers(0, 1 << 16, n)
    # exponential from the reason's draw (not a draw of its own: the stream, and so every other life, stays as it was)
    hand_back_minutes = 1 + (-np.log((reason + 0.5) / (1 << 16)) * R.HAND_BACK_DAYS * mpd).astype(np.int64)

    def days(params: tuple[float, float], size: int) -> np.ndarray:
        return np.maximum((rng.lognormal(*params, size) * mpd).astype(np.int64), 30)

    def work_end(rows, start, due, late_rows, stuck_rows=None) -> np.ndarray:
        """When a piece of work that began at `start` ends: inside the time left to `due`, or late."""
        size = rows.size
        left = np.where(due > start, ops.between(start, np.maximum(due, start)), 0)
        used = np.maximum((rng.beta(*R.WORK_BETA, size) * left).astype(np.int64), 1)
        overdue = left == 0
        used = np.where(overdue, 1 + rng.integers(0, mpd, size), used)
        on_time = ops.shift(start, used)
        over = (mpd * (1 + rng.lognormal(*R.LATE_DAYS, size))).astype(np.int64)
        late_rows = late_rows & ~overdue
        if stuck_rows is not None:
            over = np.where(stuck_rows, rng.integers(20, 81, size) * mpd, over)
            late_rows = late_rows | stuck_rows
        late_end = ops.shift(np.maximum(start, due), over)
        return np.where(late_rows, late_end, on_time)

    # -- intake ----------------------------------------------------------------------------------
    submitted_at = np.where(online, group.intake_at, NONE)
    rows = tl.candidates(online)
    rows, at = tl.keep(rows, group.intake_at[rows])
    clock.submitted(rows, at)
    tl.record(rows, "submitted", at, group.receiving[rows])

    desk_at = np.where(online, ops.shift(group.intake_at, online_delay), group.intake_at)
    rows = tl.candidates(refused)
    rows, at = tl.keep(rows, desk_at[rows])
    clock.refused(rows, at)
    tl.record(rows, "refused", at, group.receiving[rows], reason=np.asarray(R_REFUSED)[reason[rows] % len(R_REFUSED)])
    tl.alive[rows] = False

    rows = tl.candidates(~refused)
    rows, at = tl.keep(rows, desk_at[rows])
    clock.received(rows, at, steps[0].index if steps else -1)
    slot_steps[0] = steps[0].step if steps else None
    tl.record(rows, "received", at, group.receiving[rows])
    received_at = np.where(clock.clock_start != NONE, desk_at, NONE)
    received_at = np.where(refused & ~online, desk_at, received_at)  # a refused intake is "received" then refused

    # the withdrawal instant, decided now: events after it do not happen
    w_rows = rows[withdraws[rows]]
    span = np.maximum(ops.between(desk_at[w_rows], clock.original_due[w_rows]), mpd)
    withdraw_at = np.full(n, NONE)
    withdraw_at[w_rows] = ops.shift(desk_at[w_rows], 1 + (rng.uniform(0.05, 1.0, w_rows.size) * span).astype(np.int64))
    tl.cut[w_rows] = np.minimum(withdraw_at[w_rows], now)

    # -- supplement rounds (during stage 1) ------------------------------------------------------
    for round_no in (0, 1):
        rows = tl.candidates(rounds > round_no)
        start = tl.last_at[rows]
        left = ops.between(start, np.maximum(clock.st_due[rows, 0], start))
        ask = ops.shift(start, (rng.random(rows.size) * np.minimum(left, 2 * mpd)).astype(np.int64))
        rows, at = tl.keep(rows, ask)
        holder = clock.holder(rows)
        clock.supplement_requested(rows, at)
        tl.record(rows, "supplement_requested", at, holder, reason=np.asarray(R_SUPPLEMENT)[reason[rows] % 5])
        kind = answer[rows, round_no]
        wait = np.where(
            kind == 1,
            R.ABANDON_AFTER_DAYS * mpd + rng.integers(0, 5 * mpd, rows.size),
            np.where(kind == 2, (rng.uniform(0.2, 10, rows.size) * mpd).astype(np.int64),
                     days(R.SUPPLEMENT_WAIT_DAYS, rows.size)),
        )  # fmt: skip
        rows, at = tl.keep(rows, ops.shift(at, wait))
        kind = answer[rows, round_no]
        holder = clock.holder(rows)
        for code, name, why in (
            (0, "supplement_received", -1),
            (1, "abandoned", R_ABANDONED),
            (2, "withdrawn", R_WITHDRAWN),
        ):
            sel = kind == code
            if name == "supplement_received":
                clock.supplement_received(rows[sel], at[sel])
            else:
                clock.withdrawn(rows[sel], at[sel], name)
                tl.alive[rows[sel]] = False
            tl.record(rows[sel], name, at[sel], holder[sel], reason=why)

    # -- the hand-off chain ----------------------------------------------------------------------
    open_slot = 0  # the single open stage between moves
    next_slot = 1
    i = 1
    while i < len(steps):
        plan = steps[i]
        rows = tl.candidates()
        from_agency = clock.st_agency[rows, open_slot]
        end = _stage_end(clock, ops, slot_steps, rows, tl.last_at[rows], open_slot, late[rows, open_slot], work_end,
                         days)  # fmt: skip
        rows, at = tl.keep(rows, end)
        from_agency = clock.st_agency[rows, open_slot]
        closing = np.zeros((rows.size, clock.st_started.shape[1]), dtype=bool)
        closing[:, open_slot] = True
        if plan.step.parallel_group is None:
            clock.forwarded(rows, at, closing, plan.index, plan.agency[rows])
            slot_steps[next_slot] = plan.step
            tl.record(rows, "forwarded", at, from_agency, from_agency, plan.agency[rows])
            open_slot, next_slot, i = next_slot, next_slot + 1, i + 1
            continue
        group_name = plan.step.parallel_group
        members = []
        while i < len(steps) and steps[i].step.parallel_group == group_name:
            members.append(steps[i])
            i += 1
        branch_slots = list(range(next_slot, next_slot + len(members)))
        for k, (member, slot) in enumerate(zip(members, branch_slots, strict=True)):
            clock.forwarded(rows, at, closing if k == 0 else None, member.index, member.agency[rows])
            slot_steps[slot] = member.step
            tl.record(rows, "forwarded", at, from_agency, from_agency, member.agency[rows])
        next_slot += len(members)
        # each branch ends on its own; they come back in the order they finish
        rows = tl.candidates()
        ends = np.full((n, len(members)), NONE)
        for k, slot in enumerate(branch_slots):
            ends[rows, k] = _stage_end(clock, ops, slot_steps, rows, tl.last_at[rows], slot, late[rows, slot],
                                       work_end, days)  # fmt: skip
        order = np.argsort(ends, axis=1, kind="stable")
        after = steps[i] if i < len(steps) else None
        for r in range(len(members)):
            rows = tl.candidates()
            rows, at = tl.keep(rows, ends[rows, order[rows, r]])
            slot = np.asarray(branch_slots)[order[rows, r]]
            source = clock.st_agency[rows, slot]
            target = after.agency[rows] if after else group.receiving[rows]
            closing = np.zeros((rows.size, clock.st_started.shape[1]), dtype=bool)
            closing[np.arange(rows.size), slot] = True
            last = r == len(members) - 1
            if last:
                clock.forwarded(rows, at, closing, after.index if after else -1, target)
                slot_steps[next_slot] = after.step if after else None
            else:
                clock.forwarded(rows, at, closing, None, None)
            tl.record(rows, "forwarded", at, source, source, target)
        open_slot, next_slot = next_slot, next_slot + 1
        if after is not None:
            i += 1

    # -- the last stage: apology, pause, resolution ----------------------------------------------
    final_late = late[:, -1]
    rows = tl.candidates(final_late & apology & ~stuck)
    start = tl.last_at[rows]
    due = clock.due_now(rows)
    room = ops.between(start, np.maximum(due, start)) - mpd
    fits = room >= 0
    rows, start, due, room = rows[fits], start[fits], due[fits], room[fits]
    issue = ops.shift(start, (rng.random(rows.size) * room).astype(np.int64))
    fits = ops.between(issue, due) >= mpd
    rows, issue, due = rows[fits], issue[fits], due[fits]
    rows, at = tl.keep(rows, issue)
    due = clock.due_now(rows)
    added = rng.integers(R.APOLOGY_DAYS[0], R.APOLOGY_DAYS[1] + 1, rows.size)
    new_due = ops.shift(due, added * mpd)
    holder = clock.holder(rows)
    clock.apology_issued(rows, at, new_due)
    tl.record(rows, "apology_issued", at, holder, new_due=new_due, reason=R_APOLOGY)

    rows = tl.candidates(pause)
    start = tl.last_at[rows]
    reference = _final_due(clock, ops, slot_steps, rows, open_slot, start)
    left = ops.between(start, np.maximum(reference, start))
    pause_at = ops.shift(start, (rng.uniform(0.1, 0.9, rows.size) * left).astype(np.int64))
    rows, at = tl.keep(rows, pause_at)
    holder = clock.holder(rows)
    clock.paused_event(rows, at)
    tl.record(rows, "paused", at, holder, reason=R_PAUSE)
    rows, at = tl.keep(rows, ops.shift(at, days(R.PAUSE_DAYS, rows.size)))
    holder = clock.holder(rows)
    clock.resumed(rows, at)
    tl.record(rows, "resumed", at, holder)

    rows = tl.candidates()
    start = tl.last_at[rows]
    resolve_at = work_end(
        rows, start, _final_due(clock, ops, slot_steps, rows, open_slot, start), final_late[rows], stuck[rows]
    )
    rows, at = tl.keep(rows, resolve_at)
    holder = clock.holder(rows)
    clock.resolved(rows, at)
    tl.record(rows, "resolved", at, holder)

    # a result resolved away from the receiving desk travels back to it (docs/hand-back.md)
    rows = tl.candidates()
    holder = clock.holder(rows)
    away = holder != group.receiving[rows]
    rows, holder = rows[away], holder[away]
    sent_at = ops.shift(tl.last_at[rows], hand_back_minutes[rows])
    kept = sent_at <= tl.cut[rows]
    rows, at = tl.keep(rows, sent_at)
    holder = holder[kept]
    clock.result_sent_to_desk(rows, at)
    if rows.size:
        slot_steps[next_slot] = None
        hand_back_slot[0] = next_slot
    tl.record(rows, "result_sent_to_desk", at, holder, holder, group.receiving[rows])

    rows = tl.candidates(returned)
    rows, at = tl.keep(rows, ops.shift(tl.last_at[rows], return_minutes[rows]))
    holder = clock.holder(rows)
    clock.result_returned(rows, at)
    tl.record(rows, "result_returned", at, holder)

    # -- withdrawals: every dossier still open at its withdrawal instant ---------------------------
    rows = np.flatnonzero((withdraw_at != NONE) & (withdraw_at <= now) & (clock.end_kind == 0))
    at = withdraw_at[rows]
    holder = clock.holder(rows)
    for sel, name, why in (
        (~stops[rows], "withdrawn", R_WITHDRAWN),
        (stops[rows], "stopped", R_STOPPED),
    ):
        clock.withdrawn(rows[sel], at[sel], name)
        tl.record(rows[sel], name, at[sel], holder[sel], reason=why)

    return GroupOutput(
        clock=clock,
        result=clock.result(),
        submitted_at=submitted_at,
        received_at=received_at,
        events=tl.columns(),
        stage_names=[
            HAND_BACK_STAGE
            if slot == hand_back_slot[0]
            else (step.name if step else ("intake" if slot == 0 else "hand-off"))[:500]
            for slot, step in enumerate(slot_steps)
        ],
        stage_step_seqs=[step.seq if step else None for step in slot_steps],
    )


def _final_due(
    clock: BatchReplay, ops: CalendarOps, slot_steps: list, rows: np.ndarray, slot: int, start: np.ndarray
) -> np.ndarray:
    """The due the last stage works to: its own (when it has a step), at most the dossier's; a
    hand-off back to the receiving agency after parallel branches only returns the result (half a day)."""
    due = clock.original_due[rows]
    if slot_steps[slot] is not None:
        due = np.minimum(due, clock.st_due[rows, slot])
    elif slot > 0:
        due = np.minimum(due, ops.shift(start, ops.minutes_per_day // 2))
    return due


def _stage_end(clock, ops, slot_steps, rows, start, slot, late_rows, work_end, days) -> np.ndarray:
    step = slot_steps[slot]
    if step is not None and step.unit == STEP_EXCLUDED:
        return ops.shift(np.maximum(start, clock.st_started[rows, slot]), days(R.EXCLUDED_STEP_DAYS, rows.size))
    return work_end(rows, start, clock.st_due[rows, slot], late_rows)
