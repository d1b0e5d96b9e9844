"""The clerk's desk: receive a dossier (→ the printable receipt), find dossiers, follow one and record
what happens to it. Forms post here; these routes call the same services as the JSON API."""

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from accounts.service import Principal, display_names
from api import forms
from api.deps import Paging, SessionDep, audit_dossier
from api.forms import FORM_NUMBER_PATTERN
from api.routes.contact import may_change_contact
from api.routes.dossiers import (
    BACKDATING_ROLES,
    receive_dossier,
    record_dossier_event,
    render_form,
    search_download,
)
from api.routes.registers import XLSX
from api.routes.worklist import result_items, work_items
from api.security import dossier_view, permitted_events, readable_dossier, scoped_search
from api.web.common import (
    PAGE_ERRORS,
    PageRoute,
    Problem,
    agencies,
    blank_to_none,
    keep_lang,
    language,
    may_use,
    render,
    typed_date,
)
from dossiers import idempotency, reading
from dossiers.events import REQUIRED_FIELDS
from dossiers.schemas import DossierCreate, EventCreate
from kernel.errors import Forbidden, InvalidInput
from notify import inbox as notices
from procedures import service as catalogue
from procedures.schemas import AgencyRead
from sla.core.calendar import LOCAL_TZ
from sla.core.lifecycle import EVENT_TYPES, Status

router = APIRouter(route_class=PageRoute, include_in_schema=False)

AGENCY_COOKIE = "desk_agency"
PROCEDURE_CHOICES = 12
LATEST_DOSSIERS = 20
# the fields of each event's form, beyond `at` (those it cannot go without: dossiers.events.REQUIRED_FIELDS)
EVENT_FIELDS = {
    "forwarded": ("to_agency", "reason"),
    "supplement_requested": ("reason",),
    "paused": ("reason",),
    "apology_issued": ("reason", "new_due_at"),
    "resolved": ("result",),
    "result_sent_to_desk": ("reason",),  # a note for the control slip (form 06)
    "withdrawn": ("reason",),
    "stopped": ("reason",),
    "abandoned": ("reason",),
    "refused": ("reason",),
}

APPLICANT_FIELDS = ("name", "id_number", "phone", "address", "email", "preferred_channel")

Text = Annotated[str | None, Form(max_length=2000)]


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


def _components(session: Session, procedure_code: str | None) -> list | None:
    """The checklist of the chosen procedure's version in force (None: no procedure chosen or unknown)."""
    if not procedure_code:
        return None
    try:
        return list(reading.listed_components(session, catalogue.get_procedure(session, procedure_code)))
    except PAGE_ERRORS:
        return None


def _numbers(values: list[str]) -> list[int]:
    return [int(value) for value in values if value.strip().isdigit()]


def _received(form: dict) -> list[dict] | None:
    """What the checklist says was received; None when no checklist was shown (the procedure lists none).
    A copies box left blank means the copies the list asks."""
    if form["components"] is None:
        return None
    received = []
    for seq in dict.fromkeys(form["components"]):
        count = (form["copies"].get(seq) or "").strip()
        if count and not count.isdigit():
            raise InvalidInput(
                f"copies of document {seq}: {count!r} is not a whole number (1 or more)",
                message_id="copies",
                seq=seq,
                count=count,
            )
        received.append({"seq": seq, **({"copies": int(count)} if count else {})})
    return received


def intake_agencies(session: Session, principal: Principal) -> list[AgencyRead]:
    """The agencies a user may receive dossiers at: the active ones of its scope (an administrator: every one)."""
    tree = catalogue.agency_tree(session)
    return [a for a in agencies(session) if a.active and principal.covers(tree.by_code[a.code].id)]


def _default_agency(request: Request, principal: Principal, offered: list[AgencyRead]) -> str | None:
    """The agency preselected at intake: the one last used here if still offered, else the user's own."""
    codes = {a.code for a in offered}
    for code in (request.cookies.get(AGENCY_COOKIE), principal.agency_code):
        if code in codes:
            return code
    return offered[0].code if len(offered) == 1 else None


