"""APScheduler wiring: the nightly run at 01:00 local time and, when MOTCUA_EXCHANGE_URL is set, the sync to the
national gateway every MOTCUA_EXCHANGE_INTERVAL_MINUTES, in its own process (`motcua scheduler`) or
inside the web process (`MOTCUA_SCHEDULER=embedded`, one web worker only). Only the scheduler that
holds the leader lock runs jobs; the nightly run itself takes a second lock, so a manual
`motcua nightly run` never overlaps a scheduled one."""

import logging
import time
from contextlib import ExitStack

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from api.db import engine_for
from api.settings import Settings
from sla.calendars import CalendarStore
from exchange.sync import Gateway, run_sync
from sla.jobs import LockBusy, leader_lock, run_nightly

log = logging.getLogger("motcua.scheduler")
JOB_TABLE = "apscheduler_jobs"  # owned by APScheduler's job store, not by the migrations


def calendar_store(settings: Settings) -> CalendarStore:
    return CalendarStore(
        first_year=settings.calendar_first_year,
        last_year=settings.calendar_last_year,
        working_hours=settings.working_periods,
    )


def nightly_job() -> None:
    """The scheduled run: every day not yet closed, oldest first (settings read at run time)."""
    settings = Settings()
    try:
        results = run_nightly(
            engine_for(settings.database_url),
            calendars=calendar_store(settings),
            par=settings.par_scoring,
            catch_up_days=settings.nightly_catch_up_days,
        )
    except LockBusy as exc:
        log.warning("%s", exc)
        return
    for result in results:
        log.info("nightly %s %s: %s (%s rows)", result.job, result.period_key, result.status, result.rows_written)


def gateway_of(settings: Settings) -> Gateway:
    """The national gateway the sync posts to (MOTCUA_EXCHANGE_*)."""
    return Gateway(
        url=settings.exchange_url,
        token=settings.exchange_token,
        timeout_seconds=settings.exchange_timeout_seconds,
        retries=settings.exchange_retries,
        retry_seconds=settings.exchange_retry_seconds,
        interval_minutes=settings.exchange_interval_minutes,
    )


def exchange_sync(settings: Settings):
    """One sync run to the national gateway (exchange/sync.py) under its own lock; the report."""
    store = calendar_store(settings)
    return run_sync(
        engine_for(settings.database_url),
        gateway=gateway_of(settings),
        calendar_for=lambda session: (lambda code: store.get(session, code)),
        limit=settings.exchange_batch,
    )


def exchange_job() -> None:
    """The scheduled sync (settings read at run time)."""
    settings = Settings()
    if not settings.exchange_url:
        return
    try:
        report = exchange_sync(settings)
    except LockBusy as exc:
        log.warning("%s", exc)
        return
    log.info("exchange sync: %s", report.summary())


def build_scheduler(settings: Settings, *, blocking: bool) -> BaseScheduler:
    kind = BlockingScheduler if blocking else BackgroundScheduler
    scheduler = kind(
        jobstores={"default": SQLAlchemyJobStore(engine=engine_for(settings.database_url), tablename=JOB_TABLE)},
        timezone=settings.time_zone,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 12 * 3600},
    )
    scheduler.add_job(
        "api.scheduler:nightly_job",
        trigger="cron",
        hour=settings.nightly_hour,
        minute=0,
        id="nightly",
        name="nightly: re-derive, daily snapshot, period freezes",
        replace_existing=True,
    )
    if settings.exchange_url:
        scheduler.add_job(
            "api.scheduler:exchange_job",
            trigger="interval",
            minutes=settings.exchange_interval_minutes,
            id="exchange",
            name="national exchange: post changed dossiers to the gateway",
            replace_existing=True,
        )
    elif scheduler.get_job("exchange") is not None:
        scheduler.remove_job("exchange")
    return scheduler


def start_embedded(settings: Settings, stack: ExitStack) -> BaseScheduler | None:
    """Start a background scheduler in this process if it can lead; the lock and the scheduler
    are released when `stack` closes."""
    acquired = stack.enter_context(leader_lock(engine_for(settings.database_url), "scheduler"))
    if not acquired:
        log.info("another scheduler leads; this process runs no jobs")
        return None
    scheduler = build_scheduler(settings, blocking=False)
    scheduler.start()
    stack.callback(scheduler.shutdown, wait=False)
    return scheduler


def run_forever(settings: Settings, *, standby_seconds: float = 30) -> None:
    """`motcua scheduler`: lead when the lock is free, otherwise wait as a standby and try again."""
    engine = engine_for(settings.database_url)
    while True:
        with leader_lock(engine, "scheduler") as acquired:
            if acquired:
                log.info("leading: nightly run at %02d:00 %s", settings.nightly_hour, settings.time_zone)
                build_scheduler(settings, blocking=True).start()
                return
        log.info("standby: another scheduler leads; retrying in %.0f s", standby_seconds)
        time.sleep(standby_seconds)
