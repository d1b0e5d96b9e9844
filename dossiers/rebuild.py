"""Many dossiers at once, with the batch replay (`sla.core.batch.replay_batch`, grouped by procedure version and
calendar): `rebuild` re-derives stored dossiers (`motcua dossiers rebuild`, the nightly re-derivation) and
`replay_new` derives new ones (the history import), whose rows `insert_columns` writes in bulk."""

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Integer,
    any_,
    bindparam,
    cast,
    delete,
    extract,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlmodel import Session

from dossiers.derive import note_changes
from dossiers.models import Dossier, DossierEvent, DueChange, Stage
from kernel.db import utc_now
from kernel.errors import translated_errors
from procedures.models import Agency, Procedure
from procedures.service import get_agency, procedure_rule, steps_of
from sla.core.batch import (
    DOSSIER_OUTCOME_NAMES,
    NONE,
    STAGE_OUTCOME_NAMES,
    CalendarOps,
    EventColumns,
    micros_of,
    replay_batch,
)
from sla.core.calendar import RESOLVED_OUTCOME_CODES, CalendarFor, WorkingCalendar
from sla.core.lifecycle import EVENT_TYPES, STATUS_NAMES, Status
from sla.core.replay import ProcedureRule

log = logging.getLogger(__name__)


@dataclass
class RebuildReport:
    dossiers: int = 0
    due_moved: int = 0
    outcome_changed: int = 0
    skipped_finished: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # dossier code → why its events could not be replayed
    outside_changes: int = 0  # stale dossiers whose clock window holds no changed day: only their stamp moved


ChangedDays = Callable[[str, str], "Sequence[date] | None"]
"""(calendar version a dossier was derived with, its receiving agency's code) → the local days whose
status may differ between that calendar and today's, or None when unknown (everything may differ)."""


def rebuild(
    session: Session,
    *,
    calendar_for: CalendarFor,
    agency: str | None = None,
    refreeze: bool = False,
    stale_for: str | None = None,
    changed_days: ChangedDays | None = None,
    reason: str = "re-derived from the event log (motcua dossiers rebuild)",
    batch_size: int = 10_000,
    progress: Callable[[int], None] | None = None,
) -> RebuildReport:
    """Re-derive dossiers from their events (after a calendar or catalogue change), in batches, with the
    batch replay (`sla.core.batch.replay_batch`, grouped by procedure version and calendar).

    Finished dossiers keep their frozen outcome and dues unless `refreeze`. With `stale_for` (the
    current calendar stamp) only open dossiers derived with another calendar, or before their
    procedure version last changed, are taken; with `changed_days` too, a dossier stale only by its
    calendar is re-derived only when its clock window (from its receipt to the latest of its due, its
    stages' dues and its last event) holds a changed day; the others only take the new stamp (their
    columns would not move). Every due that moves is kept in the dossier's history (DueChange) with
    `reason`. A dossier whose events cannot be replayed keeps its columns and is named in the report.
    """
    report = RebuildReport()
    codes = dict(session.execute(select(Agency.id, Agency.code)).all())
    rules: dict[int, ProcedureRule] = {}
    calendars: dict[str, WorkingCalendar] = {}
    # plain rows of what the replay and the report need (no table-model objects: 0.1 ms each)
    postgres = session.connection().dialect.name == "postgresql"
    columns = [_as_micros(c) if postgres and c.name in ("received_at", "due_at") else c for c in _REBUILD_DOSSIER]
    if stale_for is not None:
        changed_since = select(Procedure.updated_at).where(Procedure.id == Dossier.procedure_id).scalar_subquery()
        columns.append((Dossier.derived_at < changed_since).label("procedure_changed"))
    query = select(*columns).order_by(Dossier.id)
    if agency:
        query = query.where(Dossier.receiving_agency_id == get_agency(session, agency).id)
    if not refreeze:
        if stale_for is None:  # the nightly re-derivation does not report them: it would count the whole table
            finished = query.order_by(None).where(Dossier.finished_at.is_not(None)).subquery()
            report.skipped_finished = session.execute(select(func.count()).select_from(finished)).scalar_one()
        query = query.where(Dossier.finished_at.is_(None))
    if stale_for is not None:
        query = query.where(
            Dossier.finished_at.is_(None),
            Dossier.clock_start_at.is_not(None),
            or_(Dossier.calendar_version != stale_for, Dossier.derived_at < changed_since),
        )
    for batch in _batches(session, query, batch_size):
        _read_rules(session, {d.procedure_id for d in batch} - set(rules), rules)
        for dossier in batch:
            agency_code = codes[dossier.receiving_agency_id]
            if agency_code not in calendars:  # one look-up per agency: the calendar holds for the whole rebuild
                calendars[agency_code] = calendar_for(agency_code)
        _rebuild_batch(session, batch, rules, calendars, codes, report, reason, changed_days)
        session.expunge_all()
        if progress:
            progress(len(batch))
    return report


