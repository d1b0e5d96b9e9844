"""Dossier intake, events, reading and the printable forms (01 receipt, 04 apology)."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates

from api.deps import PagingDep, SessionDep
from dossiers import idempotency, service
from dossiers.schemas import DossierCreate, DossierRead, DossierSummary, EventCreate
from procedures.errors import NotFound
from procedures.models import Agency, Procedure
from procedures.schemas import Page
from sla.core.calendar import LOCAL_TZ

router = APIRouter(prefix="/dossiers", tags=["dossiers"])
templates = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")

IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", max_length=128, description="a retry with the same key writes nothing")
]
Actor = Annotated[str, Header(alias="X-Actor", max_length=64, description="who records it (until accounts exist)")]


def _calendar_for(request: Request, session):
    return lambda agency_code: request.app.state.calendars.get(session, agency_code)


def _written(session, request: Request, dossier, key: str | None) -> JSONResponse:
    view = service.read(session, dossier, calendar_for=_calendar_for(request, session), now=datetime.now(UTC))
    body = view.model_dump(mode="json")
    if key:
        idempotency.complete(session, key=key, status_code=201, response=body)
    return JSONResponse(body, status_code=201)


def _replayed(session, key: str | None, scope: str, body: dict) -> JSONResponse | None:
    if not key:
        return None
    stored = idempotency.claim(session, key=key, scope=scope, body=body)
    if stored is None:
        return None
    return JSONResponse(stored.response, status_code=stored.status_code, headers={"Idempotent-Replayed": "true"})


@router.post("", status_code=201, response_model=DossierRead)
def receive(
    request: Request, session: SessionDep, data: DossierCreate, key: IdempotencyKey = None, actor: Actor = "desk"
):
    """Receive a dossier: its code, its first event and its appointment (due) at once."""
    if replay := _replayed(session, key, "POST /dossiers", data.model_dump(mode="json")):
        return replay
    dossier = service.receive(
        session,
        data=data,
        actor=actor,
        calendar_for=_calendar_for(request, session),
        now=datetime.now(UTC),
        idempotency_key=key,
    )
    return _written(session, request, dossier, key)


@router.post("/{code}/events", status_code=201, response_model=DossierRead)
def record_event(
    request: Request,
    session: SessionDep,
    code: str,
    data: EventCreate,
    key: IdempotencyKey = None,
    actor: Actor = "desk",
):
    """Record what happened (hand-off, supplement, pause, apology, result…); refused events name the allowed ones."""
    if replay := _replayed(session, key, f"POST /dossiers/{code}/events", data.model_dump(mode="json")):
        return replay
    dossier = service.record(
        session,
        code=code,
        data=data,
        actor=actor,
        calendar_for=_calendar_for(request, session),
        now=datetime.now(UTC),
        idempotency_key=key,
    )
    return _written(session, request, dossier, key)


@router.get("", response_model=Page[DossierSummary])
def list_dossiers(
    session: SessionDep,
    paging: PagingDep,
    agency: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[int | None, Query(ge=1, le=10, description="status code 1–10")] = None,
    procedure: Annotated[str | None, Query(max_length=64)] = None,
    received_from: datetime | None = None,
    received_to: datetime | None = None,
    q: Annotated[str | None, Query(max_length=200, description="code, applicant name or phone")] = None,
):
    aware = lambda value: value.replace(tzinfo=LOCAL_TZ) if value and value.tzinfo is None else value  # noqa: E731
    items, total = service.search(
        session,
        agency=agency,
        status=status,
        procedure=procedure,
        received_from=aware(received_from),
        received_to=aware(received_to),
        q=q,
        page=paging.page,
        page_size=paging.page_size,
    )
    return Page(items=items, total=total, page=paging.page, page_size=paging.page_size)


@router.get("/{code}", response_model=DossierRead)
def read_dossier(request: Request, session: SessionDep, code: str):
    dossier = service.get_dossier(session, code)
    return service.read(session, dossier, calendar_for=_calendar_for(request, session), now=datetime.now(UTC))


def _form_context(request: Request, session, code: str) -> dict:
    dossier = service.get_dossier(session, code)
    view = service.read(session, dossier, calendar_for=_calendar_for(request, session), now=datetime.now(UTC))
    return {
        "dossier": view,
        "agency": session.get(Agency, dossier.receiving_agency_id),
        "procedure": session.get(Procedure, dossier.procedure_id),
        "local": lambda instant: instant.astimezone(LOCAL_TZ) if instant else None,
    }


@router.get("/{code}/receipt", response_class=HTMLResponse)
def receipt(request: Request, session: SessionDep, code: str):
    """Form 01: Giấy tiếp nhận hồ sơ và hẹn trả kết quả, ready to print."""
    return templates.TemplateResponse(request, "receipt.html", _form_context(request, session, code))


@router.get("/{code}/apology", response_class=HTMLResponse)
def apology(request: Request, session: SessionDep, code: str):
    """Form 04: Phiếu xin lỗi và hẹn lại ngày trả kết quả, once an apology was issued."""
    context = _form_context(request, session, code)
    letters = [e for e in context["dossier"].timeline if e.type == "apology_issued"]
    if not letters:
        raise NotFound(f"dossier {code} has no apology (form 04): none was issued")
    context["letter"] = letters[0]
    return templates.TemplateResponse(request, "apology.html", context)
