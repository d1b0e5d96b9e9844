"""The scheduler: a persistent 01:00 job in Asia/Ho_Chi_Minh, embedded in one web process only."""

from datetime import datetime

from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app
from api.scheduler import build_scheduler, nightly_job
from api.settings import Settings
from sla.core.calendar import LOCAL_TZ


def settings_for(engine, **changes) -> Settings:
    return Settings(database_url=engine.url.render_as_string(hide_password=False), **changes)


def test_nightly_job_is_stored_at_one_in_the_morning_local_time(fresh_engine):
    scheduler = build_scheduler(settings_for(fresh_engine), blocking=False)
    scheduler.start(paused=True)
    try:
        job = scheduler.get_job("nightly")
        assert job.func is nightly_job
        next_run = job.next_run_time.astimezone(LOCAL_TZ)
        assert (next_run.hour, next_run.minute) == (1, 0)
        assert next_run > datetime.now(LOCAL_TZ)
    finally:
        scheduler.shutdown(wait=False)
    with fresh_engine.connect() as connection:
        stored = connection.execute(text("SELECT id FROM apscheduler_jobs")).scalars().all()
    assert sorted(stored) == ["housekeeping", "nightly", "notify", "notify_digest"]


def test_notify_runs_every_minute_and_the_digest_once_a_day(fresh_engine):
    from api.scheduler import digest_job, notify_job

    scheduler = build_scheduler(settings_for(fresh_engine), blocking=False)
    scheduler.start(paused=True)
    try:
        job = scheduler.get_job("notify")
        assert job.func is notify_job
        first = job.trigger.get_next_fire_time(None, datetime(2025, 6, 2, 9, 0, 30, tzinfo=LOCAL_TZ))
        assert first == datetime(2025, 6, 2, 9, 1, tzinfo=LOCAL_TZ)
        digest = scheduler.get_job("notify_digest")
        assert digest.func is digest_job
        assert (digest.next_run_time.astimezone(LOCAL_TZ).hour, digest.next_run_time.minute) == (7, 30)
    finally:
        scheduler.shutdown(wait=False)


def test_embedded_scheduler_runs_in_one_web_process_only(fresh_engine):
    settings = settings_for(fresh_engine, scheduler="embedded")
    first, second = create_app(settings), create_app(settings)
    with TestClient(first), TestClient(second):
        assert first.state.scheduler is not None and first.state.scheduler.running
        assert second.state.scheduler is None
    assert not first.state.scheduler.running
