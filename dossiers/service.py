"""Intake and events. Every change appends to the event log and re-derives the dossier by replaying it.

Services add and flush; the caller's unit of work commits once (or rolls back: nothing half-written).
"""

import logging
import re
import unicodedata
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from types import SimpleNamespace
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from sqlalchemy import Row as SqlRow
from sqlalchemy import (
    ARRAY,
    and_,
    BigInteger,
    Integer,
    any_,
    bindparam,
    cast,
    delete,
    exists,
    literal,
    extract,
    func,
    insert,
    or_,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from dossiers.models import (
    CHANNEL_CODES,
    Dossier,
    DossierChange,
    DossierCodeCounter,
    DossierComponent,
    DossierEvent,
    DossierFee,
    DueChange,
    Stage,
)
from dossiers.names import WHOLE_NAME_WORDS, key_of_words
from dossiers.schemas import (
    ApplicantRead,
    DossierCreate,
    DossierRead,
    DossierSummary,
    EventCreate,
    EventRead,
    ReceivedComponent,
    ReceivedComponentRead,
    FeeIn,
    FeeRead,
    StageRead,
)
from kernel.db import utc_now
from kernel.errors import Forbidden, InvalidInput, NotFound, as_domain_error, translated_errors
from kernel.localtime import local_minute
from procedures.models import Agency, Procedure
from procedures.schemas import ComponentRead, component_key
from procedures.service import (
    agency_tree,
    components_of,
    fold,
    get_agency,
    get_procedure,
    procedure_ids_in_fields,
    procedure_ids_named,
    procedure_rule,
    steps_of,
)
from sla.core.batch import (
    DOSSIER_OUTCOME_NAMES,
    NONE,
    STAGE_OUTCOME_NAMES,
    CalendarOps,
    EventColumns,
    micros_of,
    replay_batch,
)
from sla.core import index766
from sla.core.calendar import LOCAL_TZ, OUTCOME_NAMES, WorkingCalendar
from sla.core.lifecycle import EVENT_TYPES, HAND_BACK, STATUS_NAMES, Status, allowed_events
from sla.core.replay import ClockState, Event, ProcedureRule, replay, rule_total_minutes

CalendarFor = Callable[[str], WorkingCalendar]
"""The working calendar of an agency, by its code (the receiving agency's calendar runs the clock)."""

log = logging.getLogger(__name__)

CLOCK_SKEW = timedelta(minutes=5)
RESOLVED_OUTCOMES = ("early", "on_time", "late")
CLOCK_STOPPED_STATUSES = (5, 6)  # waiting for a supplement or a financial obligation: the due is on hold


@dataclass(frozen=True)
class TimeRules:
    """The event time policy's settings (docs/event-time.md); requests get them from `api.settings`."""

    backdate_grace: timedelta | None = timedelta(minutes=30)
    """An instant further back than this before the server's clock is back-dated (None: history, unchecked)."""
    apology_max_extension: float = 1.0
    """An apology's new due lies at most this many times the procedure's own allotment after the original due."""


DEFAULT_TIME_RULES = TimeRules()
HISTORY = TimeRules(backdate_grace=None)
"""For code that writes past events on purpose (tests, a generator), never for a request: back-dating unchecked."""
BACKDATING_ROLES = "manager or admin"
RESOLVED_OUTCOME_CODES = tuple(OUTCOME_NAMES.index(name) for name in RESOLVED_OUTCOMES)

# The statements of intake and events, built once: building a statement and its cache key on every
# call cost 0.2–0.6 ms of CPU, as much as running it (bench/README.md, section "Intake").
_DOSSIER_BY_CODE = select(Dossier).where(Dossier.code == bindparam("code"))
_DOSSIER_BY_CODE_LOCKED = _DOSSIER_BY_CODE.with_for_update()
_WITHIN = bindparam("within", expanding=True)
_DOSSIER_BY_CODE_WITHIN = _DOSSIER_BY_CODE.where(
    or_(
        Dossier.receiving_agency_id.in_(_WITHIN),
        Dossier.current_agency_id.in_(_WITHIN),
        exists().where(Stage.dossier_id == Dossier.id, Stage.agency_id.in_(_WITHIN)),
    )
)
_LOCKED_DOSSIER_AND_PROCEDURE = (
    select(Dossier, Procedure)
    .join(Procedure, Procedure.id == Dossier.procedure_id)
    .where(Dossier.code == bindparam("code"))
    .with_for_update(of=Dossier)
)
_EVENTS_OF = select(DossierEvent).where(DossierEvent.dossier_id == bindparam("dossier_id")).order_by(DossierEvent.seq)
_EVENT_ROWS = (
    select(*DossierEvent.__table__.columns)
    .where(DossierEvent.dossier_id == bindparam("dossier_id"))
    .order_by(DossierEvent.seq)
)
_STAGES_OF = select(Stage).where(Stage.dossier_id == bindparam("dossier_id")).order_by(Stage.seq)
_STAGE_AGENCIES_OF = select(Stage.agency_id).where(Stage.dossier_id == bindparam("dossier_id"))
_DELETE_STAGES = delete(Stage).where(Stage.dossier_id == bindparam("dossier_id"))
_INSERT_DOSSIER = insert(Dossier).returning(Dossier.id)
_INSERT_EVENT = insert(DossierEvent)
_INSERT_STAGES = insert(Stage)
_INSERT_COMPONENTS = insert(DossierComponent)
_INSERT_CHANGE = insert(DossierChange)
_INSERT_FEES = insert(DossierFee)
_FEES_OF = (
    select(*DossierFee.__table__.columns)
    .where(DossierFee.dossier_id == bindparam("dossier_id"))
    .order_by(DossierFee.seq)
)
_COMPONENTS_OF = (
    select(*DossierComponent.__table__.columns)
    .where(DossierComponent.dossier_id == bindparam("dossier_id"))
    .order_by(DossierComponent.seq)
)
_NEXT_SEQUENCE = {
    name: dialect.insert(DossierCodeCounter)
    .values(agency_id=bindparam("agency_id"), day=bindparam("day"), last_seq=1)
    .on_conflict_do_update(index_elements=["agency_id", "day"], set_={"last_seq": DossierCodeCounter.last_seq + 1})
    .returning(DossierCodeCounter.last_seq)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


class InsertedRow(SimpleNamespace):
    """A row written with a plain INSERT (dossiers at intake, events, stages), read like a loaded table model."""


def note_changes(session: Session, dossier_ids: Sequence[int], kind: str) -> None:
    """The outbox (`dossier_change`): one row per changed dossier, in the writer's transaction. Every writer of a
    dossier's events or derived columns calls this (intake, events, rebuild); the national exchange reads it."""
    if dossier_ids:
        now = utc_now()
        session.connection().execute(
            _INSERT_CHANGE, [{"dossier_id": i, "kind": kind, "recorded_at": now} for i in dossier_ids]
        )


# --- reading -------------------------------------------------------------------------------------


def get_dossier(
    session: Session, code: str, *, lock: bool = False, within: Collection[int] | None = None
) -> Dossier:
    """The dossier `code`; with `within`, only if one of these agencies received, holds or held a stage of it,
    else the same NotFound as for an unknown code (after the same one query)."""
    if within is not None:
        parameters = {"code": code, "within": list(within)}
        dossier = session.execute(_DOSSIER_BY_CODE_WITHIN, parameters).scalar_one_or_none()
    else:
        query = _DOSSIER_BY_CODE_LOCKED if lock else _DOSSIER_BY_CODE
        dossier = session.execute(query, {"code": code}).scalar_one_or_none()
    if dossier is None:
        raise _no_dossier(code)
    return dossier


def _no_dossier(code: str) -> NotFound:
    return NotFound(
        f"no dossier with code {code!r}; codes look like 000.01.01.H26-250425-0001",
        message_id="dossier_not_found",
        code=code,
    )


def handling_agency_ids(session: Session, dossier: Dossier) -> set[int]:
    """The agencies that received, hold or held a stage of the dossier."""
    stage_agencies = session.execute(_STAGE_AGENCIES_OF, {"dossier_id": dossier.id}).scalars()
    return {dossier.receiving_agency_id, dossier.current_agency_id, *stage_agencies} - {None}


def events_of(session: Session, dossier_id: int) -> list[DossierEvent]:
    return list(session.execute(_EVENTS_OF, {"dossier_id": dossier_id}).scalars())


def _agency_codes(session: Session, ids: set[int | None]) -> dict[int, str]:
    by_id = agency_tree(session).by_id
    return {agency_id: by_id[agency_id].code for agency_id in ids if agency_id is not None}


def _agencies(session: Session, ids: set[int | None], codes: set[str | None]) -> dict[int, str]:
    """`_agency_codes(ids)` and the agencies of `codes`; NotFound names an unknown code."""
    tree = agency_tree(session)
    found = _agency_codes(session, ids)
    for code in sorted(codes - {None}):
        agency = tree.get(code)
        found[agency.id] = agency.code
    return found


# --- the clock -----------------------------------------------------------------------------------


@dataclass
class Derivation:
    """A dossier's replayed state, with what its writers need."""

    state: ClockState
    agency_ids: dict[str, int]


@dataclass
class Written:
    """A dossier with everything :func:`view` shows, as a write left it or as :func:`load` reads it."""

    dossier: Dossier | InsertedRow
    procedure: Procedure
    events: list[DossierEvent | InsertedRow | SqlRow]
    stages: list[Stage | InsertedRow]
    codes: dict[int, str]
    """Agency id → code of every agency the dossier, its events and its stages name."""
    calendar: WorkingCalendar
    """The receiving agency's calendar, which runs the dossier's clock."""
    components: Sequence = ()
    """The documents received at intake (dossier_component rows), in order."""
    listed_components: Sequence[ComponentRead] = ()
    """The procedure version's component list."""
    fees: Sequence = ()
    """The fee lines (dossier_fee rows), in order."""

    @property
    def handling_agency_ids(self) -> set[int]:
        """The agencies that received, hold or held a stage of the dossier."""
        dossier = self.dossier
        return {dossier.receiving_agency_id, dossier.current_agency_id, *(s.agency_id for s in self.stages)} - {None}


def _clock_events(events: Sequence[DossierEvent], codes: dict[int, str]) -> list[Event]:
    return [
        Event(
            type=e.type,
            at=e.at,
            agency_code=codes.get(e.from_agency_id or e.agency_id),
            to_agency_code=codes.get(e.to_agency_id),
            new_due_at=e.new_due_at,
            reason=e.reason,
        )
        for e in events
    ]


_RULES_KEPT = 1024
_rules: dict[tuple[int, datetime], ProcedureRule] = {}
"""Rules by (procedure version id, updated_at). Rewriting a version in place (`add_version` with the
same effective_from) or updating it moves its updated_at, so a remembered rule is never used for
another content; a rule is immutable, so sharing it between requests and threads is safe."""


def rule_for(session: Session, procedure: Procedure) -> ProcedureRule:
    """The clock's view of a procedure version; its steps are read once per version content."""
    key = (procedure.id, procedure.updated_at)
    rule = _rules.get(key)
    if rule is None:
        rule = procedure_rule(procedure, steps_of(session, [procedure.id])[procedure.id])
        if procedure.id is not None and procedure.updated_at is not None:
            if len(_rules) >= _RULES_KEPT:
                _rules.clear()
            _rules[key] = rule
    return rule


_listed: dict[tuple[int, datetime], tuple[ComponentRead, ...]] = {}
"""Component lists by (procedure version id, updated_at), as `_rules` (a rewrite moves updated_at)."""


def listed_components(session: Session, procedure: Procedure) -> tuple[ComponentRead, ...]:
    """The version's component list (thành phần hồ sơ), read once per version content."""
    key = (procedure.id, procedure.updated_at)
    found = _listed.get(key)
    if found is None:
        found = tuple(components_of(session, [procedure.id])[procedure.id])
        if len(_listed) >= _RULES_KEPT:
            _listed.clear()
        _listed[key] = found
    return found


def received_components(
    procedure_code: str, listed: Sequence[ComponentRead], received: Sequence[ReceivedComponent]
) -> list[dict]:
    """The rows of what was received, checked against the version's list, in the list's order.

    An unknown component (or one named twice) is refused, naming it and the accepted names; required
    components left out are allowed (see :func:`missing_components`).
    """
    by_seq = {c.seq: c for c in listed}
    by_name = {component_key(c.name): c for c in listed}
    unknown, twice, chosen = [], [], {}
    for item in received:
        component = by_seq.get(item.seq) if item.seq is not None else by_name.get(component_key(item.name))
        if component is not None and item.name is not None and component_key(item.name) != component_key(
            component.name
        ):
            component = None
        if component is None:
            unknown.append(repr(item.name) if item.name is not None else f"number {item.seq}")
        elif component.seq in chosen:
            twice.append(repr(component.name))
        else:
            chosen[component.seq] = (component, item)
    if unknown or twice:
        accepted = (
            "; ".join(f"{c.seq}. {c.name}" for c in listed)
            if listed
            else "none: the procedure's catalogue entry lists no components"
        )
        problems = []
        if unknown:
            problems.append(f"unknown component {', '.join(unknown)}")
        if twice:
            problems.append(f"component {', '.join(twice)} given twice (give each document once, with its copies)")
        raise InvalidInput(
            f"{'; '.join(problems)} for procedure {procedure_code}; its components: {accepted}",
            message_id="components",
            unknown=[u if u.startswith("number ") else u.strip("'") for u in unknown] or None,
            twice=[t.strip("'") for t in twice] or None,
            accepted=[f"{c.seq}. {c.name}" for c in listed] or None,
        )
    return [
        {
            "seq": number,
            "component_seq": component.seq,
            "name": component.name,
            "form": (item.form or component.form).value,
            "copies": item.copies or component.copies,
            **{flag: getattr(item, flag) for flag in index766.COMPONENT_FLAGS},
        }
        for number, (component, item) in enumerate((chosen[seq] for seq in sorted(chosen)), start=1)
    ]


def missing_components(listed: Sequence[ComponentRead], received: Sequence) -> list[str]:
    """The names of the required components not among the received ones."""
    got = {row.component_seq for row in received}
    return [c.name for c in listed if c.required and c.seq not in got]


def rule_of(session: Session, procedure_id: int) -> ProcedureRule:
    return rule_for(session, session.get(Procedure, procedure_id))


def derive(
    session: Session,
    dossier: Dossier,
    events: Sequence[DossierEvent],
    calendar: WorkingCalendar,
    *,
    rule: ProcedureRule | None = None,
    codes: dict[int, str] | None = None,
    checked_from: int = 0,
) -> Derivation:
    """Replay the events through the clock: the one function every writer (intake, events, rebuild) uses.

    `rule` and `codes` (agency id → code) may be given by callers that derive many dossiers at once.
    Events from `checked_from` on are held to the rules of their recording (sla.core.replay.replay).
    """
    rule = rule or rule_of(session, dossier.procedure_id)
    if codes is None:
        ids = {dossier.receiving_agency_id} | {
            i for e in events for i in (e.agency_id, e.from_agency_id, e.to_agency_id)
        }
        codes = _agency_codes(session, ids)
    try:
        state = replay(
            rule,
            calendar,
            _clock_events(events, codes),
            receiving_agency_code=codes[dossier.receiving_agency_id],
            checked_from=checked_from,
        )
    except translated_errors() as exc:  # the core's refusals (a transition, an event order, a calendar year)
        raise as_domain_error(exc) from exc
    return Derivation(state, {code: agency_id for agency_id, code in codes.items()})


def result_away(dossier: Dossier | InsertedRow) -> bool:
    """Whether the dossier's result is held away from its receiving desk (it was resolved at another agency
    and not yet sent back): then the hand-back, not the return, is what may come next."""
    held = dossier.current_agency_id
    return held is not None and held != dossier.receiving_agency_id


def next_events(dossier: Dossier | InsertedRow, *, apology_issued: bool) -> tuple[str, ...]:
    """The events the dossier's state admits now (the state machine, with the hand-back rule at status 9)."""
    return allowed_events(Status(dossier.status_code), apology_issued=apology_issued, result_away=result_away(dossier))


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
_REBUILD_EVENTS = (
    select(
        DossierEvent.dossier_id,
        DossierEvent.type,
        DossierEvent.at,
        DossierEvent.agency_id,
        DossierEvent.from_agency_id,
        DossierEvent.to_agency_id,
        DossierEvent.new_due_at,
    )
    .order_by(DossierEvent.dossier_id, DossierEvent.seq)
)
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
        self.stages["name"].append([result.stage_name(step, seq) for step, seq in zip(steps.tolist(), seqs.tolist())])


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
    outcomes = [DOSSIER_OUTCOME_NAMES[o] for o in v["outcome"][rows].tolist()]
    ids = np.fromiter((d.id for d in dossiers), dtype=np.int64, count=len(dossiers))
    derived = {
        "dossier_id": (_INT, ids),
        "status_code": (_INT, v["status"][rows].astype(np.int64)),
        "status": (_TEXT, [STATUS_NAMES[Status(s)] for s in v["status"][rows].tolist()]),
        "clock_start_at": (_INSTANT, v["clock_start"][rows]),
        "original_due_at": (_INSTANT, v["original_due"][rows]),
        "rescheduled_due_at": (_INSTANT, v["rescheduled_due"][rows]),
        "due_at": (_INSTANT, v["due"][rows]),
        "finished_at": (_INSTANT, v["finished"][rows]),
        "outcome": (_TEXT, outcomes),
        "supplement_count": (_INT, v["supplement_count"][rows].astype(np.int64)),
        "paused_minutes": (_INT, v["paused_minutes"][rows].astype(np.int64)),
        "clock_stopped_since": (_INSTANT, v["clock_stopped_since"][rows]),
        "resolution_working_minutes": (_OPTIONAL_INT, columns.resolution[rows]),
        "current_agency_id": (_OPTIONAL_INT, v["holder"][rows].astype(np.int64)),
        "calendar_version": (_TEXT, [calendars[codes[d.receiving_agency_id]].version[:32] for d in dossiers]),
        "derived_at": (_INSTANT, np.full(rows.size, derived_at)),
    }
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
        connection.execute(_INSERT_STAGES, _rows(stages))
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


def apply_derivation(
    session: Session, dossier: Dossier, derivation: Derivation, calendar: WorkingCalendar
) -> list[InsertedRow]:
    """Write the derived columns and stages of a dossier from its replayed state; returns the stage rows."""
    _set_derived_columns(dossier, derivation, calendar)
    session.add(dossier)
    session.connection().execute(_DELETE_STAGES, {"dossier_id": dossier.id})  # plain: no ORM bulk-delete machinery
    stages = _add_stages(session, dossier, derivation)
    session.flush()
    return stages


def _set_derived_columns(dossier: Dossier, derivation: Derivation, calendar: WorkingCalendar) -> None:
    loaded = vars(dossier)  # compared without loading an expired attribute; a table model's setattr is dear
    for name, value in derived_columns(derivation, calendar).items():
        if name not in loaded or loaded[name] != value:
            setattr(dossier, name, value)


def derived_columns(derivation: Derivation, calendar: WorkingCalendar) -> dict[str, Any]:
    """The dossier columns a replay decides (the stored indexes of the event log)."""
    state = derivation.state
    return {
        "status_code": int(state.status),
        "status": STATUS_NAMES[state.status],
        "clock_start_at": state.clock_start,
        "original_due_at": state.original_due_at,
        "rescheduled_due_at": state.rescheduled_due_at,
        "due_at": state.due_at,
        "finished_at": state.finished_at,
        "outcome": state.outcome,
        "supplement_count": state.supplement_count,
        "paused_minutes": state.paused_minutes,
        "clock_stopped_since": state.clock_stopped_since,
        "resolution_working_minutes": (
            max(calendar.minutes_between(state.clock_start, state.finished_at) - state.paused_minutes, 0)
            if state.outcome in RESOLVED_OUTCOMES
            else None
        ),
        "current_agency_id": derivation.agency_ids.get(state.current_agency_code),
        "calendar_version": calendar.version[:32],
        "derived_at": utc_now(),
    }


def _stage_rows(dossier_id: int, derivation: Derivation) -> list[dict[str, Any]]:
    ids = derivation.agency_ids
    return [
        {
            "dossier_id": dossier_id,
            "seq": stage.seq,
            "agency_id": ids.get(stage.agency_code),
            "name": stage.name[:500],
            "step_seq": stage.step_seq,
            "started_at": stage.started_at,
            "allotment_minutes": stage.allotment_minutes,
            "due_at": stage.due_at,
            "ended_at": stage.ended_at,
            "outcome": stage.outcome,
            "overrun_minutes": stage.overrun_minutes,
            "excluded": stage.excluded,
        }
        for stage in derivation.state.stages
    ]


def _add_stages(session: Session, dossier: Dossier, derivation: Derivation) -> list[InsertedRow]:
    """Insert the stage rows of a (flushed) dossier in one statement; a Stage object each would cost more."""
    rows = _stage_rows(dossier.id, derivation)
    if rows:
        session.connection().execute(_INSERT_STAGES, rows)
    return [InsertedRow(**row) for row in rows]


# --- intake --------------------------------------------------------------------------------------


def _next_sequence(session: Session, agency_id: int, day) -> int:
    """The agency's next daily sequence; one row per agency and day, locked until the intake commits."""
    connection = session.connection()
    statement = _NEXT_SEQUENCE[connection.dialect.name]
    return connection.execute(statement, {"agency_id": agency_id, "day": day}).scalar_one()


def _dossier_code(agency_code: str, day, sequence: int) -> str:
    return f"{agency_code}-{day:%y%m%d}-{sequence:04d}"


def _check_not_future(instant: datetime, now: datetime, what: str) -> None:
    if instant > now + CLOCK_SKEW:
        raise InvalidInput(
            f"{what} {local_minute(instant)} is in the future (now {local_minute(now)}); "
            "give the instant it happened, at most 5 minutes ahead",
            message_id="future_instant",
            instant=local_minute(instant),
            now=local_minute(now),
        )


def _backdate_reason(
    instant: datetime, now: datetime, what: str, reason: str | None, *, may_backdate: bool, rules: TimeRules
) -> str | None:
    """The reason to store with an instant given by the user: None unless it lies beyond the grace.

    Within the grace (default 30 minutes) anyone may date what they record; further back needs the
    manager or admin role (`may_backdate`, decided by the caller from the user's role) and a reason.
    """
    grace = rules.backdate_grace
    if grace is None:  # history written on purpose (HISTORY): kept as given
        return reason
    minutes = int(grace.total_seconds() // 60)
    if instant >= now - grace:
        if reason:
            raise InvalidInput(
                f"backdate_reason is only for an instant more than {minutes} minutes before now; "
                f"{what} {local_minute(instant)} is within that grace (now {local_minute(now)}): leave the reason out",
                message_id="backdate_reason_within_grace",
                minutes=minutes,
            )
        return None
    rule = (
        f"{what} {local_minute(instant)} is more than {minutes} minutes before now ({local_minute(now)}): "
        f"recording it that far back needs the {BACKDATING_ROLES} role and a backdate_reason, "
        "and it is counted as recorded late (docs/event-time.md)"
    )
    if not may_backdate:
        raise Forbidden(
            f"{rule}; leave it out to record it now, or ask a manager",
            message_id="backdate_forbidden",
            minutes=minutes,
            instant=local_minute(instant),
        )
    if not reason:
        raise InvalidInput(
            f"{rule}; give backdate_reason: why it is recorded only now",
            message_id="backdate_reason_missing",
            minutes=minutes,
            instant=local_minute(instant),
        )
    return reason


def receive(
    session: Session,
    *,
    data: DossierCreate,
    actor: str,
    calendar_for: CalendarFor,
    now: datetime,
    idempotency_key: str | None = None,
    may_backdate: bool = False,
    rules: TimeRules = DEFAULT_TIME_RULES,
) -> Dossier:
    """Intake at a one-stop desk (or an online submission): the dossier, its code, its first event, its due."""
    written = intake(
        session,
        data=data,
        actor=actor,
        calendar_for=calendar_for,
        now=now,
        idempotency_key=idempotency_key,
        may_backdate=may_backdate,
        rules=rules,
    )
    return session.get(Dossier, written.dossier.id)  # the session's object, which later writes keep current


def intake(
    session: Session,
    *,
    data: DossierCreate,
    actor: str,
    calendar_for: CalendarFor,
    now: datetime,
    idempotency_key: str | None = None,
    may_backdate: bool = False,
    rules: TimeRules = DEFAULT_TIME_RULES,
) -> Written:
    """:func:`receive`, returning what the intake wrote (enough for :func:`view` to answer without reading back).

    The clock is replayed before the first write, so the dossier row goes in with its derived columns.
    `may_backdate` (the user is a manager or an administrator) and `rules`: docs/event-time.md.
    """
    at = data.received_at or now
    _check_not_future(at, now, "received_at")
    backdate_reason = _backdate_reason(
        at, now, "received_at", data.backdate_reason, may_backdate=may_backdate, rules=rules
    )
    agency = get_agency(session, data.agency_code)
    day = at.astimezone(LOCAL_TZ).date()
    procedure = get_procedure(session, data.procedure_code, as_of=day)
    listed = listed_components(session, procedure)
    components = received_components(procedure.code, listed, data.components or [])
    calendar = calendar_for(agency.code)
    fees = _fee_rows(data.fees or [], now, first_seq=1)
    applicant = data.applicant
    columns = {
        "procedure_id": procedure.id,
        "procedure_code": procedure.code,
        "receiving_agency_id": agency.id,
        "channel": data.channel,
        "applicant_name": applicant.name,
        "applicant_id_number": applicant.id_number,
        "applicant_phone": applicant.phone,
        "applicant_address": applicant.address,
        "applicant_email": applicant.email,
        "contact_consent": applicant.contact_consent,
        "preferred_channel": applicant.preferred_channel if applicant.contact_consent else None,
        "submitted_at": at if data.status == "submitted" else None,
        "received_at": at if data.status != "submitted" else None,
        "event_count": 1,
        "electronic_result": None,
        "vneid_verified": data.vneid_verified,
        "population_ref": data.population_ref,
    }
    columns["index_flags"] = _index_flags(columns, procedure, components, fees)
    event = _event_row(
        seq=1,
        type=data.status,
        at=at,
        recorded_at=now,
        actor=actor,
        agency_id=agency.id,
        reason=data.reason,
        idempotency_key=idempotency_key,
        backdate_reason=backdate_reason,
    )
    codes = {agency.id: agency.code}
    # the dossier to be (derive reads its agency), so that its row goes in whole, derived columns included
    to_be = InsertedRow(**columns)
    derivation = derive(session, to_be, [event], calendar, rule=rule_for(session, procedure), codes=codes)
    code = _dossier_code(agency.code, day, _next_sequence(session, agency.id, day))
    search_text = fold(" ".join(filter(None, (code, applicant.name, applicant.phone, applicant.id_number))))[:400]
    values = {**columns, **derived_columns(derivation, calendar), "code": code, "search_text": search_text}
    dossier = InsertedRow(id=session.connection().execute(_INSERT_DOSSIER, values).scalar_one(), **values)
    event.dossier_id = dossier.id
    session.connection().execute(_INSERT_EVENT, vars(event))
    stages = _add_stages(session, dossier, derivation)
    rows = [InsertedRow(dossier_id=dossier.id, **row) for row in components]
    if rows:
        session.connection().execute(_INSERT_COMPONENTS, [vars(row) for row in rows])
    note_changes(session, [dossier.id], "intake")
    fee_rows = [InsertedRow(dossier_id=dossier.id, **row) for row in fees]
    if fee_rows:
        session.connection().execute(_INSERT_FEES, [vars(row) for row in fee_rows])
    return Written(dossier, procedure, [event], stages, codes, calendar, rows, listed, fee_rows)


def _fee_rows(fees: Sequence[FeeIn], now: datetime, *, first_seq: int) -> list[dict]:
    """Fee lines as rows but their dossier_id; a payment instant in the future is refused."""
    rows = []
    for seq, fee in enumerate(fees, start=first_seq):
        paid_at = fee.paid_at
        if paid_at is not None:
            _check_not_future(paid_at, now, f"paid_at of fee line {fee.name!r}")
        rows.append(
            {
                "seq": seq,
                "name": fee.name,
                "amount_vnd": fee.amount_vnd,
                "payment_channel": fee.payment_channel,
                "paid_at": paid_at,
                "recorded_at": now,
            }
        )
    return rows


def _index_flags(dossier, procedure: Procedure, components: Sequence, fees: Sequence, kept: int = 0) -> int:
    """The dossier's Decision 766 facts as bits (sla.core.index766), from its columns, components and fees.

    A bulk-loaded dossier (the generator, an import of history) may carry component and fee facts in
    `index_flags` without their rows: without rows, the bits of `kept` for them stay as they were."""

    def get(row, name):
        return row.get(name) if isinstance(row, dict) else getattr(row, name, None)

    flags = index766.dossier_flags(
        result_kind=procedure.result_kind,
        electronic_result=get(dossier, "electronic_result"),
        components=[{flag: get(c, flag) for flag in index766.COMPONENT_FLAGS} for c in components],
        vneid_verified=get(dossier, "vneid_verified"),
        population_ref=get(dossier, "population_ref"),
        fees=[{k: get(f, k) for k in ("amount_vnd", "payment_channel", "paid_at")} for f in fees],
    )
    if not components:
        flags |= kept & index766.COMPONENT_BITS
    if not fees:
        flags |= kept & index766.FEE_BITS
    if procedure.result_kind is None:
        flags |= kept & index766.RESULT_KIND_BITS
    return flags


def _event_row(**columns) -> InsertedRow:
    """A new event's columns, every column of the table named (one INSERT shape for all events)."""
    return InsertedRow(
        **{
            "dossier_id": None,
            "from_agency_id": None,
            "to_agency_id": None,
            "reason": None,
            "result": None,
            "new_due_at": None,
            "payload": None,
            "idempotency_key": None,
            "backdate_reason": None,
            "apology_late": False,
            **columns,
        }
    )


# --- events --------------------------------------------------------------------------------------


def record(
    session: Session,
    *,
    code: str,
    data: EventCreate,
    actor: str,
    calendar_for: CalendarFor,
    now: datetime,
    idempotency_key: str | None = None,
    authorize: Callable[[Dossier, EventCreate], None] | None = None,
    may_backdate: bool = False,
    rules: TimeRules = DEFAULT_TIME_RULES,
) -> Dossier:
    """Append one event after checking it against the state machine and the clock, then re-derive.

    `authorize(dossier, data)` may refuse (raise) once the dossier is locked. `may_backdate`
    (the user is a manager or an administrator) and `rules`: the event time policy, docs/event-time.md.
    """
    return append_event(
        session,
        code=code,
        data=data,
        actor=actor,
        calendar_for=calendar_for,
        now=now,
        idempotency_key=idempotency_key,
        authorize=authorize,
        may_backdate=may_backdate,
        rules=rules,
    ).dossier


def append_event(
    session: Session,
    *,
    code: str,
    data: EventCreate,
    actor: str,
    calendar_for: CalendarFor,
    now: datetime,
    idempotency_key: str | None = None,
    authorize: Callable[[Dossier, EventCreate], None] | None = None,
    may_backdate: bool = False,
    rules: TimeRules = DEFAULT_TIME_RULES,
) -> Written:
    """:func:`record`, returning what it wrote (enough for :func:`view` to answer without reading back)."""
    locked = session.execute(_LOCKED_DOSSIER_AND_PROCEDURE, {"code": code}).one_or_none()
    if locked is None:
        raise _no_dossier(code)
    dossier, procedure = locked
    if authorize is not None:
        authorize(dossier, data)
    # read-only here: plain rows cost a fraction of table-model objects
    events = list(session.connection().execute(_EVENT_ROWS, {"dossier_id": dossier.id}))
    at = data.at or now
    _check_not_future(at, now, "the event time")
    if events and at < events[-1].at:
        raise InvalidInput(
            f"the event time {local_minute(at)} is before the previous event ({events[-1].type} at "
            f"{local_minute(events[-1].at)}); events are recorded in time order",
            message_id="event_before_previous",
            instant=local_minute(at),
            previous=local_minute(events[-1].at),
        )
    backdate_reason = _backdate_reason(
        at, now, "the event time", data.backdate_reason, may_backdate=may_backdate, rules=rules
    )
    _check_event_fields(data)
    named = {dossier.receiving_agency_id, dossier.current_agency_id}
    named |= {i for e in events for i in (e.agency_id, e.from_agency_id, e.to_agency_id)}
    codes = _agencies(session, named, {data.from_agency, data.to_agency})
    if data.to_agency and not get_agency(session, data.to_agency).active:
        raise InvalidInput(
            f"agency {data.to_agency} is inactive: forward to an active agency (GET /api/v1/agencies)",
            message_id="agency_inactive",
            agency=data.to_agency,
        )
    ids = {agency_code: agency_id for agency_id, agency_code in codes.items()}
    acting = ids.get(data.from_agency) or dossier.current_agency_id or dossier.receiving_agency_id
    to_agency = ids.get(data.to_agency)
    if data.type == HAND_BACK:
        acting, to_agency = _hand_back_agencies(dossier, data, ids, codes)
    event = _event_row(
        dossier_id=dossier.id,
        seq=len(events) + 1,
        type=data.type,
        at=at,
        recorded_at=now,
        actor=actor,
        agency_id=acting,
        from_agency_id=acting if data.type in ("forwarded", HAND_BACK) else None,
        to_agency_id=to_agency,
        reason=data.reason,
        result=data.result,
        new_due_at=data.new_due_at,
        idempotency_key=idempotency_key,
        backdate_reason=backdate_reason,
    )
    events.append(event)
    calendar = calendar_for(codes[dossier.receiving_agency_id])
    rule = rule_for(session, procedure)
    derivation = derive(session, dossier, events, calendar, rule=rule, codes=codes, checked_from=len(events) - 1)
    if data.type == "apology_issued":
        event.apology_late = _check_apology(event, dossier.due_at, derivation.state, rule, calendar, now, rules)
    if data.type == "received" and dossier.received_at is None:
        dossier.received_at = at
    session.connection().execute(_INSERT_EVENT, vars(event))
    dossier.event_count = event.seq
    stages = apply_derivation(session, dossier, derivation, calendar)
    note_changes(session, [dossier.id], "event")
    received = list(session.connection().execute(_COMPONENTS_OF, {"dossier_id": dossier.id}))
    fees = list(session.connection().execute(_FEES_OF, {"dossier_id": dossier.id}))
    if data.fees:
        added = _fee_rows(data.fees, now, first_seq=len(fees) + 1)
        session.connection().execute(_INSERT_FEES, [{"dossier_id": dossier.id, **row} for row in added])
        fees = list(session.connection().execute(_FEES_OF, {"dossier_id": dossier.id}))
    if data.electronic_result is not None:
        dossier.electronic_result = data.electronic_result
    dossier.index_flags = _index_flags(dossier, procedure, received, fees, kept=dossier.index_flags)
    return Written(
        dossier, procedure, events, stages, codes, calendar, received, listed_components(session, procedure), fees
    )


def _check_apology(
    event: InsertedRow,
    due_before: datetime,
    state: ClockState,
    rule: ProcedureRule,
    calendar: WorkingCalendar,
    now: datetime,
    rules: TimeRules,
) -> bool:
    """Hold an apology's new due within the procedure's own allotment after the original due; whether it is late.

    The replay has checked that the new due is after the current one and that the apology is dated at
    least one working day before it. Late: recorded (server clock) less than one working day before the
    due it moves (a back-dated apology), counted in the period report (`apologies_late`).
    """
    allotment = rule_total_minutes(rule, calendar.minutes_per_day)
    if allotment and state.original_due_at is not None:
        extension = round(rules.apology_max_extension * allotment)
        limit = calendar.shift(state.original_due_at, extension)
        if event.new_due_at > limit:
            raise InvalidInput(
                f"the new appointment {local_minute(event.new_due_at)} is too far: an apology moves the due at most "
                f"{extension / calendar.minutes_per_day:g} working days (the procedure's own time"
                f"{'' if rules.apology_max_extension == 1 else f' × {rules.apology_max_extension:g}'}) after the "
                f"original due {local_minute(state.original_due_at)}, so at the latest {local_minute(limit)}",
                message_id="apology_too_far",
                latest=local_minute(limit),
            )
    recorded = now if rules.backdate_grace is not None else event.at  # history: as if recorded when dated
    return due_before is not None and calendar.minutes_between(recorded, due_before) < calendar.minutes_per_day


def _hand_back_agencies(dossier: Dossier, data: EventCreate, ids: dict, codes: dict) -> tuple[int, int]:
    """(from, to) of a hand-back: the agency holding the resolved dossier sends its result to the receiving desk.

    Naming another sender or another destination is refused; whether the result is away from the desk at
    all is the state machine's (a 409 from the replay)."""
    holding = dossier.current_agency_id or dossier.receiving_agency_id
    desk = dossier.receiving_agency_id
    if data.from_agency is not None and ids[data.from_agency] != holding:
        raise InvalidInput(
            f"the result is sent back by the agency holding it ({codes[holding]}), not {data.from_agency}: "
            "leave from_agency out or name that agency",
            message_id="hand_back_sender",
            agency=data.from_agency,
            holder=codes[holding],
        )
    if data.to_agency is not None and ids[data.to_agency] != desk:
        raise InvalidInput(
            f"the result goes back to the desk that received the dossier ({codes[desk]}), not {data.to_agency}: "
            "leave to_agency out or name that agency",
            message_id="hand_back_desk",
            agency=data.to_agency,
            desk=codes[desk],
        )
    return holding, desk


def _check_event_fields(data: EventCreate) -> None:
    if data.type == "forwarded" and not data.to_agency:
        raise InvalidInput(
            "a forwarded event needs to_agency: the e-ID code of the agency it goes to",
            message_id="forward_needs_agency",
        )
    if data.type not in ("forwarded", HAND_BACK) and data.to_agency:
        raise InvalidInput(f"to_agency is only for forwarded and result_sent_to_desk events, not {data.type}")
    if data.type == "apology_issued" and (data.new_due_at is None or not data.reason):
        raise InvalidInput(
            "an apology (form 04) needs new_due_at (the new appointment) and a reason",
            message_id="apology_needs_fields",
        )
    if data.type != "apology_issued" and data.new_due_at is not None:
        raise InvalidInput(f"new_due_at is only for apology_issued events, not {data.type}")
    if data.electronic_result is not None and data.type not in ("resolved", "result_returned"):
        raise InvalidInput(
            f"electronic_result is recorded with a resolved or result_returned event, not {data.type}",
            message_id="electronic_result_event",
        )
    if data.type == "supplement_requested" and not data.reason:
        raise InvalidInput(
            "a supplement request needs a reason: what is missing, told once and completely",
            message_id="supplement_needs_reason",
        )


# --- reading shapes ------------------------------------------------------------------------------


def _summary_fields(dossier: Dossier, codes: dict[int, str]) -> dict:
    return {
        "code": dossier.code,
        "procedure_code": dossier.procedure_code,
        "receiving_agency_code": codes[dossier.receiving_agency_id],
        "current_agency_code": codes.get(dossier.current_agency_id),
        "channel": dossier.channel,
        "channel_code": CHANNEL_CODES[dossier.channel],
        "applicant_name": dossier.applicant_name,
        "status": dossier.status,
        "status_code": dossier.status_code,
        "submitted_at": dossier.submitted_at,
        "received_at": dossier.received_at,
        "original_due_at": dossier.original_due_at,
        "rescheduled_due_at": dossier.rescheduled_due_at,
        "due_at": dossier.due_at,
        "finished_at": dossier.finished_at,
        "outcome": dossier.outcome,
        "supplement_count": dossier.supplement_count,
    }


def read(session: Session, dossier: Dossier, *, calendar_for: CalendarFor, now: datetime) -> DossierRead:
    """The dossier with its timeline, stages and clock (elapsed, remaining, paused) as of `now`."""
    return view(load(session, dossier, calendar_for=calendar_for), now=now)


def load(session: Session, dossier: Dossier, *, calendar_for: CalendarFor) -> Written:
    """What :func:`view` needs of a stored dossier."""
    events = events_of(session, dossier.id)
    stages = list(session.execute(_STAGES_OF, {"dossier_id": dossier.id}).scalars())
    ids = {dossier.receiving_agency_id, dossier.current_agency_id}
    ids |= {i for e in events for i in (e.agency_id, e.from_agency_id, e.to_agency_id)}
    ids |= {s.agency_id for s in stages}
    codes = _agency_codes(session, ids)
    procedure = session.get(Procedure, dossier.procedure_id)
    received = list(session.connection().execute(_COMPONENTS_OF, {"dossier_id": dossier.id}))
    fees = list(session.connection().execute(_FEES_OF, {"dossier_id": dossier.id}))
    return Written(
        dossier,
        procedure,
        events,
        stages,
        codes,
        calendar_for(codes[dossier.receiving_agency_id]),
        received,
        listed_components(session, procedure),
        fees,
    )


def clock_figures(
    dossier: Dossier | InsertedRow, calendar: WorkingCalendar, now: datetime, events: Sequence = ()
) -> dict[str, Any]:
    """The clock as shown (docs/event-time.md): the same rules as the overdue queue and the period report.

    While the clock stands still (status 5, 6) every figure is taken at the instant it stopped
    (`paused_since`): the working time used up to the pause, the time then left before the due. A
    dossier is `overdue` when it is open and its ORIGINAL due date is before today (local dates, as
    domain §5 counts); while paused, only if it was already past that due when the pause began.
    A row written without its stop (`clock_stopped_since` NULL: bulk-loaded before it was derived)
    shows the latest stopping event of `events` as its pause and, as the report counts it, no overdue.
    """
    figures = {
        "paused_since": None,
        "elapsed_working_minutes": None,
        "remaining_working_minutes": None,
        "overdue": False,
        "overdue_working_minutes": None,
    }
    if dossier.clock_start_at is None:
        return figures
    open_ = dossier.finished_at is None
    paused = open_ and dossier.status_code in CLOCK_STOPPED_STATUSES
    stopped = dossier.clock_stopped_since if paused else None
    known = stopped is not None or not paused  # whether the stop is known (else: not counted overdue)
    if paused and stopped is None:
        stopped = max((e.at for e in events if e.type in ("supplement_requested", "paused")), default=None)
    figures["paused_since"] = stopped
    end = dossier.finished_at or stopped or now
    worked = calendar.minutes_between(dossier.clock_start_at, end) if end > dossier.clock_start_at else 0
    figures["elapsed_working_minutes"] = max(worked - dossier.paused_minutes, 0)
    if not open_ or dossier.due_at is None:
        return figures
    clock = stopped or now  # the instant the figures are read at: now, or the pause
    due = dossier.due_at
    figures["remaining_working_minutes"] = (
        calendar.minutes_between(clock, due) if clock < due else -calendar.minutes_between(due, clock)
    )
    original = dossier.original_due_at
    if original is not None and known and (stopped is None or original < stopped):
        today = now.astimezone(LOCAL_TZ).date()
        if original.astimezone(LOCAL_TZ).date() < today:
            figures["overdue"] = True
            figures["overdue_working_minutes"] = calendar.minutes_between(original, clock)
    return figures


def view(written: Written, *, now: datetime) -> DossierRead:
    """The read shape of a dossier (see :func:`read`), from what a write or :func:`load` holds."""
    dossier, procedure, calendar = written.dossier, written.procedure, written.calendar
    events, stages, codes = written.events, written.stages, written.codes
    apology = any(e.type == "apology_issued" for e in events)
    return DossierRead(
        **_summary_fields(dossier, codes),
        procedure_name=procedure.name,
        procedure_name_en=procedure.name_en,
        procedure_version_from=procedure.effective_from.isoformat(),
        applicant=ApplicantRead(
            name=dossier.applicant_name,
            id_number=dossier.applicant_id_number,
            phone=dossier.applicant_phone,
            address=dossier.applicant_address,
            email=dossier.applicant_email,
            contact_consent=dossier.contact_consent,
            preferred_channel=dossier.preferred_channel,
        ),
        clock_start_at=dossier.clock_start_at,
        paused_minutes=dossier.paused_minutes,
        apology_issued=apology,
        **clock_figures(dossier, calendar, now, events),
        components=[
            ReceivedComponentRead(
                seq=c.seq,
                component_seq=c.component_seq,
                name=c.name,
                form=c.form,
                copies=c.copies,
                **{flag: getattr(c, flag, None) for flag in index766.COMPONENT_FLAGS},
            )
            for c in written.components
        ],
        missing_components=missing_components(written.listed_components, written.components),
        fees=[
            FeeRead(
                seq=f.seq, name=f.name, amount_vnd=f.amount_vnd, payment_channel=f.payment_channel, paid_at=f.paid_at
            )
            for f in written.fees
        ],
        electronic_result=getattr(dossier, "electronic_result", None),
        vneid_verified=getattr(dossier, "vneid_verified", None),
        population_ref=getattr(dossier, "population_ref", None),
        result_kind=procedure.result_kind,
        late_stages=[s.seq for s in stages if s.outcome == "late"],
        allowed_events=list(next_events(dossier, apology_issued=apology)),
        stages=[
            StageRead(
                seq=s.seq,
                agency_code=codes.get(s.agency_id),
                name=s.name,
                step_seq=s.step_seq,
                started_at=s.started_at,
                allotment_minutes=s.allotment_minutes,
                due_at=s.due_at,
                ended_at=s.ended_at,
                outcome=s.outcome,
                overrun_minutes=s.overrun_minutes,
                excluded=s.excluded,
            )
            for s in stages
        ],
        timeline=[
            EventRead(
                seq=e.seq,
                type=e.type,
                at=e.at,
                recorded_at=e.recorded_at,
                actor=e.actor,
                agency_code=codes.get(e.agency_id),
                from_agency_code=codes.get(e.from_agency_id),
                to_agency_code=codes.get(e.to_agency_id),
                reason=e.reason,
                result=e.result,
                new_due_at=e.new_due_at,
                backdated=e.backdate_reason is not None,
                backdate_reason=e.backdate_reason,
                apology_late=e.apology_late,
            )
            for e in events
        ],
    )


SEARCH_TOTAL_CAP = 10_000
"""A search counts its matches up to this many; past it the total reads "more than 10,000" (`Found.capped`)."""
_CODE_SHAPE = re.compile(r"\S+-\d{6}-\d+")  # `{agency code}-{yymmdd}-{sequence}`, as `_allocate_code` makes them
_FEW = 1_000  # matches counted: fewer than this are read by their own index (phone, name), not agency by agency
_NUMBER_SHAPE = re.compile(r"\+?[\d .]{3,}")  # a phone or identity number, whole or its first digits


class Found(NamedTuple):
    """One page of a search, and how many dossiers match (at most `SEARCH_TOTAL_CAP`, then `capped`)."""

    items: list[DossierSummary]
    total: int
    capped: bool


@dataclass(frozen=True)
class SearchTerms:
    """What a search box's text asks for: an exact code, the first digits of a phone or identity number, or words
    (of the applicant's name, accents and case ignored, in any order). Full-width digits count as digits."""

    code: str | None = None
    number: str | None = None
    words: tuple[str, ...] = ()

    @classmethod
    def of(cls, text: str | None) -> "SearchTerms":
        text = " ".join(unicodedata.normalize("NFKC", text or "").split())
        if not text:
            return cls()
        if _CODE_SHAPE.fullmatch(text):
            return cls(code=text)
        if _NUMBER_SHAPE.fullmatch(text) and sum(ch.isdigit() for ch in text) >= 3:
            return cls(number=_digits(text))
        return cls(words=tuple(fold(text).split()))


def _digits(text: str) -> str:
    """'+84 912.345' → '+84912345': the digits as stored (a leading + kept)."""
    text = unicodedata.normalize("NFKC", text).strip()
    return ("+" if text.startswith("+") else "") + "".join(ch for ch in text if ch.isdigit())


def search(
    session: Session,
    *,
    agency: str | None = None,
    status: int | None = None,
    procedure: str | None = None,
    field: str | None = None,
    received_from: datetime | None = None,
    received_to: datetime | None = None,
    q: str | None = None,
    code: str | None = None,
    name: str | None = None,
    phone: str | None = None,
    id_number: str | None = None,
    within: Collection[int] | None = None,
    page: int = 1,
    page_size: int = 20,
) -> Found:
    """Dossiers received at (or held by) an agency, newest first; with `within`, only those received at or
    held by one of these agencies (a user's scope). `q` is a search box's text (`SearchTerms`); `code` an exact
    code (case ignored); `name` words of the applicant's name; `phone` and `id_number` their first digits or all
    of them; `procedure` and `field` a code or words of the name. Name words are whole words: one or two find
    every name holding them; three or more are a whole name, the applicants named exactly so in any order
    (dossiers/names.py): 'Nguyễn Văn Anh' does not list 'Nguyễn Văn Anh Tuấn', 'văn anh' does.

    Built for a city of millions (bench/bench_search.py): an exact code is one index lookup; otherwise every
    agency of the scope is read newest first along its own index, as the receiving agency and as the holder,
    and the branches merged (each stops after one page); a whole name reads one range of the name key's index, a
    word or two the word index (PostgreSQL), read once and sorted; the total is counted up to `SEARCH_TOTAL_CAP` only."""
    terms = SearchTerms.of(q)
    code = code.strip() if code and code.strip() else terms.code
    conditions = []
    if status is not None:
        conditions.append(Dossier.status_code == status)
    if received_from:
        conditions.append(Dossier.received_at >= received_from)
    if received_to:
        conditions.append(Dossier.received_at < received_to)
    for ids in (
        procedure_ids_named(session, procedure) if procedure else None,
        procedure_ids_in_fields(session, field) if field else None,
    ):
        if ids is not None:
            if not ids:
                return Found([], 0, False)
            conditions.append(Dossier.procedure_id.in_(ids))
    words = (*terms.words, *fold(name or "").split())
    name_words = [word for word in words if word.isalpha()]
    if len(name_words) >= WHOLE_NAME_WORDS:  # a whole name: one range of the name key's ordered index
        conditions.append(func.motcua_name_key(Dossier.search_text) == key_of_words(name_words))
    elif name_words:
        conditions.append(_name_has_words(session, sorted(set(name_words))))
    for word in words:
        if not word.isalpha():  # a part of a code, a date: any part of the search text
            conditions.append(Dossier.search_text.contains(word, autoescape=True))
    if terms.number:
        conditions.append(
            or_(Dossier.applicant_phone.startswith(terms.number), Dossier.applicant_id_number.startswith(terms.number))
        )
    if phone and (digits := _digits(phone)):
        conditions.append(Dossier.applicant_phone.startswith(digits))
    if id_number and (digits := _digits(id_number)):
        conditions.append(Dossier.applicant_id_number.startswith(digits))

    holders = _holders(session, agency, within)
    if code:
        rows = _by_code(session, code, holders, conditions)
        if rows or terms.code is None or q is None:
            return _found(session, rows, len(rows), False)
        conditions.append(Dossier.search_text.contains(fold(code), autoescape=True))  # not a code after all
    total, capped = _capped_total(session, holders, conditions)
    if not total:
        return Found([], 0, False)
    if total <= _FEW or (name_words and not capped):
        # a selective search (a phone, a name): its rows straight off its own index, sorted (a name's words are
        # one index for the whole city: reading it once beats reading it again in every agency's branch)
        rows = _few_newest(session, holders, conditions, page=page, page_size=page_size)
    else:
        rows = _newest(session, holders, conditions, page=page, page_size=page_size)
    return _found(session, rows, total, capped)


NAME_PART = "substr(search_text, strpos(search_text, ' ') + 1)"
"""The search text after the code: the folded applicant name (then the phone and identity number, digits only)."""
NAME_WORDS_INDEXED = f"to_tsvector('simple'::regconfig, {NAME_PART})"
"""PostgreSQL's word index on the name (ix_dossier_name_words, migration 0023); the query must spell it alike."""


def _name_has_words(session: Session, words: Sequence[str]):
    """The applicant's name holds each of these whole words (folded, letters only), in any order: a word of the
    name, not a part of one ('anh' finds 'Nguyễn Văn Anh', not 'Trần Thanh'). On PostgreSQL the posting lists of
    the word index intersect (the rarest word leads), so a common full name is a few thousand rows, not the
    millions a trigram of 'nguyen' holds; elsewhere each word is looked for between spaces."""
    if session.get_bind().dialect.name == "postgresql":
        query = " & ".join(words)  # letters only: nothing to quote in a tsquery
        return text(f"{NAME_WORDS_INDEXED} @@ to_tsquery('simple'::regconfig, :name_words)").bindparams(
            name_words=query
        )
    padded = literal(" ") + func.substr(Dossier.search_text, func.instr(Dossier.search_text, " ") + 1) + literal(" ")
    return and_(*(padded.contains(f" {word} ", autoescape=True) for word in words))


def _holders(session: Session, agency: str | None, within: Collection[int] | None) -> list[int] | None:
    """The agencies whose dossiers (received or held) are searched; None: every dossier."""
    if agency:
        return [get_agency(session, agency).id]
    return None if within is None else sorted(within)


def _scope_branches(holders: list[int] | None, session: Session) -> list:
    """The searched dossiers as disjoint conditions, each served by an index ordered by `received_at`: received
    at agency A (ix_dossier_report, whose prefix is the receiving agency and received_at: a second index
    there made PostgreSQL leave the report's index-only scan), or held by A and received outside the scope
    (ix_dossier_holder_received, which holds only the dossiers held elsewhere than where they were received)."""
    if holders is None:  # every dossier has a receiving agency: the newest of each, merged
        return [Dossier.receiving_agency_id == agency_id for agency_id in sorted(agency_tree(session).by_id)]
    return [Dossier.receiving_agency_id == agency_id for agency_id in holders] + [
        (Dossier.current_agency_id == agency_id) & _held_elsewhere(holders) for agency_id in holders
    ]


def _held_elsewhere(holders: list[int]):
    """Held by another agency than the receiving one (ix_dossier_holder_received's rows), received outside `holders`."""
    return (Dossier.current_agency_id != Dossier.receiving_agency_id) & Dossier.receiving_agency_id.not_in(holders)


def _by_code(session: Session, code: str, holders: list[int] | None, conditions: list) -> list[Dossier]:
    query = select(Dossier).where(func.lower(Dossier.code) == code.lower(), *conditions)
    if holders is not None:
        query = query.where(or_(Dossier.receiving_agency_id.in_(holders), Dossier.current_agency_id.in_(holders)))
    return list(session.execute(query).scalars())


def _capped_total(session: Session, holders: list[int] | None, conditions: list) -> tuple[int, bool]:
    """How many dossiers match, counted up to `SEARCH_TOTAL_CAP` + 1: (total, whether there are more)."""
    limit = SEARCH_TOTAL_CAP + 1
    if holders is None:
        branches = [select(literal(1)).select_from(Dossier).where(*conditions).limit(limit)]
    else:
        branches = [
            select(literal(1))
            .select_from(Dossier)
            .where(Dossier.receiving_agency_id.in_(holders), *conditions)
            .limit(limit),
            select(literal(1))
            .select_from(Dossier)
            .where(Dossier.current_agency_id.in_(holders), _held_elsewhere(holders), *conditions)
            .limit(limit),
        ]
    total = sum(session.execute(select(func.count()).select_from(b.subquery())).scalar_one() for b in branches)
    return (SEARCH_TOTAL_CAP, True) if total > SEARCH_TOTAL_CAP else (total, False)


def _few_newest(session: Session, holders: list[int] | None, conditions: list, *, page: int, page_size: int) -> list:
    query = select(Dossier).where(*conditions)
    if holders is not None:
        query = query.where(or_(Dossier.receiving_agency_id.in_(holders), Dossier.current_agency_id.in_(holders)))
    query = query.order_by(Dossier.received_at.desc(), Dossier.id.desc()).offset((page - 1) * page_size)
    return list(session.execute(query.limit(page_size)).scalars())


def _newest(session: Session, holders: list[int] | None, conditions: list, *, page: int, page_size: int) -> list:
    """One page, newest first: each scope branch read along its index up to the page's end, then merged."""
    depth = page * page_size
    order = (Dossier.received_at.desc(), Dossier.id.desc())
    branches = [
        select(Dossier.id, Dossier.received_at).where(scope, *conditions).order_by(*order).limit(depth).subquery()
        for scope in _scope_branches(holders, session)
    ]
    merged = union_all(*(select(b.c.id, b.c.received_at) for b in branches)).subquery()
    page_ids = (
        select(merged.c.id)
        .order_by(merged.c.received_at.desc(), merged.c.id.desc())
        .offset(depth - page_size)
        .limit(page_size)
    )
    rows = session.execute(select(Dossier).where(Dossier.id.in_(page_ids.scalar_subquery()))).scalars()
    return sorted(rows, key=lambda d: (d.received_at is not None, d.received_at or d.derived_at, d.id), reverse=True)


def _found(session: Session, rows: list[Dossier], total: int, capped: bool) -> Found:
    codes = _agency_codes(session, {i for d in rows for i in (d.receiving_agency_id, d.current_agency_id)})
    names = {
        row.id: row
        for row in session.execute(
            select(Procedure.id, Procedure.name, Procedure.name_en).where(
                Procedure.id.in_({d.procedure_id for d in rows})
            )
        )
    }  # the versions the page's dossiers were received under
    items = [
        DossierSummary(
            **_summary_fields(d, codes),
            procedure_name=names[d.procedure_id].name,
            procedure_name_en=names[d.procedure_id].name_en,
        )
        for d in rows
    ]
    return Found(items, total, capped)


# --- many new dossiers at once (the history import, exchange/history.py) ---------------------------


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
    v = columns.values
    dossiers = [batch[i] for i in rows.tolist()]
    derived = {
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
        "derived_at": (_INSTANT, np.full(rows.size, micros_of(derived_at))),
    }
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
