"""The complaints register's pages: the queue (overdue, due soon), the list, the form to register one, and a
complaint's clocks and timeline with a form for what happens next. The same use cases as the JSON API."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from accounts.models import Role
from api.deps import RowId, SessionDep
from api.routes.complaints import (
    may_record,
    queue_calendar,
    read_complaint,
    receive_complaint,
    record_complaint_event,
)
from api.web.common import PAGE_ERRORS, PageRoute, Problem, agencies, blank_to_none, keep_lang, render
from api.web.desk import intake_agencies
from complaints import service
from complaints.models import CATEGORIES, CHANNELS
from complaints.schemas import ComplaintCreate, ComplaintEventCreate

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PAGE_SIZE = 50
Text = Annotated[str | None, Form(max_length=4000)]


def _register_page(request: Request, session, *, problem: Problem | None = None, submitted: dict | None = None,
                   page: int = 1):  # fmt: skip
    principal = request.state.principal
    now = datetime.now(UTC)
    request.state.audit_read = True  # the list names units and dossiers of complaints (personal data stays out)
    request.state.audit_detail = "complaints register"
    items, total = service.search(session, within=principal.scope, now=now, page=page, page_size=PAGE_SIZE)
    context = {
        "queue": service.queue(
            session, within=principal.scope, now=now, calendar=queue_calendar(request, session, principal)
        ),
        "items": items,
        "total": total,
        "page": page,
        "pages": max(1, -(-total // PAGE_SIZE)),
        "may_receive": principal.role in (Role.ADMIN, Role.CLERK),
        "intake_agencies": intake_agencies(session, principal),
        "channels": CHANNELS,
        "categories": CATEGORIES,
        "problem": problem,
        "submitted": submitted or {},
    }
    return render(
        request,
        "web/complaints.html",
        context,
        status_code=problem.status_code if problem else 200,
        page_path="/desk/complaints",
    )


@router.get("/desk/complaints")
def complaints_page(request: Request, session: SessionDep, page: Annotated[int, Query(ge=1, le=100_000)] = 1):
    """The queue of dues, the register of the user's scope and (for clerks) the form to register one."""
    return _register_page(request, session, page=page)


@router.post("/desk/complaints")
def register(
    request: Request,
    session: SessionDep,
    agency_code: Annotated[str, Form(max_length=64)] = "",
    channel: Annotated[str, Form(max_length=16)] = "",
    category: Annotated[str, Form(max_length=16)] = "",
    content: Text = None,
    dossier_code: Annotated[str | None, Form(max_length=80)] = None,
):
    fields = {
        "agency_code": agency_code,
        "channel": channel,
        "category": category,
        "content": content or "",
        "dossier_code": blank_to_none(dossier_code),
    }
    try:
        with session.begin_nested():
            data = ComplaintCreate(**{k: v for k, v in fields.items() if v is not None})
            complaint = receive_complaint(request, session, request.state.principal, data)
    except (*PAGE_ERRORS, ValidationError) as exc:
        return _register_page(request, session, problem=Problem.of(exc), submitted=fields)
    return RedirectResponse(keep_lang(request, f"/desk/complaints/{complaint.id}?done=received"), status_code=303)


def _complaint_page(request: Request, session, complaint_id: int, *, problem=None, submitted=None, done=None):
    principal = request.state.principal
    complaint = read_complaint(request, session, principal, complaint_id)
    stored = service.get_complaint(session, complaint_id, within=principal.scope)
    context = {
        "complaint": complaint,
        "offered": complaint.allowed_events if may_record(principal, stored) else [],
        "names": {a.code: a.name for a in agencies(session)},
        "agencies": [a for a in agencies(session) if a.active],
        "problem": problem,
        "submitted": submitted or {},
        "done": done,
    }
    return render(
        request,
        "web/complaint.html",
        context,
        status_code=problem.status_code if problem else 200,
        page_path=f"/desk/complaints/{complaint_id}",
    )


@router.get("/desk/complaints/{complaint_id}")
def complaint_page(
    request: Request, session: SessionDep, complaint_id: RowId, done: Annotated[str | None, Query(max_length=32)] = None
):
    """A complaint: its content (an audited read), clocks, timeline and a form for each event allowed now."""
    return _complaint_page(request, session, complaint_id, done=done)


@router.post("/desk/complaints/{complaint_id}/events")
def record_event(
    request: Request,
    session: SessionDep,
    complaint_id: RowId,
    type: Annotated[str, Form(max_length=32)],
    note: Text = None,
    to_agency: Annotated[str | None, Form(max_length=64)] = None,
):
    fields = {"type": type, "note": blank_to_none(note), "to_agency": blank_to_none(to_agency)}
    try:
        with session.begin_nested():
            data = ComplaintEventCreate(**{k: v for k, v in fields.items() if v is not None})
            record_complaint_event(request, session, request.state.principal, complaint_id, data)
    except (*PAGE_ERRORS, ValidationError) as exc:
        return _complaint_page(request, session, complaint_id, problem=Problem.of(exc), submitted=fields)
    return RedirectResponse(keep_lang(request, f"/desk/complaints/{complaint_id}?done={type}"), status_code=303)