def _batches(session: Session, query, size: int):
    """The rows of `query` (ordered by dossier id), `size` at a time. PostgreSQL streams them from one
    server-side cursor, which the batches' writes do not disturb; SQLite pages by id."""
    if session.connection().dialect.name == "postgresql":
        yield from session.execute(query.execution_options(yield_per=size)).partitions(size)
        return
    last_id = 0
    while batch := session.execute(query.where(Dossier.id > last_id).limit(size)).all():
        last_id = batch[-1].id
        yield batch


def _read_rules(session: Session, procedure_ids: set[int], rules: dict[int, ProcedureRule]) -> None:
    """The rules of procedure versions, their steps read in one query."""
    if not procedure_ids:
        return
    versions = session.execute(select(Procedure).where(Procedure.id.in_(sorted(procedure_ids)))).scalars().all()
    steps = steps_of(session, sorted(procedure_ids))
    for procedure in versions:
        rules[procedure.id] = procedure_rule(procedure, steps[procedure.id])


_REBUILD_DOSSIER = (
    Dossier.id,
    Dossier.code,
    Dossier.procedure_id,
    Dossier.receiving_agency_id,
    Dossier.received_at,
    Dossier.due_at,
    Dossier.outcome,
    Dossier.calendar_version,
)
_REBUILD_EVENTS = select(
    DossierEvent.dossier_id,
    DossierEvent.type,
    DossierEvent.at,
    DossierEvent.agency_id,
    DossierEvent.from_agency_id,
    DossierEvent.to_agency_id,
    DossierEvent.new_due_at,
).order_by(DossierEvent.dossier_id, DossierEvent.seq)


def _as_micros(column):
    """PostgreSQL: an instant column read as µs since the epoch, a plain integer (no datetime object)."""
    return cast(extract("epoch", column) * 1_000_000, BigInteger).label(column.name)


_REBUILD_EVENTS_US = _REBUILD_EVENTS.with_only_columns(
    *(_as_micros(c) if c.name in ("at", "new_due_at") else c for c in _REBUILD_EVENTS.selected_columns)
)
"""PostgreSQL: the instants as µs since the epoch, read as plain integers (no datetime objects)."""
_LATEST_STAGE_DUES = select(Stage.dossier_id, func.max(Stage.due_at)).group_by(Stage.dossier_id)

_BUMP_STAMP = update(Dossier).values(calendar_version=bindparam("stamp"))


def _of_ids(session: Session, statement, column, ids: list[int]):
    """`statement` for the rows whose `column` is one of `ids`: one array parameter on PostgreSQL (10,000
    placeholders cost more to build than the query takes), an IN list on SQLite."""
    if session.connection().dialect.name == "postgresql":
        return session.connection().execute(statement.where(column == any_(cast(ids, ARRAY(Integer)))))
    return session.connection().execute(statement.where(column.in_(ids)))


