"""Intake at a one-stop desk (or an online submission): `receive` writes the dossier, its code, its first event and
its due at once. The event time policy (`TimeRules`, docs/event-time.md) and the new rows' shapes are shared
with the events (dossiers/events.py).

Services add and flush; the caller's unit of work commits once (or rolls back: nothing half-written).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from dossiers.derive import change_row, derive, derived_columns, rule_for, stage_rows
from dossiers.models import (
    Dossier,
    DossierChange,
    DossierCodeCounter,
    DossierComponent,
    DossierEvent,
    DossierFee,
    Stage,
)
from dossiers.reading import InsertedRow, Written, listed_components
from dossiers.schemas import DossierCreate, FeeIn, ReceivedComponent
from kernel.db import insert_with_children
from kernel.errors import Forbidden, InvalidInput
from kernel.localtime import local_minute
from procedures.models import Procedure
from procedures.schemas import ComponentRead, component_key
from procedures.service import fold, get_agency, procedure_in_force
from sla.core import index766
from sla.core.calendar import LOCAL_TZ, CalendarFor

CLOCK_SKEW = timedelta(minutes=5)


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

_NEXT_SEQUENCE = {
    name: dialect.insert(DossierCodeCounter)
    .values(agency_id=bindparam("agency_id"), day=bindparam("day"), last_seq=1)
    .on_conflict_do_update(index_elements=["agency_id", "day"], set_={"last_seq": DossierCodeCounter.last_seq + 1})
    .returning(DossierCodeCounter.last_seq)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


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
        if (
            component is not None
            and item.name is not None
            and component_key(item.name) != component_key(component.name)
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


def _next_sequence(session: Session, agency_id: int, day) -> int:
    """The agency's next daily sequence; one row per agency and day, locked until the intake commits."""
    connection = session.connection()
    statement = _NEXT_SEQUENCE[connection.dialect.name]
    return connection.execute(statement, {"agency_id": agency_id, "day": day}).scalar_one()


def _dossier_code(agency_code: str, day, sequence: int) -> str:
    return f"{agency_code}-{day:%y%m%d}-{sequence:04d}"


def check_not_future(instant: datetime, now: datetime, what: str) -> None:
    if instant > now + CLOCK_SKEW:
        raise InvalidInput(
            f"{what} {local_minute(instant)} is in the future (now {local_minute(now)}); "
            "give the instant it happened, at most 5 minutes ahead",
            message_id="future_instant",
            instant=local_minute(instant),
            now=local_minute(now),
        )


def backdate_reason_for(
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
) -> Written:
    """Intake at a one-stop desk (or an online submission): the dossier, its code, its first event, its due; returns
    what it wrote (enough for :func:`view` to answer without reading back).

    The clock is replayed before the first write, so the dossier row goes in with its derived columns.
    `may_backdate` (the user is a manager or an administrator) and `rules`: docs/event-time.md.
    """
    at = data.received_at or now
    check_not_future(at, now, "received_at")
    backdate_reason = backdate_reason_for(
        at, now, "received_at", data.backdate_reason, may_backdate=may_backdate, rules=rules
    )
    agency = get_agency(session, data.agency_code)
    day = at.astimezone(LOCAL_TZ).date()
    procedure = procedure_in_force(session, data.procedure_code, as_of=day)
    listed = listed_components(session, procedure)
    components = received_components(procedure.code, listed, data.components or [])
    calendar = calendar_for(agency.code)
    fees = fee_line_rows(data.fees or [], now, first_seq=1)
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
    columns["index_flags"] = index_flags(columns, procedure, components, fees)
    event = event_row(
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
    rows_of_stages = stage_rows(None, derivation)
    # the dossier, its first event, stages, components, outbox row and fees: one round trip on PostgreSQL
    dossier_id = insert_with_children(
        session.connection(),
        Dossier.__table__,
        values,
        [
            (DossierEvent.__table__, [vars(event)]),
            (Stage.__table__, rows_of_stages),
            (DossierComponent.__table__, components),
            (DossierChange.__table__, [change_row("intake")]),
            (DossierFee.__table__, fees),
        ],
        foreign_key="dossier_id",
    )
    dossier = InsertedRow(id=dossier_id, **values)
    event.dossier_id = dossier_id
    stages = [InsertedRow(**{**row, "dossier_id": dossier_id}) for row in rows_of_stages]
    rows = [InsertedRow(dossier_id=dossier_id, **row) for row in components]
    fee_rows = [InsertedRow(dossier_id=dossier_id, **row) for row in fees]
    return Written(dossier, procedure, [event], stages, codes, calendar, rows, listed, fee_rows)


def fee_line_rows(fees: Sequence[FeeIn], now: datetime, *, first_seq: int) -> list[dict]:
    """Fee lines as rows but their dossier_id; a payment instant in the future is refused."""
    rows = []
    for seq, fee in enumerate(fees, start=first_seq):
        paid_at = fee.paid_at
        if paid_at is not None:
            check_not_future(paid_at, now, f"paid_at of fee line {fee.name!r}")
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


def index_flags(dossier, procedure: Procedure, components: Sequence, fees: Sequence, kept: int = 0) -> int:
    """The dossier's Decision 766 facts as bits (sla.core.index766), from its columns, components and fees.

    A bulk-loaded dossier may carry facts in `index_flags` without their rows (a city generated before the
    generator wrote components and fee lines; the generator's default result kind where the catalogue gives
    none): without rows, the bits of `kept` for them stay as they were."""

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


def event_row(**columns) -> InsertedRow:
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
