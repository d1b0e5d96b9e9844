"""Housekeeping (api/housekeeping.py), on both databases: superseded outbox rows go without changing what any
reader at any watermark reads; stale sign-in counts go, running waits stay; sent messages past their retention
go with their delivery log, pending ones stay; the run is recorded, locked, scheduled and on the command line."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlmodel import Session
from typer.testing import CliRunner

from accounts.models import SignInFailure
from api.cli import cli
from api.housekeeping import JOB, run_housekeeping
from api.settings import Settings
from dossiers.models import DossierChange
from exchange.service import changed_since, compact_changes, stamp_changes
from notify.models import Delivery, OutboxMessage
from sla.jobs import LockBusy, leader_lock
from sla.models import JobRun
from tests.exchange.test_sync import committed, event, pauses, receive

NOW = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)


def settings_for(engine, **changes) -> Settings:
    return Settings(database_url=engine.url.render_as_string(hide_password=False), **changes)


def count(session, model, *where) -> int:
    return session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def every_watermark(session) -> dict[int, list]:
    last = session.execute(select(func.max(DossierChange.change_id))).scalar_one()
    return {since: changed_since(session, since, limit=10_000) for since in range(0, last + 1)}


def test_superseded_changes_go_and_every_watermark_reads_the_same(fresh_engine):
    def build(session):
        first, second, third = receive(session), receive(session), receive(session)
        pauses(session, first, 2)
        event(session, second, type="supplement_requested", at="2025-06-03T09:00:00", reason="Thiếu tờ khai")
        return [first, second, third]

    committed(fresh_engine, build)
    with Session(fresh_engine) as session:
        stamp_changes(session)
        session.commit()
        before = every_watermark(session)
        assert count(session, DossierChange) == 3 + 4 + 1

    def late(session):  # changes not yet stamped: never touched
        code = receive(session)
        event(session, code, type="supplement_requested", at="2025-06-04T09:00:00", reason="Thiếu tờ khai")
        return [code]

    committed(fresh_engine, late)
    with Session(fresh_engine) as session:
        deleted = compact_changes(session, batch=3)  # several batches
        session.commit()
        assert deleted == 4 + 1  # the first's four pauses/resumes, the second's request: older than their latest
        assert every_watermark(session) == before
        assert count(session, DossierChange, DossierChange.change_id.is_(None)) == 2  # the late intake and event
        assert compact_changes(session) == 0  # nothing more to do
        stamp_changes(session)
        session.commit()
        assert len(changed_since(session, max(before), limit=100)) == 1  # the late dossier, once


def test_stale_sign_in_counts_go_and_running_waits_stay(fresh_engine):
    settings = settings_for(fresh_engine)
    window = timedelta(minutes=settings.sign_in_lock_minutes)
    with Session(fresh_engine) as session:
        session.add_all([
            SignInFailure(key="user:old", failures=3, last_failed_at=NOW - window - timedelta(minutes=1)),
            SignInFailure(key="user:recent", failures=2, last_failed_at=NOW - timedelta(minutes=1)),
            SignInFailure(key="address:blocked", failures=9, last_failed_at=NOW - window - timedelta(minutes=1),
                          blocked_until=NOW + timedelta(minutes=5)),
            SignInFailure(key="address:was-blocked", failures=9, last_failed_at=NOW - 2 * window,
                          blocked_until=NOW - timedelta(minutes=5)),
        ])  # fmt: skip
        session.commit()
    done = run_housekeeping(fresh_engine, settings, now=NOW)
    assert done.deleted["sign_in_failure"] == 2
    with Session(fresh_engine) as session:
        kept = set(session.execute(select(SignInFailure.key)).scalars())
    assert kept == {"user:recent", "address:blocked"}


def message(status: str, created_at: datetime) -> OutboxMessage:
    return OutboxMessage(
        key=f"{status}-{created_at.isoformat()}", cause="test", kind="result_ready", channel="sms",
        audience="citizen", address="0912345678", body="Hồ sơ của ông/bà đã có kết quả.", status=status,
        created_at=created_at, next_attempt_at=created_at,
    )  # fmt: skip


@pytest.mark.parametrize("retention", [365, 0])
def test_sent_messages_past_their_retention_go_with_their_deliveries(fresh_engine, retention):
    old, recent = NOW - timedelta(days=400), NOW - timedelta(days=10)
    with Session(fresh_engine) as session:
        messages = [message("sent", old), message("gave_up", old), message("pending", old), message("sent", recent)]
        session.add_all(messages)
        session.flush()
        session.add_all([Delivery(message_id=m.id, attempt=1, at=m.created_at, outcome="sent") for m in messages])
        session.commit()
    done = run_housekeeping(fresh_engine, settings_for(fresh_engine, message_retention_days=retention), now=NOW)
    with Session(fresh_engine) as session:
        kept = sorted((m.status, m.created_at == old) for m in session.execute(select(OutboxMessage)).scalars())
        deliveries = count(session, Delivery)
    if retention:
        assert done.deleted["notify_message"] == 2
        assert kept == [("pending", True), ("sent", False)] and deliveries == 2
    else:  # 0: kept for ever
        assert done.deleted["notify_message"] == 0 and len(kept) == 4 and deliveries == 4


def test_the_run_is_recorded_locked_and_on_the_command_line(fresh_engine, monkeypatch):
    settings = settings_for(fresh_engine)
    run_housekeeping(fresh_engine, settings, now=NOW)
    with leader_lock(fresh_engine, JOB), pytest.raises(LockBusy):
        run_housekeeping(fresh_engine, settings, now=NOW)
    monkeypatch.setenv("MOTCUA_DATABASE_URL", settings.database_url)
    result = CliRunner().invoke(cli, ["housekeeping", "run"])
    assert result.exit_code == 0, result.output
    assert "dossier_change: 0 deleted, sign_in_failure: 0 deleted, notify_message: 0 deleted" in result.output
    with Session(fresh_engine) as session:
        runs = session.execute(select(JobRun).where(JobRun.job == JOB).order_by(JobRun.id)).scalars().all()
    assert [(r.period_key, r.revision, r.status) for r in runs[:1]] == [("2026-12-05", 1, "done")]
    assert len(runs) == 2 and runs[1].status == "done"
