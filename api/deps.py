"""Request dependencies: settings, the per-request session (one transaction), paging."""

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import anyio
from fastapi import Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sqlalchemy.exc import DataError, OperationalError, SQLAlchemyError
from sqlmodel import Session

from accounts import audit as audit_trail
from accounts import service as accounts
from api.settings import Settings
from kernel.errors import DomainError, InvalidInput, as_domain_error


async def get_settings(request: Request) -> Settings:  # async: no I/O, no thread hop
    return request.app.state.settings


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FAILED_SIGN_IN = "failed sign-in"
"""The audit outcome of a wrong password: unlike a `refused …` write, it keeps what it wrote (its failure count)."""
log = logging.getLogger("motcua.audit")


class AuditNotRecorded(DomainError):
    """The request's audit row could not be written: the request fails closed (nothing else is written)."""

    status_code = 500
    error = "audit_unavailable"


async def get_session(request: Request) -> AsyncIterator[Session]:
    """Commits once when the route returns, before the response is sent; rolls back on any error.

    The audit trail (see docs/audit.md): a write is audited in the same transaction (so no write lands
    untraced); a refused or failed write is audited after its rollback, in a short transaction of its
    own; so is a read marked with `audit_dossier` (personal data shown, a public lookup), after its
    read transaction has ended. A page that answers a write with an error page (a 4xx, see
    `api.web.common.render`) is a refused write: its writes are rolled back too. An audit row that
    cannot be written fails the request closed: 500, logged, nothing else written.

    `app.state.open_session(write)` opens the sessions. Opening one does no I/O (it connects at its
    first statement); the end of the unit of work runs in the thread pool, in one hop. Principals of
    accounts the request changed (a revoked token, a deactivated user) leave the worker's cache once
    the transaction has ended.
    """
    async with _admitted(request):
        session = request.app.state.open_session(request.method not in READ_METHODS)
        try:
            yield session
        except BaseException as exc:
            with anyio.CancelScope(shield=True):  # a client gone away still gets its rollback and audit row
                await run_in_threadpool(_roll_back, request, session, exc)
            raise
        else:
            with anyio.CancelScope(shield=True):
                await run_in_threadpool(_commit, request, session)


_admissions: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]" = weakref.WeakKeyDictionary()


@asynccontextmanager
async def _admitted(request: Request) -> AsyncIterator[None]:
    """At most `app.state.admitted_units` units of work at once in this worker (the connection pool's size); the
    others wait on the event loop, holding neither a thread nor a connection. Without it a burst took connections
    beyond the pool, each opened and closed again (a new database session per request at 200 intakes/s once the
    worker fell behind, bench/README.md "Intake"), and the overload fed itself."""
    limit = getattr(request.app.state, "admitted_units", None)
    if not limit:
        yield
        return
    loop = asyncio.get_running_loop()
    semaphore = _admissions.get(loop)
    if semaphore is None:
        semaphore = _admissions[loop] = asyncio.Semaphore(limit)
    async with semaphore:
        yield


def audit_dossier(request: Request, code: str, *, personal_data: str | None = None) -> None:
    """Name the dossier this request reads or writes in its audit row, and whether the answer showed the
    applicant's personal data `"unmasked"` or `"masked"`. A read (GET) named here is audited too."""
    request.state.audit_dossier = code
    if personal_data is not None:
        request.state.audit_personal_data = personal_data


def audit_read(request: Request, *, detail: str, personal_data: str | None = None) -> None:
    """Audit this read although it names no single dossier (an export of a search's dossiers), with `detail`."""
    request.state.audit_read = True
    request.state.audit_detail = detail
    if personal_data is not None:
        request.state.audit_personal_data = personal_data


def _audited(request: Request) -> bool:
    return (
        request.method not in READ_METHODS
        or getattr(request.state, "audit_dossier", None) is not None
        or getattr(request.state, "audit_read", False)
    )


def _commit(request: Request, session: Session) -> None:
    outcome = getattr(request.state, "audit_outcome", None) or "ok"
    write = request.method not in READ_METHODS
    try:
        if write:
            if outcome.startswith("refused "):
                session.rollback()  # a refused write keeps nothing but its audit row
            _record(session, request, outcome)
        session.commit()
    except BaseException as exc:
        _roll_back(request, session, exc)
        raise
    _end(request, session)
    if not write and _audited(request):
        _record_apart(request, outcome)  # once the read's transaction has ended