SEARCH_STATUSES = tuple(Status)
"""The statuses the desk's search offers, in the lifecycle's order."""


@dataclass(frozen=True)
class DeskFilters:
    """The desk search's filters beyond its box (`GET /desk` and its XLSX): the same as `GET /api/v1/dossiers`'s,
    the dates typed day first and whole days (from the first day's start to the last day's end, local time)."""

    status: int | None = None
    received_from: date | None = None
    received_to: date | None = None
    field: str | None = None
    procedure: str | None = None

    @classmethod
    def read(cls, request: Request, status, received_from, received_to, field, procedure) -> "DeskFilters":
        status = blank_to_none(status)
        if status is not None and (not status.isdigit() or int(status) not in SEARCH_STATUSES):
            raise InvalidInput(
                f"status: {status!r} is not a status code (1 to 10)", message_id="status_code", value=status
            )
        day = lambda value, key: typed_date(request, value, key, date_only=True)  # noqa: E731
        return cls(
            status=int(status) if status is not None else None,
            received_from=date.fromisoformat(text) if (text := day(received_from, "desk.received_from")) else None,
            received_to=date.fromisoformat(text) if (text := day(received_to, "desk.received_to")) else None,
            field=blank_to_none(field),
            procedure=blank_to_none(procedure),
        )

    @property
    def any(self) -> bool:
        return any(value is not None for value in (self.status, self.received_from, self.received_to, self.field,
                                                   self.procedure))  # fmt: skip

    def search(self) -> dict:
        """As `dossiers.search.search` takes them."""
        start = lambda day: datetime.combine(day, time(), LOCAL_TZ)  # noqa: E731
        return {
            "status": self.status,
            "received_from": start(self.received_from) if self.received_from else None,
            "received_to": start(self.received_to + timedelta(days=1)) if self.received_to else None,
            "field": self.field,
            "procedure": self.procedure,
        }

    def query(self) -> dict:
        """As the page's links carry them (dd/mm/yyyy dates)."""
        values = {
            "status": self.status,
            "received_from": f"{self.received_from:%d/%m/%Y}" if self.received_from else None,
            "received_to": f"{self.received_to:%d/%m/%Y}" if self.received_to else None,
            "field": self.field,
            "procedure": self.procedure,
        }
        return {key: value for key, value in values.items() if value is not None}


def _desk(
    request: Request,
    session: Session,
    *,
    q: str | None = None,
    filters: DeskFilters = DeskFilters(),
    procedure_q: str | None = None,
    form: dict | None = None,
    problem: Problem | None = None,
) -> Response:
    principal = request.state.principal
    offered = intake_agencies(session, principal)
    form = form or {"agency_code": _default_agency(request, principal, offered), "channel": "counter"}
    procedures, procedure_total = _procedure_choices(session, procedure_q, form.get("procedure_code"))
    if len(procedures) == 1 and not form.get("procedure_code"):
        form["procedure_code"] = procedures[0].code
    found = scoped_search(session, principal, q=q, **filters.search(), page_size=LATEST_DOSSIERS)
    return render(
        request,
        "web/desk.html",
        {
            "q": q or "",
            "filters": filters,
            "statuses": SEARCH_STATUSES,
            "fields": catalogue.list_fields(session),
            "download_query": urlencode({**({"q": q} if q else {}), **filters.query()}),
            "procedure_q": procedure_q or "",
            "procedures": procedures,
            "procedure_more": max(procedure_total - len(procedures), 0),
            "components": _components(session, form.get("procedure_code")),
            "dossiers": found.items,
            "dossier_total": found.total,
            "dossier_total_capped": found.capped,
            "agencies": offered,
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
    status: Annotated[str | None, Query(max_length=8)] = None,
    received_from: Annotated[str | None, Query(max_length=32)] = None,
    received_to: Annotated[str | None, Query(max_length=32)] = None,
    field: Annotated[str | None, Query(max_length=200)] = None,
    procedure: Annotated[str | None, Query(max_length=200)] = None,
):
    """The desk: intake, and the search of the user's scope (its box, then status, received days, field and
    procedure)."""
    filters = DeskFilters.read(request, status, received_from, received_to, field, procedure)
    return _desk(request, session, q=blank_to_none(q), filters=filters, procedure_q=blank_to_none(procedure_q))


@router.get("/desk/dossiers.xlsx")
def desk_search_download(
    request: Request,
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    status: Annotated[str | None, Query(max_length=8)] = None,
    received_from: Annotated[str | None, Query(max_length=32)] = None,
    received_to: Annotated[str | None, Query(max_length=32)] = None,
    field: Annotated[str | None, Query(max_length=200)] = None,
    procedure: Annotated[str | None, Query(max_length=200)] = None,
):
    """The desk search's dossiers as XLSX (as `GET /api/v1/dossiers?format=xlsx`), in the page's language."""
    filters = DeskFilters.read(request, status, received_from, received_to, field, procedure)
    asked = {"q": blank_to_none(q), **filters.search()}
    return search_download(request, session, request.state.principal, asked, language(request))


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
            "components": _components(session, chosen),
            "components_oob": True,
        },
    )


