"""The complaints register: receive, record what happens, read, list and the queue of dues.

Scope works as for dossiers: with `within` (the user's agencies), a complaint is known only when one
of them received it or handles it now; any other is answered as an unknown one (the same 404).
The clocks run on the receiving unit's calendar (complaints/clocks.py).
"""

from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import func, or_, select
from sqlmodel import Session

from complaints.clocks import CLOCKS, ComplaintTransitionError, Derived, Fact, allowed_events, derive, late_clocks
from complaints.models import Complaint, ComplaintEvent
from complaints.schemas import (
    ComplaintCreate,
    ComplaintEventCreate,
    ComplaintEventRead,
    ComplaintRead,
    ComplaintSummary,
    QueueRead,
)
from dossiers.models import Dossier
from dossiers.reading import get_dossier
from kernel.errors import InvalidInput, InvalidTransition, NotFound
from procedures.service import agency_tree, get_agency
from sla.core.calendar import LOCAL_TZ, CalendarFor, WorkingCalendar

AHEAD_TOLERANCE = timedelta(minutes=5)
QUEUE_LIMIT = 200
DUE_SOON_WORKING_DAYS = 2
_DUE_COLUMNS = (
    "received_at", "refuse_due_at", "supplement_due_at", "answer_due_at", "publish_due_at",
    "refused_at", "first_supplement_at", "answered_at", "published_at",
)  # fmt: skip


def _not_found(complaint_id: int) -> NotFound:
    return NotFound(
        f"no complaint with id {complaint_id}; GET /api/v1/complaints lists those of your scope",
        message_id="complaint_not_found",
        id=complaint_id,
    )


def _in_scope(within: Collection[int]):
    ids = list(within)
    return or_(Complaint.receiving_agency_id.in_(ids), Complaint.agency_id.in_(ids))


def get_complaint(
    session: Session, complaint_id: int, *, within: Collection[int] | None = None, lock: bool = False
) -> Complaint:
    """The complaint; with `within`, only if one of these agencies received or handles it (else the same
    NotFound as for an unknown id)."""
    query = select(Complaint).where(Complaint.id == complaint_id)
    if within is not None:
        query = query.where(_in_scope(within))
    if lock:
        query = query.with_for_update()
    complaint = session.execute(query).scalar_one_or_none()
    if complaint is None:
        raise _not_found(complaint_id)
    return complaint


def _apply(complaint: Complaint, derived: Derived, calendar: WorkingCalendar, event_count: int) -> None:
    for name in (
        "status", "agency_id", "received_at", "refuse_due_at", "supplement_due_at", "answer_due_at",
        "publish_due_at", "refused_at", "first_supplement_at", "answered_at", "published_at", "feedback",
        "feedback_at", "repeated_at", "transfer_count", "next_due_at",
    ):  # fmt: skip
        setattr(complaint, name, getattr(derived, name))
    complaint.event_count = event_count
    complaint.calendar_version = calendar.version[:32]


def receive(
    session: Session,
    *,
    data: ComplaintCreate,
    actor: str,
    calendar_for: CalendarFor,
    now: datetime,
    within: Collection[int] | None = None,
) -> Complaint:
    """Register a complaint received now at `data.agency_code`; its clocks start at once."""
    agency = get_agency(session, data.agency_code)
    dossier_id = None
    if data.dossier_code:
        dossier_id = get_dossier(session, data.dossier_code.upper(), within=within).id
    calendar = calendar_for(agency.code)
    derived = derive([Fact("received", now)], agency.id, calendar)
    complaint = Complaint(
        receiving_agency_id=agency.id,
        dossier_id=dossier_id,
        channel=data.channel,
        category=data.category,
        content=data.content,
        **{name: getattr(derived, name) for name in ("status", "agency_id", "received_at")},
        refuse_due_at=derived.refuse_due_at,
        supplement_due_at=derived.supplement_due_at,
        answer_due_at=derived.answer_due_at,
    )
    _apply(complaint, derived, calendar, 1)
    session.add(complaint)
    session.flush()
    session.add(
        ComplaintEvent(complaint_id=complaint.id, seq=1, type="received", at=now, recorded_at=now, actor=actor)
    )
    session.flush()
    return complaint


