"""Dossier intake, events, reading and the printable forms (01–06, api/forms.py).

Who may do what: clerks receive at their agency and record events on dossiers received there;
officers record events on dossiers their agency holds; managers issue apologies in their scope;
identity numbers, phones and addresses are shown only to staff of the agencies handling the dossier;
a dossier outside the user's scope answers 404, as an unknown code does.
"""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal, NamedTuple

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi import Path as FastPath
from fastapi.responses import JSONResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel

from accounts.models import Role
from accounts.service import Principal
from api import forms
from api.calendars import calendar_for
from api.deps import PagingDep, SessionDep, audit_dossier, audit_read
from api.exports import documented_downloads, search_xlsx
from api.security import (
    STAFF,
    allow,
    dossier_view,
    event_policy,
    personal_data_shown,
    readable_dossier,
    scoped_search,
    visible_view,
)
from dossiers import events, idempotency, intake, reading, search
from dossiers.models import IdempotencyRecord
from dossiers.schemas import DossierCreate, DossierRead, DossierSummary, EventCreate
from kernel.errors import Forbidden
from kernel.localtime import local_minute
from kernel.schemas import IsoDateTime, Page
from notify import outbox
from notify.outbox import Links
from procedures.service import get_agency

router = APIRouter(prefix="/dossiers", tags=["dossiers"])
templates = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")

IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", max_length=128, description="a retry with the same key writes nothing")
]
Staff = Annotated[Principal, Depends(allow(*STAFF))]
Clerk = Annotated[Principal, Depends(allow(Role.CLERK))]
EventRecorder = Annotated[Principal, Depends(allow(Role.CLERK, Role.OFFICER, Role.MANAGER))]
# A printable form is HTML; its errors are JSON like everywhere else (hence not response_class=HTMLResponse).
PRINTABLE = {
    200: {"description": "the form, as an HTML page to print", "content": {"text/html": {"schema": {"type": "string"}}}}
}


BACKDATING_ROLES = (Role.MANAGER, Role.ADMIN)


def time_policy(request: Request, principal: Principal) -> dict:
    """The event time policy's keywords for the services, for this user (docs/event-time.md).

    Every door that records what a user says happened (this API, the desk pages) passes these: an
    instant further back than the grace needs the manager or admin role and a backdate_reason.
    """
    settings = request.app.state.settings
    return {
        "may_backdate": principal.role in BACKDATING_ROLES,
        "rules": intake.TimeRules(
            backdate_grace=timedelta(minutes=settings.backdate_grace_minutes),
            apology_max_extension=settings.apology_max_extension,
        ),
    }


def tell_applicant(request: Request, session, written: reading.Written) -> None:
    """The message the write sends its applicant (with consent), into the outbox in the write's transaction.

    Both doors (this API, the desk pages) call it after the service, before the session commits."""
    settings = request.app.state.settings
    links = Links(settings.public_url or str(request.base_url))
    outbox.on_written(session, written, links=links, now=datetime.now(UTC), hours=settings.citizen_window)


class Done(NamedTuple):
    """What a write's use case did: `written`, what it wrote; or `stored`, the answer of the request first made with
    the same Idempotency-Key (nothing is written again)."""

    written: reading.Written | None
    stored: IdempotencyRecord | None


def claimed(session, key: str | None, scope: str, data: BaseModel) -> IdempotencyRecord | None:
    """The idempotency claim both doors make before a write: the stored answer of the request first made with `key`
    (the same scope and body; another body is a conflict), or None: no key, or the key is now claimed for this
    request (the door stores its answer with `idempotency.complete`)."""
    if not key:
        return None
    return idempotency.claim(session, key=key, scope=scope, body=data.model_dump(mode="json"))


def check_intake_agency(session, principal: Principal, agency_code: str) -> None:
    """A user receives dossiers at the agencies of its scope only."""
    if not principal.covers(get_agency(session, agency_code).id):
        raise Forbidden(
            f"you receive dossiers at {principal.agency_code} (and the agencies under it), not {agency_code}",
            message_id="intake_outside_scope",
            own=principal.agency_code,
            agency=agency_code,
        )


