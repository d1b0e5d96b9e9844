"""Request dependencies: settings, the per-request session (one transaction), paging."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy import Engine
from sqlmodel import Session

from api import accounts
from api.settings import Settings
from procedures.errors import InvalidInput


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_session(request: Request) -> Iterator[Session]:
    """Commits once when the route returns, before the response is sent; rolls back on any error.

    A write is audited in the same transaction (so no write lands untraced); a refused or failed
    write is audited after its rollback. `app.state.open_session(write)` opens the sessions.
    """
    open_session = request.app.state.open_session
    write = request.method not in READ_METHODS
    with open_session(write) as session:
        try:
            yield session
            if write:
                accounts.record(session, **_audit_fields(request, "ok"))
            session.commit()
        except BaseException as exc:
            session.rollback()
            if write:
                status = getattr(exc, "status_code", 500)
                with open_session(False) as audit:
                    accounts.record(audit, **_audit_fields(request, f"refused {status}" if status < 500 else "error"))
                    audit.commit()
            raise


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
    def __init__(
        self,
        request: Request,
        page: Annotated[int, Query(ge=1, le=100_000, description="1-based page number")] = 1,
        page_size: Annotated[int | None, Query(ge=1, description="rows per page")] = None,
    ) -> None:
        settings: Settings = request.app.state.settings
        if page_size is not None and page_size > settings.max_page_size:
            raise InvalidInput(f"page_size is at most {settings.max_page_size}; got {page_size}")
        self.page = page
        self.page_size = page_size or settings.default_page_size


PagingDep = Annotated[Paging, Depends()]
