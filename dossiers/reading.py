"""Reading a dossier: by its code (within a user's scope), its events, stages, components and fees, and the read
shape every answer and page shows (`view`: the timeline, the stages, the clock as of now). Writers hand
`view` what they wrote (`Written`); a stored dossier is `load`ed first."""

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Row as SqlRow
from sqlalchemy import bindparam, exists, or_, select
from sqlmodel import Session

from dossiers.models import CHANNEL_CODES, Dossier, DossierComponent, DossierEvent, DossierFee, Stage
from dossiers.schemas import ApplicantRead, DossierRead, EventRead, FeeRead, ReceivedComponentRead, StageRead
from kernel.errors import NotFound
from procedures.models import Procedure
from procedures.schemas import ComponentRead
from procedures.service import agency_tree, components_of
from sla.core import index766
from sla.core.calendar import LOCAL_TZ, CalendarFor, WorkingCalendar
from sla.core.lifecycle import CLOCK_STOPPED_STATUSES, Status, allowed_events

# The statements, built once: building a statement and its cache key on every call cost 0.2–0.6 ms of
# CPU, as much as running it (bench/README.md, section "Intake"); so in every module of the package.
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
_EVENTS_OF = select(DossierEvent).where(DossierEvent.dossier_id == bindparam("dossier_id")).order_by(DossierEvent.seq)
_STAGES_OF = select(Stage).where(Stage.dossier_id == bindparam("dossier_id")).order_by(Stage.seq)
_STAGE_AGENCIES_OF = select(Stage.agency_id).where(Stage.dossier_id == bindparam("dossier_id"))
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

VERSIONS_KEPT = 1024
"""How many procedure versions' component lists (here) and clock rules (dossiers/derive.py) a worker keeps."""
_listed: dict[tuple[int, datetime], tuple[ComponentRead, ...]] = {}
"""Component lists by (procedure version id, updated_at), as the clock rules are kept (a rewrite moves updated_at)."""


class InsertedRow(SimpleNamespace):
    """A row written with a plain INSERT (dossiers at intake, events, stages), read like a loaded table model."""


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


def get_dossier(session: Session, code: str, *, lock: bool = False, within: Collection[int] | None = None) -> Dossier:
    """The dossier `code`; with `within`, only if one of these agencies received, holds or held a stage of it,
    else the same NotFound as for an unknown code (after the same one query)."""
    if within is not None:
        parameters = {"code": code, "within": list(within)}
        dossier = session.execute(_DOSSIER_BY_CODE_WITHIN, parameters).scalar_one_or_none()
    else:
        query = _DOSSIER_BY_CODE_LOCKED if lock else _DOSSIER_BY_CODE
        dossier = session.execute(query, {"code": code}).scalar_one_or_none()
    if dossier is None:
        raise no_dossier(code)
    return dossier


def no_dossier(code: str) -> NotFound:
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


def components_received(session: Session, dossier_id: int) -> list[SqlRow]:
    """The documents received at intake (dossier_component rows, plain), in order."""
    return list(session.connection().execute(_COMPONENTS_OF, {"dossier_id": dossier_id}))


def fee_lines(session: Session, dossier_id: int) -> list[SqlRow]:
    """The fee lines (dossier_fee rows, plain), in order."""
    return list(session.connection().execute(_FEES_OF, {"dossier_id": dossier_id}))


def agency_codes(session: Session, ids: set[int | None]) -> dict[int, str]:
    by_id = agency_tree(session).by_id
    return {agency_id: by_id[agency_id].code for agency_id in ids if agency_id is not None}


def listed_components(session: Session, procedure: Procedure) -> tuple[ComponentRead, ...]:
    """The version's component list (thành phần hồ sơ), read once per version content."""
    key = (procedure.id, procedure.updated_at)
    found = _listed.get(key)
    if found is None:
        found = tuple(components_of(session, [procedure.id])[procedure.id])
        if len(_listed) >= VERSIONS_KEPT:
            _listed.clear()
        _listed[key] = found
    return found


def missing_components(listed: Sequence[ComponentRead], received: Sequence) -> list[str]:
    """The names of the required components not among the received ones."""
    got = {row.component_seq for row in received}
    return [c.name for c in listed if c.required and c.seq not in got]


def result_away(dossier: Dossier | InsertedRow) -> bool:
    """Whether the dossier's result is held away from its receiving desk (it was resolved at another agency
    and not yet sent back): then the hand-back, not the return, is what may come next."""
    held = dossier.current_agency_id
    return held is not None and held != dossier.receiving_agency_id


def next_events(dossier: Dossier | InsertedRow, *, apology_issued: bool) -> tuple[str, ...]:
    """The events the dossier's state admits now (the state machine, with the hand-back rule at status 9)."""
    return allowed_events(Status(dossier.status_code), apology_issued=apology_issued, result_away=result_away(dossier))


def summary_fields(dossier: Dossier, codes: dict[int, str]) -> dict:
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
    codes = agency_codes(session, ids)
    procedure = session.get(Procedure, dossier.procedure_id)
    received = components_received(session, dossier.id)
    fees = fee_lines(session, dossier.id)
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
        **summary_fields(dossier, codes),
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