def receive_dossier(
    request: Request, session, principal: Principal, data: DossierCreate, *, key: str | None, scope: str
) -> Done:
    """Intake, the one use case behind `POST /dossiers` and the desk's form (which differ only in how they read the
    request and answer): the agency must be in the user's scope; a key used before gives its stored answer;
    else the dossier is received (`dossiers.intake.receive`), its applicant told and its audit row named."""
    check_intake_agency(session, principal, data.agency_code)
    if (stored := claimed(session, key, scope, data)) is not None:
        return Done(None, stored)
    written = intake.receive(
        session,
        data=data,
        actor=principal.username,
        calendar_for=calendar_for(request, session),
        now=datetime.now(UTC),
        idempotency_key=key,
        **time_policy(request, principal),
    )
    return Done(_after_write(request, session, written), None)


def record_dossier_event(
    request: Request, session, principal: Principal, code: str, data: EventCreate, *, key: str | None, scope: str
) -> Done:
    """An event, the one use case behind `POST /dossiers/{code}/events` and the dossier page's forms: a dossier
    outside the user's scope is unknown to it (404); a key used before gives its stored answer; else the event is
    recorded (`dossiers.events.record`, refused outside the user's role and scope), the applicant told and the audit
    row named."""
    readable_dossier(session, code, principal)
    if (stored := claimed(session, key, scope, data)) is not None:
        return Done(None, stored)
    written = events.record(
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
    return Done(_after_write(request, session, written), None)


def _after_write(request: Request, session, written: reading.Written) -> reading.Written:
    tell_applicant(request, session, written)
    request.state.audit_detail = (f"dossier {written.dossier.code}" + backdating_note(written.events[-1]))[:1000]
    return written


def backdating_note(event) -> str:
    """What the audit row says of a back-dated event (docs/event-time.md); empty for any other."""
    if event.backdate_reason is None:
        return ""
    return f"; {event.type} back-dated to {local_minute(event.at)}: {event.backdate_reason}"


def _json(model: BaseModel, status_code: int = 200) -> Response:
    """The answer serialised by pydantic at once: FastAPI would validate it again, one more thread hop."""
    return Response(model.model_dump_json(), status_code=status_code, media_type="application/json")


def _answer(request: Request, session, done: Done, key: str | None, principal: Principal) -> Response:
    """The API's answer to a write: the stored one for a repeated key, else the dossier from what the write holds
    (nothing is read back), kept under the key."""
    if done.stored is not None:
        stored = done.stored
        return JSONResponse(stored.response, status_code=stored.status_code, headers={"Idempotent-Replayed": "true"})
    written = done.written
    audit_dossier(request, written.dossier.code, personal_data=personal_data_shown(written, principal))
    view = visible_view(written, principal)
    if key:
        idempotency.complete(session, key=key, status_code=201, response=view.model_dump(mode="json"))
    return _json(view, status_code=201)


@router.post("", status_code=201, response_model=DossierRead)
def receive(request: Request, session: SessionDep, principal: Clerk, data: DossierCreate, key: IdempotencyKey = None):
    """Receive a dossier: its code, its first event and its appointment (due) at once."""
    done = receive_dossier(request, session, principal, data, key=key, scope=f"{principal.username} POST /dossiers")
    return _answer(request, session, done, key, principal)


@router.post("/{code}/events", status_code=201, response_model=DossierRead)
def record_event(
    request: Request,
    session: SessionDep,
    principal: EventRecorder,
    code: str,
    data: EventCreate,
    key: IdempotencyKey = None,
):
    """Record what happened (hand-off, supplement, pause, apology, result…); refused events name the allowed ones."""
    scope = f"{principal.username} POST /dossiers/{code}/events"
    done = record_dossier_event(request, session, principal, code, data, key=key, scope=scope)
    return _answer(request, session, done, key, principal)


@router.get("", response_model=Page[DossierSummary], responses=documented_downloads("xlsx"))
def list_dossiers(
    request: Request,
    session: SessionDep,
    principal: Staff,
    paging: PagingDep,
    agency: Annotated[
        str | None, Query(max_length=64, description="received at or held by (default: every agency of your scope)")
    ] = None,
    status: Annotated[int | None, Query(ge=1, le=10, description="status code 1–10")] = None,
    procedure: Annotated[str | None, Query(max_length=200, description="procedure code, or words of its name")] = None,
    field: Annotated[str | None, Query(max_length=200, description="field code, or words of its name")] = None,
    received_from: IsoDateTime | None = None,
    received_to: IsoDateTime | None = None,
    q: Annotated[
        str | None,
        Query(max_length=200, description="an exact dossier code, the first digits of a phone or identity number, "
              "or words of the applicant's name (accents, case and order ignored)"),
    ] = None,
    code: Annotated[str | None, Query(max_length=80, description="exact dossier code, case ignored")] = None,
    name: Annotated[str | None, Query(max_length=200, description="words of the applicant's name")] = None,
    phone: Annotated[str | None, Query(max_length=20, description="the phone, whole or its first digits")] = None,
    id_number: Annotated[
        str | None, Query(max_length=20, description="the identity number, whole or its first digits")
    ] = None,
    format: Annotated[
        Literal["json", "xlsx"], Query(description="xlsx: the matching dossiers (up to 10,000) as a spreadsheet")
    ] = "json",
    lang: Annotated[Literal["vi", "en"], Query(description="the spreadsheet's language")] = "vi",
):
    """The dossiers of your scope, newest first. `total` counts up to 10,000: past it `total_capped` is true
    ("more than 10,000"). An XLSX export is audited (docs/audit.md)."""

    filters = {
        "agency": agency, "status": status, "procedure": procedure, "field": field,
        "received_from": received_from, "received_to": received_to,
        "q": q, "code": code, "name": name, "phone": phone, "id_number": id_number,
    }  # fmt: skip
    if format == "xlsx":
        return search_download(request, session, principal, filters, lang)
    found = scoped_search(session, principal, **filters, page=paging.page, page_size=paging.page_size)
    page = Page[DossierSummary](
        items=found.items, total=found.total, total_capped=found.capped, page=paging.page, page_size=paging.page_size
    )
    return _json(page)


def search_download(request: Request, session, principal: Principal, filters: dict, lang: str) -> Response:
    """The search's dossiers (up to `SEARCH_TOTAL_CAP`, newest first) as XLSX; audited as a read of personal data
    (the applicants' names; numbers are not exported). The desk's download asks here too."""
    found = scoped_search(session, principal, **filters, page=1, page_size=search.SEARCH_TOTAL_CAP)
    asked = ", ".join(f"{key}={value}" for key, value in filters.items() if value not in (None, ""))
    audit_read(
        request,
        detail=f"search export (xlsx) of {len(found.items)} dossiers" + (f": {asked}" if asked else ""),
        personal_data="masked",
    )
    return search_xlsx(found, lang=lang)


@router.get("/{code}", response_model=DossierRead)
def read_dossier(request: Request, session: SessionDep, principal: Staff, code: str):
    return _json(dossier_view(session, request, readable_dossier(session, code, principal), principal))


def render_form(request: Request, session, principal: Principal, code: str, number: str) -> Response:
    """A printable form (01–06) from `api.forms.form_context`: both doors (this API, the desk) render it here."""
    return templates.TemplateResponse(
        request, f"form_{number}.html", forms.form_context(request, session, principal, code, number)
    )


FormNumber = Annotated[str, FastPath(pattern=forms.FORM_NUMBER_PATTERN, description="01 to 06")]


@router.get("/{code}/forms/{number}", response_class=Response, responses=PRINTABLE)
def form(request: Request, session: SessionDep, principal: Staff, code: str, number: FormNumber):
    """A form of Circular 03/2025, ready to print: 01 receipt and appointment, 02 supplement request, 03 refusal
    at receipt, 04 apology, 05 stop notice, 06 control slip. 404 when the event the form tells of never happened."""
    return render_form(request, session, principal, code, number)


@router.get("/{code}/receipt", response_class=Response, responses=PRINTABLE)
def receipt(request: Request, session: SessionDep, principal: Staff, code: str):
    """Form 01 (alias of `/forms/01`): Giấy tiếp nhận hồ sơ và hẹn trả kết quả, ready to print."""
    return render_form(request, session, principal, code, "01")


@router.get("/{code}/apology", response_class=Response, responses=PRINTABLE)
def apology(request: Request, session: SessionDep, principal: Staff, code: str):
    """Form 04 (alias of `/forms/04`): Phiếu xin lỗi và hẹn lại ngày trả kết quả, once an apology was issued."""
    return render_form(request, session, principal, code, "04")