_EVENT_CODES = {name: code for code, name in enumerate(EVENT_TYPES)}

_DAY_US = 86_400_000_000

_LOCAL_OFFSET_US = 7 * 3_600_000_000  # Asia/Ho_Chi_Minh, a fixed offset over the calendar's years


def _micros(values) -> np.ndarray:
    """Aware datetimes (None for none) as int64 UTC microseconds (NONE for none)."""
    instants = pd.DatetimeIndex(pd.to_datetime(pd.Series(values, dtype=object), utc=True)).as_unit("us")
    return instants.asi8.copy()  # NaT is int64's least value, which is NONE


def _us(values: list) -> np.ndarray:
    """Instants read as datetimes (SQLite) or as µs integers (PostgreSQL, `_as_micros`) as int64 µs."""
    if any(isinstance(v, datetime) for v in values):
        return _micros(values)
    return _nullable_ints(pd.Series(values, dtype=object))


def _nullable_ints(values: pd.Series) -> np.ndarray:
    """Integers (None for none) as int64 (NONE for none)."""
    return pd.array(values, dtype="Int64").to_numpy(dtype=np.int64, na_value=NONE)


def _ids(values: pd.Series) -> np.ndarray:
    """Agency ids (None for none) as int64 (-1 for none)."""
    return pd.to_numeric(values, errors="coerce").fillna(-1).to_numpy(dtype=np.int64)


def _datetimes(values: np.ndarray) -> list[datetime | None]:
    """int64 UTC microseconds (NONE for none) as aware datetimes (None for none)."""
    naive = values.astype("datetime64[us]").astype(object)  # NaT (NONE) becomes None
    return [None if v is None else v.replace(tzinfo=UTC) for v in naive.tolist()]


def _rebuild_batch(session, batch, rules, calendars, codes, report, reason, changed_days) -> None:
    ids = np.fromiter((d.id for d in batch), dtype=np.int64, count=len(batch))
    postgres = session.connection().dialect.name == "postgresql"
    rows = pd.DataFrame.from_records(
        _of_ids(
            session, _REBUILD_EVENTS_US if postgres else _REBUILD_EVENTS, DossierEvent.dossier_id, ids.tolist()
        ).all(),
        columns=["dossier_id", "type", "at", "agency_id", "from_agency_id", "to_agency_id", "new_due_at"],
    )
    micros = _nullable_ints if postgres else _micros
    row_of = pd.Series(np.arange(len(batch)), index=ids)
    event_row = row_of.reindex(rows["dossier_id"]).to_numpy() if len(rows) else np.zeros(0, dtype=np.int64)
    acting = rows["from_agency_id"].where(rows["from_agency_id"].notna(), rows["agency_id"])
    events = EventColumns(
        dossier=event_row.astype(np.int64),
        type=rows["type"].map(_EVENT_CODES).to_numpy(dtype=np.int64),
        at=micros(rows["at"]),
        agency=_ids(acting),
        to_agency=_ids(rows["to_agency_id"]),
        new_due=micros(rows["new_due_at"]),
    )
    take = np.ones(len(batch), dtype=bool)
    if changed_days is not None:
        take = _inside_changes(session, batch, ids, events, codes, changed_days)
        bumped: dict[str, list[int]] = {}  # the new stamp → the dossiers outside the changes
        for dossier, taken in zip(batch, take.tolist(), strict=True):
            if not taken:
                bumped.setdefault(calendars[codes[dossier.receiving_agency_id]].version[:32], []).append(dossier.id)
        for stamp, bumped_ids in bumped.items():
            _of_ids(session, _BUMP_STAMP.values(calendar_version=stamp), Dossier.id, bumped_ids)
            report.outside_changes += len(bumped_ids)
    columns = _replay_groups(batch, events, rules, calendars, codes, take=take)
    for row, exc in sorted(columns.failed.items()):
        if not isinstance(exc, translated_errors()):
            raise exc
        report.failed[batch[row].code] = str(exc)
        log.warning("dossier %s not re-derived: %s", batch[row].code, exc)
    _write_batch(session, *_batch_rows(batch, columns, calendars, codes, reason, report))


