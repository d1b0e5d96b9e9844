"""Request dependencies: settings, the per-request session (one transaction), paging."""

from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from sqlmodel import Session

from api import accounts
from api.settings import Settings
from procedures.errors import InvalidInput


async def get_settings(request: Request) -> Settings:  # async: no I/O, no thread hop
    return request.app.state.settings


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_session(request: Request) -> AsyncIterator[Session]:
    """Commits once when the route returns, before the response is sent; rolls back on any error.

    A write is audited in the same transaction (so no write lands untraced); a refused or failed
    write is audited after its rollback. `app.state.open_session(write)` opens the sessions.
    Opening one does no I/O (it connects at its first statement); the end of the unit of work runs
    in the thread pool, in one hop. Principals of accounts the request changed (a revoked token, a
    deactivated user) leave the worker's cache once the transaction has ended.
    """
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


def _commit(request: Request, session: Session) -> None:
    try:
        if request.method not in READ_METHODS:
            accounts.record(session, **_audit_fields(request, "ok"))
        session.commit()
    except BaseException as exc:
        _roll_back(request, session, exc)
        raise
    _end(request, session)


def _roll_back(request: Request, session: Session, exc: BaseException) -> None:
    try:
        session.rollback()
        if request.method not in READ_METHODS:
            status = getattr(exc, "status_code", 500)
            with request.app.state.open_session(False) as audit:
                accounts.record(audit, **_audit_fields(request, f"refused {status}" if status < 500 else "error"))
                audit.commit()
    finally:
        _end(request, session)


def _end(request: Request, session: Session) -> None:
    token_hashes, user_ids = accounts.changed_accounts(session)
    request.app.state.principals.forget(token_hashes=token_hashes, user_ids=user_ids)
    session.close()


def _audit_fields(request: Request, outcome: str) -> dict:
    principal = getattr(request.state, "principal", None)
    return {
        "username": principal.username if principal else None,
        "role": principal.role.value if principal else None,
        "client_address": request.client.host if request.client else None,
        "method": request.method,
        "path": request.url.path[:500],
        "outcome": getattr(request.state, "audit_outcome", outcome) if outcome == "ok" else outcome,
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