@router.get("/desk/components")
def component_checklist(
    request: Request, session: SessionDep, procedure_code: Annotated[str | None, Query(max_length=64)] = None
):
    """The chosen procedure's component list as a checklist (the page fetches it when a procedure is picked)."""
    return render(
        request,
        "web/_components.html",
        {"components": _components(session, blank_to_none(procedure_code)), "form": {}},
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
    email: Annotated[str | None, Form(max_length=254)] = None,
    contact_consent: Annotated[str | None, Form(max_length=8)] = None,
    preferred_channel: Annotated[str | None, Form(max_length=8)] = None,
    received_at: Annotated[str | None, Form(max_length=32)] = None,
    backdate_reason: Text = None,
    key: Annotated[str | None, Form(max_length=128)] = None,
    status: Annotated[str, Form(max_length=16)] = "received",
    refusal_reason: Text = None,
    # FastAPI copies a parameter's default for each request: these lists are never shared
    component: Annotated[list[str], Form()] = [],  # noqa: B006
    copies_seq: Annotated[list[str], Form()] = [],  # noqa: B006
    copies: Annotated[list[str], Form()] = [],  # noqa: B006
):
    """Receive a dossier, then show its receipt (form 01) with the appointment, ready to print; or, with
    status=refused ("Từ chối tiếp nhận") and a reason, record the refusal at receipt and show form 03."""
    if not may_use(request.state.principal)["receive"]:  # clerks (and administrators), as the API
        raise Forbidden(
            f"a {request.state.principal.role.value} does not receive dossiers; clerks do",
            message_id="role",
            role=request.state.principal.role.value,
            roles=("admin", "clerk"),
        )
    key = blank_to_none(key)
    form = {
        "procedure_code": blank_to_none(procedure_code),
        "agency_code": blank_to_none(agency_code),
        "channel": channel,
        "name": blank_to_none(name),
        "id_number": blank_to_none(id_number),
        "phone": blank_to_none(phone),
        "address": blank_to_none(address),
        "email": blank_to_none(email),
        "contact_consent": contact_consent == "true",
        "preferred_channel": blank_to_none(preferred_channel),
        "received_at": blank_to_none(received_at),
        "backdate_reason": blank_to_none(backdate_reason),
        "refusal_reason": blank_to_none(refusal_reason),
        "components": _numbers(component) if copies_seq else None,
        "copies": dict(zip(_numbers(copies_seq), (value[:8] for value in copies), strict=False)),
    }
    refused = status == "refused"
    try:
        with session.begin_nested():
            if status not in ("received", "refused"):
                raise InvalidInput(f"status is 'received' or 'refused', not {status[:16]!r}")
            if refused and not form["refusal_reason"]:
                raise InvalidInput(
                    "a refusal at receipt needs its reason (it is printed on form 03)", message_id="refusal_reason"
                )
            if not form["procedure_code"]:
                raise InvalidInput(
                    "choose a procedure: search by its name or code, then pick one in the list",
                    message_id="choose_procedure",
                )
            data = DossierCreate(
                procedure_code=form["procedure_code"],
                agency_code=form["agency_code"] or "",
                channel=channel,
                received_at=typed_date(request, form["received_at"], "desk.received_at"),
                backdate_reason=form["backdate_reason"],
                status=status,
                reason=form["refusal_reason"] if refused else None,
                applicant={
                    **{name: form[name] for name in APPLICANT_FIELDS if form[name] is not None},
                    "contact_consent": form["contact_consent"],
                },
                components=_received(form),
            )
            principal = request.state.principal
            scope = f"{principal.username} POST /desk/dossiers"
            done = receive_dossier(request, session, principal, data, key=key, scope=scope)
            if done.stored is not None:  # a form posted twice (a double click): the first one's dossier
                code = done.stored.response["code"]
            else:
                code = done.written.dossier.code
                if key:
                    idempotency.complete(session, key=key, status_code=303, response={"code": code})
    except PAGE_ERRORS as exc:
        return _desk(request, session, form=form, problem=Problem.of(exc))
    audit_dossier(request, code)
    response = RedirectResponse(
        keep_lang(request, f"/desk/dossiers/{code}/{'forms/03' if refused else 'receipt'}"), status_code=303
    )
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
    extra: dict | None = None,
) -> Response:
    principal = request.state.principal
    dossier = readable_dossier(session, code, principal)
    view = dossier_view(session, request, dossier, principal)
    calendar = request.app.state.calendars.get(session, view.receiving_agency_code)
    every_agency = agencies(session)
    return render(
        request,
        "web/dossier.html",
        {
            "dossier": view,
            # what the status admits (the state machine) and the user's role and scope allow (the API's rule)
            "offered_events": permitted_events(principal, dossier, view.allowed_events),
            "names": {a.code: a.name for a in every_agency},
            "staff": display_names(session, [event.actor for event in view.timeline]),
            "agencies": [a for a in every_agency if a.active],
            "event_fields": EVENT_FIELDS,
            "required_fields": REQUIRED_FIELDS,
            "key": uuid.uuid4().hex,
            "problem": problem,
            "submitted": submitted,
            "done": done if done in EVENT_TYPES else None,
            "minutes_per_day": calendar.minutes_per_day,
            "messages": notices.messages_of(session, dossier),
            "ladder": notices.ladder(session, dossier),
            "may_backdate": request.state.principal.role in BACKDATING_ROLES,
            "backdate_grace": request.app.state.settings.backdate_grace_minutes,
            "may_change_contact": may_change_contact(principal, dossier),
            **(extra or {}),
        },
        status_code=problem.status_code if problem else 200,
        page_path=f"/desk/dossiers/{code}",
    )


