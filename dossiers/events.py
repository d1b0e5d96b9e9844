"""Events: `record` appends one event to a dossier's log after checking it against the state machine, the clock and
the event time policy, then re-derives the dossier by replaying its log.

Services add and flush; the caller's unit of work commits once (or rolls back: nothing half-written).
"""

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import bindparam, insert, select
from sqlmodel import Session

from dossiers.derive import apply_derivation, derive, note_changes, rule_for
from dossiers.intake import (
    DEFAULT_TIME_RULES,
    TimeRules,
    backdate_reason_for,
    check_not_future,
    event_row,
    fee_line_rows,
    index_flags,
)
from dossiers.models import Dossier, DossierEvent, DossierFee
from dossiers.reading import (
    InsertedRow,
    Written,
    agency_codes,
    components_received,
    fee_lines,
    listed_components,
    no_dossier,
)
from dossiers.schemas import EventCreate
from kernel.errors import InvalidInput
from kernel.localtime import local_minute
from procedures.models import Procedure
from procedures.service import agency_tree, get_agency
from sla.core.calendar import CalendarFor, WorkingCalendar
from sla.core.lifecycle import HAND_BACK
from sla.core.replay import ClockState, ProcedureRule, rule_total_minutes

# built once (bench/README.md, section "Intake")
_INSERT_EVENT = insert(DossierEvent)
_INSERT_FEES = insert(DossierFee)
_LOCKED_DOSSIER_AND_PROCEDURE = (
    select(Dossier, Procedure)
    .join(Procedure, Procedure.id == Dossier.procedure_id)
    .where(Dossier.code == bindparam("code"))
    .with_for_update(of=Dossier)
)
_EVENT_ROWS = (
    select(*DossierEvent.__table__.columns)
    .where(DossierEvent.dossier_id == bindparam("dossier_id"))
    .order_by(DossierEvent.seq)
)


def _agencies(session: Session, ids: set[int | None], codes: set[str | None]) -> dict[int, str]:
    """`agency_codes(ids)` and the agencies of `codes`; NotFound names an unknown code."""
    tree = agency_tree(session)
    found = agency_codes(session, ids)
    for code in sorted(codes - {None}):
        agency = tree.get(code)
        found[agency.id] = agency.code
    return found


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
) -> Written:
    """Append one event after checking it against the state machine and the clock, then re-derive; returns what
    it wrote (enough for :func:`view` to answer without reading back).

    `authorize(dossier, data)` may refuse (raise) once the dossier is locked. `may_backdate`
    (the user is a manager or an administrator) and `rules`: the event time policy, docs/event-time.md.
    """
    locked = session.execute(_LOCKED_DOSSIER_AND_PROCEDURE, {"code": code}).one_or_none()
    if locked is None:
        raise no_dossier(code)
    dossier, procedure = locked
    if authorize is not None:
        authorize(dossier, data)
    # read-only here: plain rows cost a fraction of table-model objects
    events = list(session.connection().execute(_EVENT_ROWS, {"dossier_id": dossier.id}))
    at = data.at or now
    check_not_future(at, now, "the event time")
    if events and at < events[-1].at:
        raise InvalidInput(
            f"the event time {local_minute(at)} is before the previous event ({events[-1].type} at "
            f"{local_minute(events[-1].at)}); events are recorded in time order",
            message_id="event_before_previous",
            instant=local_minute(at),
            previous=local_minute(events[-1].at),
        )
    backdate_reason = backdate_reason_for(
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
    event = event_row(
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
    received = components_received(session, dossier.id)
    fees = fee_lines(session, dossier.id)
    if data.fees:
        added = fee_line_rows(data.fees, now, first_seq=len(fees) + 1)
        session.connection().execute(_INSERT_FEES, [{"dossier_id": dossier.id, **row} for row in added])
        fees = fee_lines(session, dossier.id)
    if data.electronic_result is not None:
        dossier.electronic_result = data.electronic_result
    dossier.index_flags = index_flags(dossier, procedure, received, fees, kept=dossier.index_flags)
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


REQUIRED_FIELDS = {
    "forwarded": ("to_agency",),
    "supplement_requested": ("reason",),
    "apology_issued": ("reason", "new_due_at"),
}
"""The fields an event cannot go without: `record` refuses it, the dossier page marks them required."""


def _lacks_required(data: EventCreate) -> bool:
    return any(getattr(data, name) in (None, "") for name in REQUIRED_FIELDS.get(data.type, ()))


def _check_event_fields(data: EventCreate) -> None:
    if data.type == "forwarded" and _lacks_required(data):
        raise InvalidInput(
            "a forwarded event needs to_agency: the e-ID code of the agency it goes to",
            message_id="forward_needs_agency",
        )
    if data.type not in ("forwarded", HAND_BACK) and data.to_agency:
        raise InvalidInput(f"to_agency is only for forwarded and result_sent_to_desk events, not {data.type}")
    if data.type == "apology_issued" and _lacks_required(data):
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
    if data.type == "supplement_requested" and _lacks_required(data):
        raise InvalidInput(
            "a supplement request needs a reason: what is missing, told once and completely",
            message_id="supplement_needs_reason",
        )
