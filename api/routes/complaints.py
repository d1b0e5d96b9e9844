"""The complaints register (phản ánh, kiến nghị): receive, record what happens, list, the queue of dues.

Roles and scope as for dossiers: clerks receive at their agency and record events on complaints
received there; officers on complaints their agency handles; managers on either; viewers read reports,
not complaints. A complaint outside the user's scope answers 404, as an unknown id does. The content is
personal data: every read showing it is audited, as every write is.
"""

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from accounts.models import Role
from accounts.service import Principal
from api.calendars import calendar_for
from api.deps import PagingDep, RowId, SessionDep, audit_read
from api.security import STAFF, allow, event_refused, may_act, scoped_agency
from complaints import service
from complaints.models import STATUSES, Complaint
from complaints.schemas import ComplaintCreate, ComplaintEventCreate, ComplaintRead, ComplaintSummary, QueueRead
from kernel.errors import Forbidden
from kernel.schemas import Page
from procedures.service import agency_subtree_ids, get_agency

router = APIRouter(prefix="/complaints", tags=["complaints"])

Staff = Annotated[Principal, Depends(allow(*STAFF))]
Clerk = Annotated[Principal, Depends(allow(Role.CLERK))]
EventRecorder = Annotated[Principal, Depends(allow(Role.CLERK, Role.OFFICER, Role.MANAGER))]
_EVENT_RULES = {
    Role.MANAGER: "managers record events on complaints their scope received or handles",
    Role.CLERK: "clerks record events on complaints received at their agency",
    Role.OFFICER: "officers record events on complaints their agency handles",
}


def may_record(principal: Principal, complaint: Complaint) -> bool:
    """The dossiers' role rule (api/security.py `may_act`) for complaints: received at, handled by."""
    return may_act(principal, received_by=complaint.receiving_agency_id, held_by=complaint.agency_id)


def event_policy(principal: Principal):
    def authorize(complaint: Complaint, data: ComplaintEventCreate) -> None:
        if not may_record(principal, complaint):
            raise event_refused(
                principal, data.type, f"complaint {complaint.id}", _EVENT_RULES, "complaint_event_forbidden"
            )

    return authorize


def receive_complaint(request: Request, session, principal: Principal, data: ComplaintCreate) -> Complaint:
    """The one use case behind the API and the page: a clerk registers a complaint at an agency of its scope."""
    if not principal.covers(get_agency(session, data.agency_code).id):
        raise Forbidden(
            f"you receive complaints at {principal.agency_code} (and the agencies under it), not {data.agency_code}",
            message_id="complaint_agency",
        )
    complaint = service.receive(
        session,
        data=data,
        actor=principal.username,
        calendar_for=calendar_for(request, session),
        now=datetime.now(UTC),
        within=principal.scope,
    )
    request.state.audit_detail = f"complaint {complaint.id}"
    return complaint


def record_complaint_event(
    request: Request, session, principal: Principal, complaint_id: int, data: ComplaintEventCreate
) -> Complaint:
    complaint = service.record(
        session,
        complaint_id=complaint_id,
        data=data,
        actor=principal.username,
        calendar_for=calendar_for(request, session),
        now=datetime.now(UTC),
        within=principal.scope,
        authorize=event_policy(principal),
    )
    request.state.audit_detail = f"complaint {complaint_id}: {data.type}"
    return complaint


def read_complaint(request: Request, session, principal: Principal, complaint_id: int) -> ComplaintRead:
    """The complaint with its content and timeline; the read is audited (personal data)."""
    audit_read(request, detail=f"complaint {complaint_id}", personal_data="unmasked")
    complaint = service.get_complaint(session, complaint_id, within=principal.scope)
    return service.read(session, complaint, now=datetime.now(UTC))


def queue_calendar(request: Request, session, principal: Principal):
    return request.app.state.calendars.get(session, principal.agency_code)


@router.post("", status_code=201, response_model=ComplaintRead)
def receive(request: Request, session: SessionDep, principal: Clerk, data: ComplaintCreate):
    """Register a complaint received now: its clocks (refuse 2, first supplement request 5, answer 15 working
    days) start at once on the unit's calendar."""
    complaint = receive_complaint(request, session, principal, data)
    return service.read(session, complaint, now=datetime.now(UTC))


@router.get("", response_model=Page[ComplaintSummary])
def list_complaints(
    request: Request,
    session: SessionDep,
    principal: Staff,
    paging: PagingDep,
    agency: Annotated[str | None, Query(max_length=64, description="received or handled there (and below)")] = None,
    status: Annotated[Literal[STATUSES] | None, Query(description="received, supplement_requested, …")] = None,  # type: ignore[valid-type]
):
    """The complaints of your scope, newest first, with the clocks broken so far (no content: open one)."""
    audit_read(request, detail="complaints list")
    agency = scoped_agency(session, principal, agency) if agency else None
    items, total = service.search(
        session,
        within=principal.scope,
        now=datetime.now(UTC),
        agency_ids=agency_subtree_ids(session, agency) if agency else None,
        status=status,
        page=paging.page,
        page_size=paging.page_size,
    )
    return Page(items=items, total=total, page=paging.page, page_size=paging.page_size)


@router.get("/queue", response_model=QueueRead)
def queue(request: Request, session: SessionDep, principal: Staff):
    """Open complaints of your scope past their next due (`overdue`) or due within 2 working days
    (`due_soon`), soonest first."""
    audit_read(request, detail="complaints queue")
    return service.queue(
        session,
        within=principal.scope,
        now=datetime.now(UTC),
        calendar=queue_calendar(request, session, principal),
    )


@router.get("/{complaint_id}", response_model=ComplaintRead)
def get_complaint(request: Request, session: SessionDep, principal: Staff, complaint_id: RowId):
    """One complaint: its content, clocks and timeline (the read is audited)."""
    return read_complaint(request, session, principal, complaint_id)


@router.post("/{complaint_id}/events", status_code=201, response_model=ComplaintRead)
def record_event(
    request: Request, session: SessionDep, principal: EventRecorder, complaint_id: RowId, data: ComplaintEventCreate
):
    """Record what happened: transferred (to_agency), supplement_requested, refused, answered (note: the
    answer), published, liked, disliked, repeated; refused events name the allowed ones."""
    complaint = record_complaint_event(request, session, principal, complaint_id, data)
    return service.read(session, complaint, now=datetime.now(UTC))