@router.get("/desk/dossiers/{code}")
def dossier_page(
    request: Request, session: SessionDep, code: str, done: Annotated[str | None, Query(max_length=32)] = None
):
    """A dossier: its clock, stages, timeline and a form for each event allowed now."""
    if done == "contact":  # the applicant's contact was changed (api/web/contact_view.py)
        return _dossier_page(request, session, code, extra={"contact_done": True})
    return _dossier_page(request, session, code, done=done)


@router.get("/desk/dossiers/{code}/forms/{number}")
def form(request: Request, session: SessionDep, code: str, number: Annotated[str, Path(pattern=FORM_NUMBER_PATTERN)]):
    """A form of Circular 03/2025 (01–06), ready to print: the same use case as the API's."""
    return render_form(request, session, request.state.principal, code, number)


@router.get("/desk/dossiers/{code}/receipt")
def receipt(request: Request, session: SessionDep, code: str):
    """Form 01 (alias), Giấy tiếp nhận hồ sơ và hẹn trả kết quả, with the appointment; ready to print."""
    return render_form(request, session, request.state.principal, code, "01")


@router.get("/desk/dossiers/{code}/apology")
def apology(request: Request, session: SessionDep, code: str):
    """Form 04 (alias), Phiếu xin lỗi và hẹn lại ngày trả kết quả, once an apology was issued."""
    return render_form(request, session, request.state.principal, code, "04")


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
    """Record one event; a refusal (state machine, clock, input) is shown on the dossier page as the API says it (a
    dossier outside the user's scope is unknown to the page too: 404)."""
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
            typed = {
                **fields,
                "new_due_at": typed_date(request, fields["new_due_at"], "field.new_due_at"),
                "at": typed_date(request, fields["at"], "common.when"),
            }
            data = EventCreate(**{name: value for name, value in typed.items() if value is not None})
            principal = request.state.principal
            scope = f"{principal.username} POST /desk/dossiers/{code}/events"
            done = record_dossier_event(request, session, principal, code, data, key=key, scope=scope)
            if done.stored is None and key:
                idempotency.complete(session, key=key, status_code=303, response={"code": code})
    except PAGE_ERRORS as exc:
        return _dossier_page(request, session, code, problem=Problem.of(exc), submitted=fields)
    return RedirectResponse(keep_lang(request, f"/desk/dossiers/{code}?done={data.type}"), status_code=303)


