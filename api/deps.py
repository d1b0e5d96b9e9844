"""Request dependencies: settings, the per-request session (one transaction), paging."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy import Engine
from sqlmodel import Session

from api.db import session_scope
from api.settings import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_session(request: Request) -> Iterator[Session]:
    """Commits once when the route returns, before the response is sent; rolls back on any error."""
    state = request.app.state
    with session_scope(state.engine if request.method in READ_METHODS else state.write_engine) as session:
        yield session


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
        self.page = page
        self.page_size = min(page_size or settings.default_page_size, settings.max_page_size)


PagingDep = Annotated[Paging, Depends()]
