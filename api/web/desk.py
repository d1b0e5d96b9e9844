"""The clerk's desk: receive a dossier (→ the printable receipt), find dossiers, follow one and record
what happens to it. Forms post here; these routes call the same services as the JSON API."""

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from api.deps import SessionDep, audit_dossier
from api.routes.dossiers import BACKDATING_ROLES, backdating_note, search_download, time_policy
from api.security import dossier_view, event_policy, readable_dossier, scoped_search
from api.web.common import PAGE_ERRORS, PageRoute, Problem, agencies, blank_to_none, language, render, templates
from api.web.i18n import Formats
from dossiers import idempotency, service
from dossiers.schemas import DossierCreate, EventCreate
from procedures import service as catalogue
from procedures.errors import Forbidden, InvalidInput, NotFound
from procedures.models import Agency, Procedure
from sla.core.lifecycle import EVENT_TYPES

router = APIRouter(route_class=PageRoute, include_in_schema=False)

AGENCY_COOKIE = "desk_agency"
PROCEDURE_CHOICES = 12
LATEST_DOSSIERS = 20
# the fields of each event's form, beyond `at`
EVENT_FIELDS = {
    "forwarded": ("to_agency", "reason"),
    "supplement_requested": ("reason",),
    "paused": ("reason",),
    "apology_issued": ("reason", "new_due_at"),
    "resolved": ("result",),
    "withdrawn": ("reason",),
    "stopped": ("reason",),
    "abandoned": ("reason",),
    "refused": ("reason",),
}
REQUIRED_FIELDS = {
    "forwarded": ("to_agency",),
    "supplement_requested": ("reason",),
    "apology_issued": ("reason", "new_due_at"),
}

APPLICANT_FIELDS = ("name", "id_number", "phone", "address")

Text = Annotated[str | None, Form(max_length=2000)]


def calendar_for(request: Request, session: Session):
    return lambda agency_code: request.app.state.calendars.get(session, agency_code)


def _claimed(session: Session, key: str | None, scope: str, body: dict) -> dict | None:
    """The stored answer of a form posted twice (a double click), or None once the key is claimed."""
    if not key:
        return None
    stored = idempotency.claim(session, key=key, scope=scope, body=body)
    return stored.response if stored else None


def _procedure_choices(session: Session, q: str | None, chosen: str | None) -> tuple[list, int]:
    items, total = ([], 0)
    if q:
        items, total = catalogue.search_procedures(session, q=q, page_size=PROCEDURE_CHOICES)
    if chosen and chosen not in {p.code for p in items}:
        try:
            items = [*catalogue.to_read(session, [catalogue.get_procedure(session, chosen)]), *items]
            total += 1
        except PAGE_ERRORS:
            pass
    return items, total


def _desk(
    request: Request,
    session: Session,
    *,
    q: str | None = None,
    procedure_q: str | None = None,
    form: dict | None = None,
    problem: Problem | None = None,
) -> Response:
    form = form or {"agency_code": request.cookies.get(AGENCY_COOKIE), "channel": "counter"}
    procedures, procedure_total = _procedure_choices(session, procedure_q, form.get("procedure_code"))
    if len(procedures) == 1 and not form.get("procedure_code"):
        form["procedure_code"] = procedures[0].code
    principal = request.state.principal
    found = scoped_search(session, principal, q=q, page_size=LATEST_DOSSIERS)
    return render(
        request,
        "web/desk.html",
        {
            "q": q or "",
            "procedure_q": procedure_q or "",
            "procedures": procedures,
            "procedure_more": max(procedure_total - len(procedures), 0),
            "dossiers": found.items,
            "dossier_total": found.total,
            "dossier_total_capped": found.capped,
            "agencies": [a for a in agencies(session) if a.active],
            "form": form,
            "key": uuid.uuid4().hex,
            "problem": problem,
            "may_backdate": request.state.principal.role in BACKDATING_ROLES,
            "backdate_grace": request.app.state.settings.backdate_grace_minutes,
        },
        status_code=problem.status_code if problem else 200,
        page_path="/desk",
    )


@router.get("/desk")
def desk(
    request: Request,
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    procedure_q: Annotated[str | None, Query(max_length=200)] = None,
):
    return _desk(request, session, q=blank_to_none(q), procedure_q=blank_to_none(procedure_q))