@router.get("/desk/registers/intake")
def intake_register(
    request: Request,
    session: SessionDep,
    agency: Annotated[str | None, Query(max_length=64)] = None,
    day: Annotated[str | None, Query(alias="date", max_length=32)] = None,
    format: Annotated[str | None, Query(max_length=8)] = None,
):
    """The day's intake register (sổ theo dõi hồ sơ) of an agency in the user's scope, and its XLSX."""
    principal = request.state.principal
    agency = blank_to_none(agency) or request.cookies.get(AGENCY_COOKIE) or principal.agency_code
    try:
        typed = typed_date(request, day, "register.date", date_only=True)
        chosen = date.fromisoformat(typed) if typed else datetime.now(LOCAL_TZ).date()
        register = forms.intake_register(session, principal, agency, chosen)
    except PAGE_ERRORS as exc:
        problem = Problem.of(exc)
        context = {"register": None, "agency_code": agency, "day": day or "", "problem": problem}
        context["agencies"] = _register_agencies(session, principal)
        return render(request, "web/register.html", context, status_code=problem.status_code)
    if format == "xlsx":
        return Response(
            forms.register_xlsx(register),
            media_type=XLSX,
            headers={"Content-Disposition": f'attachment; filename="{forms.register_file_name(register)}"'},
        )
    context = {
        "register": register,
        "columns": forms.REGISTER_COLUMNS,
        "agency_code": register["agency"].code,
        "day": register["day"].isoformat(),
        "agencies": _register_agencies(session, principal),
        "problem": None,
    }
    return render(request, "web/register.html", context)


def _register_agencies(session: Session, principal) -> list:
    """The agencies whose register the user may read: those of its scope."""
    every = agencies(session)
    if principal.scope is None:
        return every
    tree = catalogue.agency_tree(session)
    return [a for a in every if tree.by_code[a.code].id in principal.scope]




WORKLIST_PAGE_SIZE = 50


@router.get("/desk/worklist")
def worklist_page(
    request: Request,
    session: SessionDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    results_page: Annotated[int, Query(ge=1, le=100_000)] = 1,
):
    """The steps the user's agencies hold now, the one due first on top, with the step's remaining working time;
    then the results waiting there: to be sent back to the receiving desk, or returned at it."""
    principal = request.state.principal
    items, total = work_items(request, session, principal, None, Paging(page, WORKLIST_PAGE_SIZE))
    results, results_total = result_items(session, principal, None, Paging(results_page, WORKLIST_PAGE_SIZE))
    calendar = request.app.state.calendars.get(session, principal.agency_code)
    return render(
        request,
        "web/worklist.html",
        {
            "items": items,
            "total": total,
            "page": page,
            "pages": max((total + WORKLIST_PAGE_SIZE - 1) // WORKLIST_PAGE_SIZE, 1),
            "results": results,
            "results_total": results_total,
            "results_page": results_page,
            "results_pages": max((results_total + WORKLIST_PAGE_SIZE - 1) // WORKLIST_PAGE_SIZE, 1),
            "names": {a.code: a.name for a in agencies(session)},
            "minutes_per_day": calendar.minutes_per_day,
        },
    )