def _roll_back(request: Request, session: Session, exc: BaseException) -> None:
    try:
        session.rollback()
        if _audited(request) and not isinstance(exc, AuditNotRecorded):  # a failed audit row is not retried
            status = _status_of(exc)
            _record_apart(request, f"refused {status}" if status < 500 else "error")
    finally:
        _end(request, session)


def _status_of(exc: BaseException) -> int:
    """The status code the error handlers answer `exc` with (`api.errors`)."""
    status = getattr(as_domain_error(exc) or exc, "status_code", None)
    if isinstance(status, int):
        return status
    if isinstance(exc, RequestValidationError | ValidationError | DataError):
        return 422
    return 500


def record_refusal(request: Request, status: int) -> None:
    """Audit a request refused before its session was opened (the app-wide input check), as `_roll_back` would."""
    if _audited(request):
        _record_apart(request, f"refused {status}")


def _record_apart(request: Request, outcome: str) -> None:
    """The audit row in a short transaction of its own."""
    with request.app.state.open_session(True) as audit:
        _record(audit, request, outcome, commit=True)


def _record(session: Session, request: Request, outcome: str, *, commit: bool = False) -> None:
    fields = _audit_fields(request, outcome)
    try:
        audit_trail.record(session, **fields)
        if commit:
            session.commit()
    except OperationalError:
        raise  # the database is unreachable: 503, as for any statement (api.errors)
    except SQLAlchemyError as exc:
        session.rollback()
        log.error(
            "audit row not written, request refused (%s %s): %s",
            fields["method"],
            fields["path"],
            type(getattr(exc, "orig", exc)).__name__,
        )
        raise AuditNotRecorded(
            "the audit trail could not record this request, so nothing was done; retry later"
        ) from exc


def _end(request: Request, session: Session) -> None:
    token_hashes, user_ids = accounts.changed_accounts(session)
    request.app.state.principals.forget(token_hashes=token_hashes, user_ids=user_ids)
    session.close()


def _route_template(request: Request) -> str | None:
    """The path template of the route that answered, with its routers' prefixes: `/api/v1/dossiers/{code}`.

    The route knows its template without the prefixes; they are what the path holds before the template's
    own part, filled in with the path's parameters."""
    template = getattr(request.scope.get("route"), "path_format", None)
    if template is None:
        return None
    path = request.scope["path"]
    try:
        own = template.format(**request.path_params)
    except (KeyError, IndexError, ValueError):
        return template
    return path[: len(path) - len(own)] + template if path.endswith(own) else template


def _audit_fields(request: Request, outcome: str) -> dict:
    principal = getattr(request.state, "principal", None)
    template = _route_template(request)
    dossier_code = getattr(request.state, "audit_dossier", None)
    if dossier_code is None and template and "/dossiers/{code}" in template:
        dossier_code = request.path_params.get("code")
    return {
        "username": principal.username if principal else None,
        "role": principal.role.value if principal else None,
        "client_address": request.client.host if request.client else None,
        "method": request.method,
        "path": request.url.path,
        "action": f"{request.method} {template}" if template else None,
        "dossier_code": dossier_code,
        "personal_data": getattr(request.state, "audit_personal_data", None),
        "outcome": outcome,
        "detail": getattr(request.state, "audit_detail", None),
    }


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings)]


class Paging:
    """`page` and `page_size` of a list (an async dependency: no I/O, no thread hop)."""

    @classmethod
    async def of(
        cls,
        request: Request,
        page: Annotated[int, Query(ge=1, le=100_000, description="1-based page number")] = 1,
        page_size: Annotated[int | None, Query(ge=1, description="rows per page")] = None,
    ) -> "Paging":
        settings: Settings = request.app.state.settings
        if page_size is not None and page_size > settings.max_page_size:
            raise InvalidInput(f"page_size is at most {settings.max_page_size}; got {page_size}")
        return cls(page, page_size or settings.default_page_size)

    def __init__(self, page: int, page_size: int) -> None:
        self.page = page
        self.page_size = page_size


PagingDep = Annotated[Paging, Depends(Paging.of)]

RowId = Annotated[int, Path(ge=1, le=2**31 - 1, description="a row's id (a positive 32-bit integer)")]
"""A row id in a path: anything larger is no row (422), never a database's overflow (500)."""