def _replay_groups(batch, events: EventColumns, rules, calendars, codes, *, take=None) -> "_Columns":
    """The batch replay of `batch`'s rows (those `take` marks; all without it), one replay per procedure version
    and calendar content (agencies with the same days and hours share one): stored dossiers re-derived
    (`rebuild`) and new ones (`replay_new`) alike."""
    groups: dict[tuple, list[int]] = {}
    for i, dossier in enumerate(batch):
        if take is None or take[i]:
            key = (dossier.procedure_id, _calendar_key(calendars[codes[dossier.receiving_agency_id]]))
            groups.setdefault(key, []).append(i)
    columns = _Columns(len(batch))
    for members in groups.values():
        first = batch[members[0]]
        calendar = calendars[codes[first.receiving_agency_id]]
        members = np.asarray(members)
        pick = np.isin(events.dossier, members)
        local = np.searchsorted(members, events.dossier[pick])
        group_events = EventColumns(local, *(getattr(events, n)[pick] for n in ("type", "at", "agency", "to_agency",
                                                                               "new_due")))  # fmt: skip
        receiving = np.fromiter((batch[i].receiving_agency_id for i in members), dtype=np.int64, count=len(members))
        result = replay_batch(rules[first.procedure_id], calendar, receiving, group_events, codes)
        columns.add(members, result, calendar)
    return columns


@lru_cache(maxsize=256)
def _calendar_key(calendar: WorkingCalendar) -> tuple:
    """What the clock's arithmetic depends on: the years, the working hours and which days are worked."""
    days = np.arange(np.datetime64(f"{calendar.first_year}-01-01"), np.datetime64(f"{calendar.last_year + 1}-01-01"))
    return calendar.first_year, calendar.last_year, calendar.working_hours, calendar.is_working_day(days).tobytes()


class _Columns:
    """The replayed columns of a rebuild batch, by batch row, gathered from the groups' batch results."""

    _DOSSIER = ("status", "clock_start", "original_due", "rescheduled_due", "due", "finished", "outcome",
                "paused_minutes", "supplement_count", "holder", "clock_stopped_since")  # fmt: skip
    _STAGE = ("stage_agency", "stage_started", "stage_allotment", "stage_due", "stage_ended", "stage_outcome",
              "stage_overrun", "stage_excluded")  # fmt: skip

    def __init__(self, size: int) -> None:
        self.done = np.zeros(size, dtype=bool)
        self.resolution = np.full(size, -1, dtype=np.int64)
        self.values: dict[str, np.ndarray] = {}
        self.stages: dict[str, list] = {name: [] for name in (*self._STAGE, "row", "seq", "step_seq", "name")}
        self.failed: dict[int, Exception] = {}
        self.size = size

    def add(self, members: np.ndarray, result, calendar: WorkingCalendar) -> None:
        ok = np.ones(len(members), dtype=bool)
        for row, exc in result.failed.items():
            ok[row] = False
            self.failed[int(members[row])] = exc
        local = np.flatnonzero(ok)
        rows = members[local]
        self.done[rows] = True
        for name in self._DOSSIER:
            values = getattr(result, name)
            if name not in self.values:
                self.values[name] = np.zeros(self.size, dtype=values.dtype)
            self.values[name][rows] = values[local]
        resolved = local[np.isin(result.outcome[local], RESOLVED_OUTCOME_CODES)]
        if resolved.size:
            worked = CalendarOps(calendar, "us").between(result.clock_start[resolved], result.finished[resolved])
            self.resolution[members[resolved]] = np.maximum(worked - result.paused_minutes[resolved], 0)
        r, s = np.nonzero(np.arange(result.stage_started.shape[1])[None, :] < result.stage_count[local][:, None])
        g = local[r]
        for name in self._STAGE:
            self.stages[name].append(getattr(result, name)[g, s])
        steps = result.stage_step[g, s]
        seqs = s + 1
        self.stages["row"].append(members[g])
        self.stages["seq"].append(seqs)
        seq_of = np.array([step.seq for step in result.steps] + [-1], dtype=np.int64)
        self.stages["step_seq"].append(seq_of[np.maximum(steps, -1)])  # no step, or the hand-back (-3): none
        self.stages["name"].append(
            [result.stage_name(step, seq) for step, seq in zip(steps.tolist(), seqs.tolist(), strict=True)]
        )