def _events(session: Session, complaint_id: int) -> list[ComplaintEvent]:
    return list(
        session.execute(
            select(ComplaintEvent).where(ComplaintEvent.complaint_id == complaint_id).order_by(ComplaintEvent.seq)
        ).scalars()
    )


def _instant(value: datetime | None, now: datetime) -> datetime:
    if value is None:
        return now
    return value.replace(tzinfo=LOCAL_TZ) if value.tzinfo is None else value


def record(
    session: Session,
    *,
    complaint_id: int,
    data: ComplaintEventCreate,
    actor: str,
    calendar_for: CalendarFor,
    now: datetime,
    within: Collection[int] | None = None,
    authorize: Callable[[Complaint, ComplaintEventCreate], None] | None = None,
) -> Complaint:
    """Append one event (locked, checked against the status, the clocks derived again from every event)."""
    complaint = get_complaint(session, complaint_id, within=within, lock=True)
    if authorize is not None:
        authorize(complaint, data)
    events = _events(session, complaint.id)
    at = _instant(data.at, now)
    if at > now + AHEAD_TOLERANCE:
        raise InvalidInput(f"at {at.isoformat()} is in the future; leave it out to record now")
    if at < events[-1].at:
        last = events[-1].at.astimezone(LOCAL_TZ)
        raise InvalidInput(f"at must not be before the last event ({events[-1].type} at {last:%d/%m/%Y %H:%M})")
    to_agency = get_agency(session, data.to_agency) if data.to_agency else None
    if to_agency is not None and to_agency.id == complaint.agency_id:
        raise InvalidInput(f"the complaint is already at {to_agency.code}; transfer it to another unit")
    event = ComplaintEvent(
        complaint_id=complaint.id,
        seq=events[-1].seq + 1,
        type=data.type,
        at=at,
        recorded_at=now,
        actor=actor,
        from_agency_id=complaint.agency_id if to_agency else None,
        to_agency_id=to_agency.id if to_agency else None,
        note=data.note,
    )
    facts = [Fact(e.type, e.at, e.to_agency_id) for e in [*events, event]]
    calendar = calendar_for(agency_tree(session).by_id[complaint.receiving_agency_id].code)
    try:
        derived = derive(facts, complaint.receiving_agency_id, calendar)
    except ComplaintTransitionError as exc:
        raise InvalidTransition(
            str(exc), message_id="complaint_transition", event=exc.event, status=exc.status, allowed=exc.allowed
        ) from None
    session.add(event)
    _apply(complaint, derived, calendar, len(facts))
    session.flush()
    return complaint


def _late(rows: Sequence[Complaint], now: datetime) -> list[list[str]]:
    if not rows:
        return []
    columns = {
        name: np.array([_naive_utc(getattr(row, name)) for row in rows], dtype="datetime64[m]")
        for name in _DUE_COLUMNS
    }
    late = late_clocks(columns, np.datetime64(_naive_utc(now), "m"))
    return [[clock for clock in CLOCKS if late[clock][i]] for i in range(len(rows))]


def _naive_utc(value: datetime | None):
    return None if value is None else value.astimezone(UTC).replace(tzinfo=None)


def _summaries(session: Session, rows: Sequence[Complaint], now: datetime) -> list[ComplaintSummary]:
    tree = agency_tree(session)
    dossier_ids = {row.dossier_id for row in rows if row.dossier_id}
    codes = (
        dict(session.execute(select(Dossier.id, Dossier.code).where(Dossier.id.in_(dossier_ids))).all())
        if dossier_ids
        else {}
    )
    return [
        ComplaintSummary(
            id=row.id,
            agency_code=tree.by_id[row.agency_id].code,
            agency_name=tree.by_id[row.agency_id].name,
            receiving_agency_code=tree.by_id[row.receiving_agency_id].code,
            channel=row.channel,
            category=row.category,
            status=row.status,
            dossier_code=codes.get(row.dossier_id),
            received_at=row.received_at,
            answer_due_at=row.answer_due_at,
            next_due_at=row.next_due_at,
            feedback=row.feedback,
            repeated=row.repeated_at is not None,
            late_clocks=late,
        )
        for row, late in zip(rows, _late(rows, now), strict=True)
    ]


