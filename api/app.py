"""The application factory: settings are read when `create_app()` is called, not at import."""

import gc
from contextlib import ExitStack, asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from sqlmodel import Session

from accounts.service import PrincipalCache
from accounts.throttle import SignInThrottle
from api import docs, edge, errors, limits
from api.calendars import calendar_store
from api.db import admitted_units, engine_for, for_writes, upgrade
from api.inputs import plain_parameters
from api.limits import BodySizeLimit
from api.routes import (
    auth,
    calendar,
    catalogue,
    catalogue_admin,
    complaints,
    contact,
    dossiers,
    exchange,
    exchange_history,
    health,
    jobs,
    lookup,
    notifications,
    ratings,
    registers,
    reports,
    scorecard,
    worklist,
)
from api.scheduler import start_embedded
from api.settings import Settings
from api.web import pages
from api.web.auth import SignInRequired, sign_in_redirect
from api.web.common import STATIC_DIR

API_PREFIX = "/api/v1"
# GET answers without personal data that browsers and proxies may keep (every other answer: no-store).
CACHEABLE_READS = tuple(
    f"{API_PREFIX}/{path}" for path in ("procedures", "agencies", "fields", "catalogue/export", "calendar")
)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    engine = engine_for(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        upgrade(engine)
        keep_out_of_full_collections()
        with ExitStack() as stack:
            if settings.scheduler == "embedded":
                app.state.scheduler = start_embedded(settings, stack)
            yield

    app = FastAPI(
        title="motcua",
        summary="One-stop-shop dossiers, working-day deadlines, overdue queues and on-time rates",
        version="0.1.0",
        lifespan=lifespan,
        responses=errors.ERROR_RESPONSES,
        dependencies=[Depends(plain_parameters)],
        docs_url=None,  # api/docs.py: vendored assets, no CDN
        redoc_url=None,
        openapi_url="/openapi.json" if settings.public_docs else None,
    )
    app.state.settings = settings
    app.state.scheduler = None
    app.state.engine = engine
    write_engine = for_writes(engine)
    app.state.open_session = lambda write: Session(write_engine if write else engine, expire_on_commit=False)
    app.state.admitted_units = admitted_units(engine)
    app.state.calendars = calendar_store(settings)
    app.state.principals = PrincipalCache(settings.principal_cache_seconds)
    app.state.sign_in_throttle = SignInThrottle.from_settings(settings)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    errors.install(app)
    limits.install(
        app,
        redis_url=settings.redis_url,
        lookup_rate_limit=settings.lookup_rate_limit,
        lookup_code_failure_limit=settings.lookup_code_failure_limit,
    )
    docs.install(app, public=settings.public_docs)
    # Outside every other layer, Starlette's 500 answers included: the client as the trusted proxies
    # name it, and the security headers on every answer.
    inner_stack = app.build_middleware_stack
    app.build_middleware_stack = lambda: edge.ClientAddress(
        edge.SecurityHeaders(inner_stack(), cacheable=CACHEABLE_READS), settings.trusted_networks
    )
    app.add_exception_handler(SignInRequired, sign_in_redirect)
    for router in (
        health.router,
        auth.router,
        catalogue.router,
        catalogue_admin.router,
        calendar.router,
        dossiers.router,
        reports.router,
        jobs.router,
        lookup.router,
        registers.router,
        worklist.router,
        exchange.router,
        scorecard.router,
        ratings.router,
        complaints.router,
        exchange_history.router,
        notifications.router,
        contact.router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def keep_out_of_full_collections() -> None:
    """Once per process, move what it holds once started (modules, the models' metadata, pandas and numpy) out of
    the garbage collector's reach: its full passes then scan only what came later. A full pass over the ~300,000
    objects of a started worker stops every request for 100–200 ms on the 2-core machine of bench/README.md."""
    if not _frozen:
        gc.collect()
        gc.freeze()
        _frozen.append(True)


_frozen: list[bool] = []


def __getattr__(name: str):
    """`api.app:app` for uvicorn, built on first access so that importing this module reads no settings."""
    if name == "app":
        return create_app()
    raise AttributeError(name)