def _inside_changes(session, batch, ids, events, codes, changed_days) -> np.ndarray:
    """Which dossiers to re-derive: stale by their procedure, or with a changed day in their clock window."""
    take = np.zeros(len(batch), dtype=bool)
    by_days: dict[tuple, list[int]] = {}  # the changed days → the rows they apply to
    for i, dossier in enumerate(batch):
        if getattr(dossier, "procedure_changed", False):
            take[i] = True
            continue
        changed = changed_days(dossier.calendar_version, codes[dossier.receiving_agency_id])
        if changed is None:
            take[i] = True
        elif len(changed):
            by_days.setdefault(tuple(changed), []).append(i)
    if not by_days:
        return take
    check = np.concatenate([np.asarray(rows) for rows in by_days.values()])
    last_event = np.full(len(batch), NONE)
    if events.at.size:
        np.maximum.at(last_event, events.dossier, events.at)
    start = _us([batch[i].received_at for i in check])
    end = np.maximum(_us([batch[i].due_at for i in check]), last_event[check])
    inside = _window_holds(by_days, start, end)
    # a stage's own due can outlast the dossier's: read the stages only of the dossiers still outside
    outside = np.flatnonzero(~inside & (start != NONE))
    if outside.size:
        latest = dict(_of_ids(session, _LATEST_STAGE_DUES, Stage.dossier_id, ids[check[outside]].tolist()).all())
        end[outside] = np.maximum(end[outside], _micros([latest.get(int(ids[check[k]])) for k in outside]))
        inside = _window_holds(by_days, start, end)
    take[check] = inside | (start == NONE)
    return take


