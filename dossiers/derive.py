"""The clock of one dossier: replay its events (`derive`, the one function every writer uses) and write what the
replay decides, its derived columns and stages (`apply_derivation`), with a row in the change outbox
(`note_changes`). Many dossiers at once: dossiers/rebuild.py, the same semantics in bulk."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert
from sqlmodel import Session

from dossiers.models import Dossier, DossierChange, DossierEvent, Stage
from dossiers.reading import VERSIONS_KEPT, InsertedRow, agency_codes
from kernel.db import utc_now
from kernel.errors import as_domain_error, translated_errors
from procedures.models import Procedure
from procedures.service import procedure_rule, steps_of
from sla.core.calendar import RESOLVED_OUTCOMES, WorkingCalendar
from sla.core.lifecycle import STATUS_NAMES
from sla.core.replay import ClockState, Event, ProcedureRule, replay

_DELETE_STAGES = delete(Stage).where(Stage.dossier_id == bindparam("dossier_id"))
_INSERT_STAGES = insert(Stage)
_INSERT_CHANGE = insert(DossierChange)


def note_changes(session: Session, dossier_ids: Sequence[int], kind: str) -> None:
    """The outbox (`dossier_change`): one row per changed dossier, in the writer's transaction. Every writer of a
    dossier's events or derived columns calls this (intake, events, rebuild); the national exchange reads it."""
    if dossier_ids:
        row = change_row(kind)
        session.connection().execute(_INSERT_CHANGE, [{"dossier_id": i, **row} for i in dossier_ids])


def change_row(kind: str) -> dict:
    """An outbox row but its dossier_id."""
    return {"kind": kind, "recorded_at": utc_now()}


@dataclass
class Derivation:
    """A dossier's replayed state, with what its writers need."""

    state: ClockState
    agency_ids: dict[str, int]


def clock_events(events: Sequence[DossierEvent], codes: dict[int, str]) -> list[Event]:
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
            if len(_rules) >= VERSIONS_KEPT:
                _rules.clear()
            _rules[key] = rule
    return rule


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
        codes = agency_codes(session, ids)
    try:
        state = replay(
            rule,
            calendar,
            clock_events(events, codes),
            receiving_agency_code=codes[dossier.receiving_agency_id],
            checked_from=checked_from,
        )
    except translated_errors() as exc:  # the core's refusals (a transition, an event order, a calendar year)
        raise as_domain_error(exc) from exc
    return Derivation(state, {code: agency_id for agency_id, code in codes.items()})


def apply_derivation(
    session: Session, dossier: Dossier, derivation: Derivation, calendar: WorkingCalendar
) -> list[InsertedRow]:
    """Write the derived columns and stages of a dossier from its replayed state; returns the stage rows."""
    _set_derived_columns(dossier, derivation, calendar)
    session.add(dossier)
    session.connection().execute(_DELETE_STAGES, {"dossier_id": dossier.id})  # plain: no ORM bulk-delete machinery
    stages = add_stages(session, dossier, derivation)
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


def stage_rows(dossier_id: int | None, derivation: Derivation) -> list[dict[str, Any]]:
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


def add_stages(session: Session, dossier: Dossier, derivation: Derivation) -> list[InsertedRow]:
    """Insert the stage rows of a (flushed) dossier in one statement; a Stage object each would cost more."""
    rows = stage_rows(dossier.id, derivation)
    if rows:
        session.connection().execute(_INSERT_STAGES, rows)
    return [InsertedRow(**row) for row in rows]