@router.get("/desk/dossiers.xlsx")
def desk_search_download(request: Request, session: SessionDep, q: Annotated[str | None, Query(max_length=200)] = None):
    """The desk search's dossiers as XLSX (as `GET /api/v1/dossiers?format=xlsx`), in the page's language."""
    return search_download(request, session, request.state.principal, {"q": blank_to_none(q)}, language(request))


@router.get("/desk/procedures")
def procedure_choices(
    request: Request, session: SessionDep, procedure_q: Annotated[str | None, Query(max_length=200)] = None
):
    """The procedure picker alone (the page fetches it as the clerk types)."""
    procedures, total = _procedure_choices(session, blank_to_none(procedure_q), None)
    chosen = procedures[0].code if len(procedures) == 1 else None
    return render(
        request,
        "web/_procedure_options.html",
        {
            "procedures": procedures,
            "procedure_more": max(total - len(procedures), 0),
            "procedure_q": procedure_q,
            "form": {"procedure_code": chosen},
        },
    )


@router.post("/desk/dossiers")
def receive(
    request: Request,
    session: SessionDep,
    procedure_code: Annotated[str | None, Form(max_length=64)] = None,
    agency_code: Annotated[str | None, Form(max_length=64)] = None,
    channel: Annotated[str, Form(max_length=16)] = "counter",
    name: Annotated[str | None, Form(max_length=200)] = None,
    id_number: Annotated[str | None, Form(max_length=20)] = None,
    phone: Annotated[str | None, Form(max_length=20)] = None,
    address: Annotated[str | None, Form(max_length=500)] = None,
    received_at: Annotated[str | None, Form(max_length=32)] = None,
    backdate_reason: Text = None,
    key: Annotated[str | None, Form(max_length=128)] = None,
):
    """Receive a dossier, then show its receipt (form 01) with the appointment, ready to print."""
    key = blank_to_none(key)
    form = {
        "procedure_code": blank_to_none(procedure_code),
        "agency_code": blank_to_none(agency_code),
        "channel": channel,
        "name": blank_to_none(name),
        "id_number": blank_to_none(id_number),
        "phone": blank_to_none(phone),
        "address": blank_to_none(address),
        "received_at": blank_to_none(received_at),
        "backdate_reason": blank_to_none(backdate_reason),
    }
    try:
        with session.begin_nested():
            if not form["procedure_code"]:
                raise InvalidInput("choose a procedure: search by its name or code, then pick one in the list")
            data = DossierCreate(
                procedure_code=form["procedure_code"],
                agency_code=form["agency_code"] or "",
                channel=channel,
                received_at=form["received_at"],
                backdate_reason=form["backdate_reason"],
                applicant={name: form[name] for name in APPLICANT_FIELDS if form[name] is not None},
            )
            principal = request.state.principal
            if not principal.covers(catalogue.get_agency(session, data.agency_code).id):
                raise Forbidden(f"you receive dossiers at {principal.agency_code}, not {data.agency_code}")
            stored = _claimed(session, key, f"{principal.username} POST /desk/dossiers", data.model_dump(mode="json"))
            if stored:
                code = stored["code"]
            else:
                written = service.intake(
                    session,
                    data=data,
                    actor=request.state.principal.username,
                    calendar_for=calendar_for(request, session),
                    now=datetime.now(UTC),
                    idempotency_key=key,
                    **time_policy(request, principal),
                )
                code = written.dossier.code
                request.state.audit_detail = f"dossier {code}{backdating_note(written.events[-1])}"[:1000]
                if key:
                    idempotency.complete(session, key=key, status_code=303, response={"code": code})
    except PAGE_ERRORS as exc:
        return _desk(request, session, form=form, problem=Problem.of(exc))
    audit_dossier(request, code)
    response = RedirectResponse(f"/desk/dossiers/{code}/receipt", status_code=303)
    response.set_cookie(AGENCY_COOKIE, data.agency_code, max_age=365 * 24 * 3600, samesite="lax", httponly=True)
    return response