def _window_holds(by_days: dict[tuple, list[int]], start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Whether each window [local day of start, local day of end] holds one of its rows' changed days (rows in
    the order of `by_days`)."""
    first_day = (start + _LOCAL_OFFSET_US) // _DAY_US
    last_day = (end + _LOCAL_OFFSET_US) // _DAY_US
    inside = np.zeros(start.size, dtype=bool)
    offset = 0
    for days, rows in by_days.items():
        part = slice(offset, offset + len(rows))
        offset += len(rows)
        changed = np.asarray(days, dtype="datetime64[D]").view(np.int64)  # sorted
        first = np.searchsorted(changed, first_day[part])  # the first changed day on or after the receipt
        inside[part] = (first < changed.size) & (changed[np.minimum(first, changed.size - 1)] <= last_day[part])
    return inside


def _batch_rows(batch, columns: _Columns, calendars, codes, reason, report) -> tuple[dict, dict, dict]:
    """The dossier updates, stage rows and due moves of a rebuild batch, as columns (numpy arrays: instants
    in µs, NONE or a negative id for NULL; lists of text), converted once for all its groups."""
    rows = np.flatnonzero(columns.done)
    if not rows.size:
        return {}, {}, {}
    derived_at = micros_of(utc_now())
    v = columns.values
    dossiers = [batch[i] for i in rows.tolist()]
    derived = _derived_columns(columns, rows, dossiers, calendars, codes, derived_at)
    outcomes = derived["outcome"][1]
    ids = derived["dossier_id"][1]
    old_due = _us([d.due_at for d in dossiers])
    moved = np.flatnonzero(v["due"][rows] != old_due)
    moves = {
        "dossier_id": (_INT, ids[moved]),
        "recorded_at": (_INSTANT, np.full(moved.size, derived_at)),
        "old_due_at": (_INSTANT, old_due[moved]),
        "new_due_at": (_INSTANT, v["due"][rows][moved]),
        "reason": (_TEXT, [reason] * moved.size),
    }
    report.outcome_changed += sum(new != d.outcome for new, d in zip(outcomes, dossiers, strict=True))
    report.dossiers += len(dossiers)
    report.due_moved += int(moved.size)
    return derived, _stage_columns(batch, columns.stages), moves


def _derived_columns(columns: _Columns, rows: np.ndarray, dossiers: list, calendars, codes, derived_at: int) -> dict:
    """The derived columns (`dossiers.derive.derived_columns`, in bulk) of the replayed `rows` of a batch, whose
    dossiers are `dossiers`, as typed columns; `derived_at` in µs."""
    v = columns.values
    return {
        "dossier_id": (_INT, np.fromiter((d.id for d in dossiers), dtype=np.int64, count=len(dossiers))),
        "status_code": (_INT, v["status"][rows].astype(np.int64)),
        "status": (_TEXT, [STATUS_NAMES[Status(s)] for s in v["status"][rows].tolist()]),
        "clock_start_at": (_INSTANT, v["clock_start"][rows]),
        "original_due_at": (_INSTANT, v["original_due"][rows]),
        "rescheduled_due_at": (_INSTANT, v["rescheduled_due"][rows]),
        "due_at": (_INSTANT, v["due"][rows]),
        "finished_at": (_INSTANT, v["finished"][rows]),
        "outcome": (_TEXT, [DOSSIER_OUTCOME_NAMES[o] for o in v["outcome"][rows].tolist()]),
        "supplement_count": (_INT, v["supplement_count"][rows].astype(np.int64)),
        "paused_minutes": (_INT, v["paused_minutes"][rows].astype(np.int64)),
        "clock_stopped_since": (_INSTANT, v["clock_stopped_since"][rows]),
        "resolution_working_minutes": (_OPTIONAL_INT, columns.resolution[rows]),
        "current_agency_id": (_OPTIONAL_INT, v["holder"][rows].astype(np.int64)),
        "calendar_version": (_TEXT, [calendars[codes[d.receiving_agency_id]].version[:32] for d in dossiers]),
        "derived_at": (_INSTANT, np.full(rows.size, derived_at)),
    }


def _stage_columns(batch, stages: dict[str, list]) -> dict:
    if not stages["row"]:
        return {}
    s = {name: [x for part in parts for x in part] if name == "name" else np.concatenate(parts)
         for name, parts in stages.items()}  # fmt: skip
    return {
        "dossier_id": (_INT, np.fromiter((batch[i].id for i in s["row"].tolist()), dtype=np.int64)),
        "seq": (_INT, s["seq"].astype(np.int64)),
        "agency_id": (_OPTIONAL_INT, s["stage_agency"]),
        "name": (_TEXT, [name[:500] for name in s["name"]]),
        "step_seq": (_OPTIONAL_INT, s["step_seq"]),
        "started_at": (_INSTANT, s["stage_started"]),
        "allotment_minutes": (_OPTIONAL_INT, s["stage_allotment"]),
        "due_at": (_INSTANT, s["stage_due"]),
        "ended_at": (_INSTANT, s["stage_ended"]),
        "outcome": (_TEXT, [STAGE_OUTCOME_NAMES[o] for o in s["stage_outcome"].tolist()]),
        "overrun_minutes": (_INT, s["stage_overrun"].astype(np.int64)),
        "excluded": (_BOOL, s["stage_excluded"]),
    }


_INT, _OPTIONAL_INT, _INSTANT, _TEXT, _BOOL = "int", "optional_int", "instant", "text", "bool"


def _python_values(kind: str, values) -> list:
    """A column as Python values (None for NULL), for SQLAlchemy."""
    if kind == _INSTANT:
        return _datetimes(values)
    if kind == _OPTIONAL_INT:
        return [None if x < 0 else x for x in values.tolist()]
    if kind == "nullable_int":  # negatives too, NONE for NULL
        return [None if x == NONE else x for x in values.tolist()]
    if kind in (_INT, _BOOL):
        return values.tolist()
    return list(values)


def _rows(columns: dict, prefix: str = "") -> list[dict]:
    """Columns as row dicts (`prefix` before every name but dossier_id)."""
    names = list(columns)
    values = [_python_values(kind, data) for kind, data in columns.values()]
    keys = [name if name == "dossier_id" else f"{prefix}{name}" for name in names]
    return [dict(zip(keys, row, strict=True)) for row in zip(*values, strict=True)]


def _copy_text(columns: dict) -> str:
    """Columns as the text of a PostgreSQL COPY (tab-separated, \\N for NULL), formatted by column."""
    texts = []
    for kind, values in columns.values():
        if kind == _INSTANT:
            out = np.datetime_as_string(values.astype("datetime64[us]"), unit="us", timezone="UTC").astype(object)
            out[values == NONE] = "\\N"
        elif kind == _OPTIONAL_INT:
            out = values.astype(str).astype(object)
            out[values < 0] = "\\N"
        elif kind == "nullable_int":
            out = values.astype(str).astype(object)
            out[values == NONE] = "\\N"
        elif kind == _INT:
            out = values.astype(str)
        elif kind == _BOOL:
            out = np.where(values, "t", "f")
        else:
            out = ["\\N" if x is None else _COPY_ESCAPES.sub(lambda m: _COPY_ESCAPE[m[0]], x) for x in values]
        texts.append(list(out))
    return "".join(f"{line}\n" for line in map("\t".join, zip(*texts, strict=True)))


_COPY_ESCAPE = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}

_COPY_ESCAPES = re.compile(r"[\\\t\n\r]")


@lru_cache(maxsize=4)
def _update_derived(names: tuple[str, ...]):
    """UPDATE of the derived columns of one dossier (by `dossier_id`), from parameters `new_<column>`."""
    return (
        update(Dossier)
        .where(Dossier.id == bindparam("dossier_id"))
        .values({name: bindparam(f"new_{name}") for name in names})
    )


def _write_batch(session: Session, derived: dict, stages: dict, moves: dict) -> None:
    """A rebuild batch's writes (columns from `_batch_rows`): one statement each for the dossiers, their
    stages and the due moves; on PostgreSQL the rows go in by COPY, the dossiers' through a temporary
    table and one UPDATE from it."""
    if not derived:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        _copy_batch(connection, derived, stages, moves)
        return
    connection.execute(delete(Stage).where(Stage.dossier_id.in_(derived["dossier_id"][1].tolist())))
    names = tuple(name for name in derived if name != "dossier_id")
    connection.execute(_update_derived(names), _rows(derived, "new_"))
    if stages:
        connection.execute(insert(Stage), _rows(stages))
    if moves and len(moves["dossier_id"][1]):
        connection.execute(insert(DueChange), _rows(moves))
    note_changes(session, derived["dossier_id"][1].tolist(), "rebuild")


def _copy_batch(connection, derived: dict, stages: dict, moves: dict) -> None:
    columns = [name for name in derived if name != "dossier_id"]
    cursor = connection.connection.driver_connection.cursor()
    try:
        cursor.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS rebuild_derived ON COMMIT DELETE ROWS AS "
            f"SELECT id AS dossier_id, {', '.join(columns)} FROM dossier WITH NO DATA"
        )
        cursor.execute("TRUNCATE rebuild_derived")
        with cursor.copy(f"COPY rebuild_derived ({', '.join(derived)}) FROM STDIN") as copy:
            copy.write(_copy_text(derived))
        assignments = ", ".join(f"{column} = r.{column}" for column in columns)
        cursor.execute(f"UPDATE dossier SET {assignments} FROM rebuild_derived r WHERE dossier.id = r.dossier_id")
        cursor.execute("DELETE FROM stage WHERE dossier_id IN (SELECT dossier_id FROM rebuild_derived)")
        for table, rows in (("stage", stages), ("due_change", moves)):
            if rows and len(rows["dossier_id"][1]):
                with cursor.copy(f"COPY {table} ({', '.join(rows)}) FROM STDIN") as copy:
                    copy.write(_copy_text(rows))
        # the outbox (note_changes): one change per re-derived dossier
        cursor.execute(
            "INSERT INTO dossier_change (dossier_id, kind, recorded_at) "
            "SELECT dossier_id, 'rebuild', now() FROM rebuild_derived ORDER BY dossier_id"
        )
    finally:
        cursor.close()


@dataclass
class Replayed:
    """What :func:`replay_new` derived for a batch of new dossiers: their columns and stage rows as typed columns
    (`(kind, values)`, instants in µs, ready for :func:`insert_columns`), and the rows it could not replay."""

    derived: dict
    stages: dict
    failed: dict[int, Exception]
    """Batch row → `replay`'s error (CoreInvalidTransition, ReplayError, CalendarError)."""


