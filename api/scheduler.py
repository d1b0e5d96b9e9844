"""APScheduler wiring: the nightly run at 01:00 local time, the notification rules and the dispatcher every
minute and the staff's daily digest (notify/jobs.py), when MOTCUA_EXCHANGE_URL is set the sync to the national
gateway every MOTCUA_EXCHANGE_INTERVAL_MINUTES, in its own process (`motcua scheduler`, or the one
`motcua serve --scheduler` starts beside its web workers) or inside the web process
(`MOTCUA_SCHEDULER=embedded`, one web worker only). Only the scheduler that holds the leader lock runs
jobs; the nightly run itself takes a second lock, so a manual `motcua nightly run` never overlaps a
scheduled one."""

import logging
import multiprocessing
import time
from contextlib import ExitStack, suppress

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from api.calendars import calendar_store
from api.db import engine_for, for_writes
from api.settings import Settings
from exchange.sync import Gateway, run_sync
from notify.dispatcher import DispatchPolicy
from notify.jobs import run_digest, run_dispatch, run_evaluate
from notify.outbox import Links
from notify.providers import Providers
from sla.jobs import LockBusy, leader_lock, run_nightly

log = logging.getLogger("motcua.scheduler")
JOB_TABLE = "apscheduler_jobs"  # owned by APScheduler's job store, not by the migrations


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


def housekeeping_job() -> None:
    """Once a day after the nightly run: superseded outbox rows, stale sign-in counts, old sent messages."""
    from api.housekeeping import run_housekeeping

    settings = Settings()
    try:
        done = run_housekeeping(engine_for(settings.database_url), settings)
    except LockBusy as exc:
        log.warning("%s", exc)
        return
    log.info("housekeeping: %s", done.summary())


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
        calendar_for=store.calendar_for,
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
def notify_links(settings: Settings) -> Links:
    return Links(settings.public_url or "http://localhost:8000")


def notify_providers(settings: Settings) -> Providers:
    return Providers.configured(
        smtp_url=settings.smtp_url,
        smtp_from=settings.smtp_from,
        sms_webhook_url=settings.sms_webhook_url,
        zalo_webhook_url=settings.zalo_webhook_url,
        webhook_secret=settings.webhook_secret,
    )


def dispatch_policy(settings: Settings) -> DispatchPolicy:
    return DispatchPolicy(
        max_attempts=settings.notify_max_attempts,
        backoff_seconds=settings.notify_backoff_seconds,
        batch_size=settings.notify_batch_size,
        citizen_hours=settings.citizen_window,
    )


def notify_job() -> None:
    """Every minute: the rules (warnings, reminders, escalations), then the outbox's due messages."""
    settings = Settings()
    engine = engine_for(settings.database_url)
    store = calendar_store(settings)
    try:
        evaluation = run_evaluate(
            for_writes(engine), store=store, links=notify_links(settings), citizen_hours=settings.citizen_window
        )
        if evaluation.notifications or evaluation.citizen_messages:
            log.info("notify rules: %s", evaluation.fired)
        report = run_dispatch(
            for_writes(engine), providers=notify_providers(settings), store=store, policy=dispatch_policy(settings)
        )
    except LockBusy as exc:
        log.warning("%s", exc)
        return
    if report.sent or report.failed or report.gave_up or report.held:
        log.info("notify dispatch: %s sent, %s failed, %s gave up, %s held", report.sent, report.failed,
                 report.gave_up, report.held)


def digest_job() -> None:
    settings = Settings()
    written = run_digest(
        for_writes(engine_for(settings.database_url)), store=calendar_store(settings), links=notify_links(settings)
    )
    log.info("notify digest: %s emails", written)


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
    scheduler.add_job(
        "api.scheduler:housekeeping_job",
        trigger="cron",
        hour=settings.nightly_hour,
        minute=45,
        id="housekeeping",
        name="housekeeping: superseded outbox rows, stale sign-in counts, old sent messages",
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
    scheduler.add_job(
        "api.scheduler:notify_job",
        trigger="cron",
        minute="*",
        id="notify",
        name="notify: warning and escalation rules, then the message outbox",
        replace_existing=True,
        misfire_grace_time=50,
    )
    scheduler.add_job(
        "api.scheduler:digest_job",
        trigger="cron",
        hour=settings.digest_hour,
        minute=30,
        id="notify_digest",
        name="notify: the daily digest email per user",
        replace_existing=True,
    )
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


def _own_process_main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with suppress(KeyboardInterrupt):  # the server's Ctrl-C reaches its whole process group
        run_forever(Settings())


def start_own_process() -> multiprocessing.Process:
    """`motcua scheduler` in a child process of its own (spawned, so it shares nothing with the web workers);
    the caller stops it when the server ends (`stop_own_process`)."""
    process = multiprocessing.get_context("spawn").Process(target=_own_process_main, name="motcua-scheduler")
    process.start()
    return process


def stop_own_process(process: multiprocessing.Process, *, timeout: float = 10) -> None:
    if process.is_alive():
        process.terminate()
    process.join(timeout)
    if process.is_alive():
        process.kill()
        process.join()