def read(session: Session, complaint: Complaint, *, now: datetime) -> ComplaintRead:
    """The complaint with its content, clocks and timeline (the caller audits the read)."""
    summary = _summaries(session, [complaint], now)[0]
    tree = agency_tree(session)
    code = lambda agency_id: tree.by_id[agency_id].code if agency_id else None  # noqa: E731
    derived_allowed = derive_allowed(complaint)
    return ComplaintRead(
        **summary.model_dump(),
        content=complaint.content,
        refuse_due_at=complaint.refuse_due_at,
        supplement_due_at=complaint.supplement_due_at,
        publish_due_at=complaint.publish_due_at,
        refused_at=complaint.refused_at,
        first_supplement_at=complaint.first_supplement_at,
        answered_at=complaint.answered_at,
        published_at=complaint.published_at,
        allowed_events=list(derived_allowed),
        timeline=[
            ComplaintEventRead(
                seq=e.seq,
                type=e.type,
                at=e.at,
                recorded_at=e.recorded_at,
                actor=e.actor,
                from_agency_code=code(e.from_agency_id),
                to_agency_code=code(e.to_agency_id),
                note=e.note,
            )
            for e in _events(session, complaint.id)
        ],
    )


def derive_allowed(complaint: Complaint) -> tuple[str, ...]:
    """The events the complaint takes now."""
    return allowed_events(complaint.status, feedback=complaint.feedback, repeated=complaint.repeated_at is not None)


def search(
    session: Session,
    *,
    within: Collection[int] | None,
    now: datetime,
    agency_ids: Collection[int] | None = None,
    status: str | None = None,
    page: int = 1,
    page_size: int = 50,
) -> tuple[list[ComplaintSummary], int]:
    """Complaints of the scope, newest first; `agency_ids` narrows to those received or handled there."""
    query = select(Complaint)
    if within is not None:
        query = query.where(_in_scope(within))
    if agency_ids is not None:
        query = query.where(_in_scope(agency_ids))
    if status is not None:
        query = query.where(Complaint.status == status)
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = list(
        session.execute(
            query.order_by(Complaint.received_at.desc(), Complaint.id.desc())
            .offset((page - 1) * page_size)
            .limit(page_size)
        ).scalars()
    )
    return _summaries(session, rows, now), total


def queue(
    session: Session,
    *,
    within: Collection[int] | None,
    now: datetime,
    calendar: WorkingCalendar,
    soon_working_days: float = DUE_SOON_WORKING_DAYS,
    limit: int = QUEUE_LIMIT,
) -> QueueRead:
    """Open complaints whose next due (the answer, or its publication) is past (`overdue`: its local date is
    before today) or comes within `soon_working_days` working days on `calendar` (`due_soon`), soonest first."""
    today = now.astimezone(LOCAL_TZ).date()
    start_of_today = datetime(today.year, today.month, today.day, tzinfo=LOCAL_TZ)
    soon_end = calendar.shift(now, round(soon_working_days * calendar.minutes_per_day))
    soon_day = soon_end.astimezone(LOCAL_TZ).date() + timedelta(days=1)
    end_of_soon = datetime(soon_day.year, soon_day.month, soon_day.day, tzinfo=LOCAL_TZ)
    base = select(Complaint).where(Complaint.next_due_at.is_not(None))
    if within is not None:
        base = base.where(Complaint.agency_id.in_(list(within)))
    order = (Complaint.next_due_at, Complaint.id)
    overdue = session.execute(base.where(Complaint.next_due_at < start_of_today).order_by(*order).limit(limit))
    soon = session.execute(
        base.where(Complaint.next_due_at >= start_of_today, Complaint.next_due_at < end_of_soon)
        .order_by(*order)
        .limit(limit)
    )
    return QueueRead(
        as_of=now,
        overdue=_summaries(session, list(overdue.scalars()), now),
        due_soon=_summaries(session, list(soon.scalars()), now),
    )