def replay_new(
    batch: Sequence[Any],
    events: EventColumns,
    *,
    rules: dict[int, ProcedureRule],
    calendars: dict[str, WorkingCalendar],
    codes: dict[int, str],
    derived_at: datetime,
) -> Replayed:
    """The derived columns of new dossiers (`batch`: rows with `id`, `procedure_id`, `receiving_agency_id`) from their
    events (`events.dossier`: the batch row), with the batch replay grouped by procedure version and calendar content,
    as :func:`rebuild` derives stored ones. `calendars` by agency code, `rules` by procedure version id."""
    columns = _replay_groups(batch, events, rules, calendars, codes)
    for exc in columns.failed.values():
        if not isinstance(exc, translated_errors()):  # a core refusal is the record's fault; anything else is ours
            raise exc
    rows = np.flatnonzero(columns.done)
    if not rows.size:
        return Replayed({}, {}, columns.failed)
    dossiers = [batch[i] for i in rows.tolist()]
    derived = _derived_columns(columns, rows, dossiers, calendars, codes, micros_of(derived_at))
    return Replayed(derived, _stage_columns(batch, columns.stages), columns.failed)


def insert_columns(session: Session, table: str, columns: dict) -> int:
    """Insert rows given as typed columns (`name: (kind, values)`, as :func:`replay_new` gives them): COPY on
    PostgreSQL, one executemany on SQLite, in the session's transaction. Returns the rows written."""
    if not columns:
        return 0
    size = len(next(iter(columns.values()))[1])
    if not size:
        return 0
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        cursor = connection.connection.driver_connection.cursor()
        with cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            copy.write(_copy_text(columns))
        return size
    marks = ", ".join("?" * len(columns))
    values = [_sqlite_column(kind, data) for kind, data in columns.values()]
    connection.exec_driver_sql(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", list(zip(*values, strict=True))
    )
    return size


def _sqlite_column(kind: str, values) -> list:
    """A column as SQLite stores it (instants as SQLAlchemy's naive UTC text, so that ranges compare alike)."""
    if kind == _INSTANT:
        texts = np.strings.replace(np.datetime_as_string(values.astype("datetime64[us]"), unit="us"), "T", " ")
        out = texts.astype(object)
        out[values == NONE] = None
        return out.tolist()
    if kind == _BOOL:
        return values.astype(np.int64).tolist()
    return _python_values(kind, values)