def _dossier_page(
    request: Request,
    session: Session,
    code: str,
    *,
    problem: Problem | None = None,
    submitted: dict | None = None,
    done: str | None = None,
) -> Response:
    dossier = readable_dossier(session, code, request.state.principal)
    view = dossier_view(session, request, dossier, request.state.principal)
    calendar = request.app.state.calendars.get(session, view.receiving_agency_code)
    every_agency = agencies(session)
    return render(
        request,
        "web/dossier.html",
        {
            "dossier": view,
            "names": {a.code: a.name for a in every_agency},
            "agencies": [a for a in every_agency if a.active],
            "event_fields": EVENT_FIELDS,
            "required_fields": REQUIRED_FIELDS,
            "key": uuid.uuid4().hex,
            "problem": problem,
            "submitted": submitted,
            "done": done if done in EVENT_TYPES else None,
            "minutes_per_day": calendar.minutes_per_day,
            "may_backdate": request.state.principal.role in BACKDATING_ROLES,
            "backdate_grace": request.app.state.settings.backdate_grace_minutes,
        },
        status_code=problem.status_code if problem else 200,
        page_path=f"/desk/dossiers/{code}",
    )


@router.get("/desk/dossiers/{code}")
def dossier_page(
    request: Request, session: SessionDep, code: str, done: Annotated[str | None, Query(max_length=32)] = None
):
    """A dossier: its clock, stages, timeline and a form for each event allowed now."""
    return _dossier_page(request, session, code, done=done)


def _form(request: Request, session: Session, code: str, template: str) -> Response:
    """A printable form (01 receipt, 04 apology) from the templates the API serves, for the desk."""
    dossier = readable_dossier(session, code, request.state.principal)
    view = dossier_view(session, request, dossier, request.state.principal)
    context = {
        "dossier": view,
        "agency": session.get(Agency, dossier.receiving_agency_id),
        "procedure": session.get(Procedure, dossier.procedure_id),
        "local": Formats.local,
    }
    if template == "apology.html":
        letters = [event for event in view.timeline if event.type == "apology_issued"]
        if not letters:
            raise NotFound(f"dossier {code} has no apology (form 04): none was issued")
        context["letter"] = letters[0]
    return templates.TemplateResponse(request, template, context)


@router.get("/desk/dossiers/{code}/receipt")
def receipt(request: Request, session: SessionDep, code: str):
    """Form 01, Giấy tiếp nhận hồ sơ và hẹn trả kết quả, with the appointment; ready to print."""
    return _form(request, session, code, "receipt.html")


@router.get("/desk/dossiers/{code}/apology")
def apology(request: Request, session: SessionDep, code: str):
    """Form 04, Phiếu xin lỗi và hẹn lại ngày trả kết quả, once an apology was issued."""
    return _form(request, session, code, "apology.html")


@router.post("/desk/dossiers/{code}/events")
def record_event(
    request: Request,
    session: SessionDep,
    code: str,
    type: Annotated[str, Form(max_length=32)],
    to_agency: Annotated[str | None, Form(max_length=64)] = None,
    reason: Text = None,
    result: Text = None,
    new_due_at: Annotated[str | None, Form(max_length=32)] = None,
    at: Annotated[str | None, Form(max_length=32)] = None,
    backdate_reason: Text = None,
    key: Annotated[str | None, Form(max_length=128)] = None,
):
    """Record one event; a refusal (state machine, clock, input) is shown on the dossier page as the API says it."""
    readable_dossier(session, code, request.state.principal)  # outside the user's scope: unknown (404)
    key = blank_to_none(key)
    fields = {
        "type": type,
        "to_agency": blank_to_none(to_agency),
        "reason": blank_to_none(reason),
        "result": blank_to_none(result),
        "new_due_at": blank_to_none(new_due_at),
        "at": blank_to_none(at),
        "backdate_reason": blank_to_none(backdate_reason),
    }
    try:
        with session.begin_nested():
            data = EventCreate(**{name: value for name, value in fields.items() if value is not None})
            principal = request.state.principal
            scope = f"{principal.username} POST /desk/dossiers/{code}/events"
            if _claimed(session, key, scope, data.model_dump(mode="json")) is None:
                written = service.append_event(
                    session,
                    code=code,
                    data=data,
                    actor=principal.username,
                    calendar_for=calendar_for(request, session),
                    now=datetime.now(UTC),
                    idempotency_key=key,
                    authorize=event_policy(principal),
                    **time_policy(request, principal),
                )
                request.state.audit_detail = f"dossier {code}{backdating_note(written.events[-1])}"[:1000]
                if key:
                    idempotency.complete(session, key=key, status_code=303, response={"code": code})
    except PAGE_ERRORS as exc:
        return _dossier_page(request, session, code, problem=Problem.of(exc), submitted=fields)
    return RedirectResponse(f"/desk/dossiers/{code}?done={data.type}", status_code=303)
