"""The application factory: settings are read when `create_app()` is called, not at import."""

from contextlib import ExitStack, asynccontextmanager

from fastapi import FastAPI

from api import errors
from api.db import engine_for, for_writes, upgrade
from api.routes import calendar, catalogue, catalogue_admin, dossiers, health, jobs, reports
from api.scheduler import start_embedded
from api.settings import Settings
from sla.calendars import CalendarStore

API_PREFIX = "/api/v1"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    engine = engine_for(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        upgrade(engine)
        with ExitStack() as stack:
            if settings.scheduler == "embedded":
                app.state.scheduler = start_embedded(settings, stack)
            yield

    app = FastAPI(
        title="motcua",
        summary="One-stop-shop dossiers, working-day deadlines, overdue queues and on-time rates",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.scheduler = None
    app.state.engine = engine
    app.state.write_engine = for_writes(engine)
    app.state.calendars = CalendarStore(
        first_year=settings.calendar_first_year,
        last_year=settings.calendar_last_year,
        working_hours=settings.working_periods,
    )
    errors.install(app)
    for router in (
        health.router,
        catalogue.router,
        catalogue_admin.router,
        calendar.router,
        dossiers.router,
        reports.router,
        jobs.router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    return app


def __getattr__(name: str):
    """`api.app:app` for uvicorn, built on first access so that importing this module reads no settings."""
    if name == "app":
        return create_app()
    raise AttributeError(name)
