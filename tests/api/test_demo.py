"""`motcua serve --demo`: a live city of about 30,000 dossiers over the twelve months up to now, once."""

import shutil
from datetime import UTC, datetime, timedelta

import pytest
import uvicorn
from sqlalchemy import func, select, text
from sqlmodel import Session
from typer.testing import CliRunner

from api.cli import cli, demo_city
from api.db import engine_for, make_engine
from dossiers.models import Dossier, DossierEvent, Stage
from sla import queues
from sla.calendars import CalendarStore
from sla.core.calendar import DEFAULT_WORKING_HOURS, LOCAL_TZ
from sla.models import JobRun, PeriodSnapshot
from tests.conftest import _postgres_database

runner = CliRunner()
CITY = "000.00.00.H26"  # the city: every agency is below it


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path, monkeypatch):
    """A database for the command, and its URL; PostgreSQL gets a smaller city (the size is a setting)."""
    if request.param == "sqlite":
        urls = iter([f"sqlite:///{tmp_path / 'demo.db'}"])
    else:
        urls = _postgres_database()
        monkeypatch.setenv("MOTCUA_DEMO_DOSSIERS", "8000")
    url = next(urls)
    monkeypatch.setenv("MOTCUA_DATABASE_URL", url)
    monkeypatch.setenv("MOTCUA_SCHEDULER", "off")  # `serve --demo` only sets it when unset
    yield url
    next(urls, None)  # drops the PostgreSQL database


@pytest.fixture
def served(monkeypatch):
    """`uvicorn.run` replaced: the command prepares everything and returns instead of serving."""
    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append(kwargs))
    return calls


def count(engine, model) -> int:
    with Session(engine) as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def aware(instant: datetime) -> datetime:
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


def test_serve_demo_fills_every_queue_once_and_nothing_happens_after_now(database, served):
    before = datetime.now(UTC)
    started = runner.invoke(cli, ["serve", "--demo"])
    assert started.exit_code == 0, started.output
    assert len(served) == 1
    line = next(line for line in started.output.splitlines() if line.startswith("demo city:"))
    assert "dossiers received from" in line and " s" in line and "periods frozen" in line
    after = datetime.now(UTC)

    engine = make_engine(database)
    dossiers = count(engine, Dossier)
    expected = 30_000 if database.startswith("sqlite") else 8000
    assert expected * 0.98 <= dossiers <= expected  # today's arrivals after now are left out
    assert f"{dossiers} dossiers received from" in line
    with Session(engine) as session:
        latest = max(
            session.execute(select(func.max(column))).scalar_one()
            for column in (DossierEvent.at, DossierEvent.recorded_at, Dossier.received_at, Dossier.finished_at,
                           Stage.started_at, Stage.ended_at)  # fmt: skip
        )
        assert aware(latest) <= after
        first = aware(session.execute(select(func.min(Dossier.received_at))).scalar_one())
        assert timedelta(days=360) < before - first < timedelta(days=367)

        store = CalendarStore(first_year=2015, last_year=2035, working_hours=DEFAULT_WORKING_HOURS)
        calendar = store.get(session, CITY)
        where = queues.QueueFilter(agency=CITY, include_children=True)
        now = datetime.now(UTC)
        _, overdue = queues.overdue(session, where=where, calendar=calendar, now=now)
        _, due_soon = queues.due_soon(session, where=where, calendar=calendar, now=now, within_working_days=2)
        running = session.execute(
            select(func.count()).where(Dossier.finished_at.is_(None), Dossier.status_code.in_((2, 4)))
        ).scalar_one()
        month_ago = now - timedelta(days=30)
        resolved = session.execute(
            select(func.count()).where(Dossier.finished_at >= month_ago, Dossier.outcome.in_(("early", "on_time")))
        ).scalar_one()
        late = session.execute(select(func.count()).where(Dossier.outcome == "late")).scalar_one()
        waiting = session.execute(select(func.count()).where(Dossier.status_code == 5)).scalar_one()
        assert overdue > 0 and due_soon > 0 and running > overdue + due_soon and resolved > 0
        assert late > 0 and waiting > 0
        # the past whole months are frozen for the index feed; the days up to yesterday are closed
        frozen = set(session.execute(select(PeriodSnapshot.period_key)).scalars())
        assert len({key for key in frozen if "-Q" not in key and len(key) == 7}) in (11, 12)
        assert any("-Q" in key for key in frozen)
        yesterday = (now.astimezone(LOCAL_TZ) - timedelta(days=1)).date().isoformat()
        closed = session.execute(
            select(func.max(JobRun.period_key)).where(JobRun.job == "daily_snapshot", JobRun.status == "done")
        ).scalar_one()
        assert closed == yesterday

    again = runner.invoke(cli, ["serve", "--demo"])
    assert again.exit_code == 0, again.output
    assert f"demo city: the database already holds {dossiers} dossiers; nothing generated" in again.output
    assert count(engine, Dossier) == dossiers
    engine.dispose()


def test_serve_demo_empty_generates_nothing(database, served):
    started = runner.invoke(cli, ["serve", "--demo", "--empty"])
    assert started.exit_code == 0, started.output
    assert "demo city" not in started.output and "74 procedures" in started.output
    engine = make_engine(database)
    assert count(engine, Dossier) == 0 and count(engine, JobRun) == 0
    engine.dispose()
    alone = runner.invoke(cli, ["serve", "--empty"])
    assert alone.exit_code == 2 and "--empty goes with --demo" in alone.output
    assert len(served) == 1


NOW = datetime(2026, 3, 18, 10, 25, tzinfo=LOCAL_TZ)  # a Wednesday morning


def test_the_demo_city_is_the_same_for_the_same_now(tmp_path, monkeypatch):
    monkeypatch.setenv("MOTCUA_DEMO_DOSSIERS", "2500")
    template = tmp_path / "template.db"
    monkeypatch.setenv("MOTCUA_DATABASE_URL", f"sqlite:///{template}")
    assert runner.invoke(cli, ["seed", "catalogue"]).exit_code == 0
    engine_for(f"sqlite:///{template}").dispose()  # the command's engine: its WAL checkpointed into the file
    engine = make_engine(f"sqlite:///{template}")
    with engine.begin() as connection:  # each database draws its own calendar stamp: pin it
        connection.execute(text("UPDATE calendar_state SET version = 'pinned'"))
    engine.dispose()

    def city(name: str) -> dict[str, list[tuple]]:
        shutil.copy(template, tmp_path / name)
        monkeypatch.setenv("MOTCUA_DATABASE_URL", f"sqlite:///{tmp_path / name}")
        demo_city(now=NOW)
        engine = make_engine(f"sqlite:///{tmp_path / name}")
        with engine.connect() as connection:
            rows = {
                table: [tuple(row) for row in connection.execute(text(f"SELECT {columns} FROM {table} ORDER BY 1, 2"))]
                for table, columns in (
                    ("dossier", "code, status, received_at, due_at, finished_at, outcome, applicant_name"),
                    ("dossier_event", "dossier_id, seq, type, at, agency_id, reason"),
                    ("stage", "dossier_id, seq, agency_id, started_at, due_at, ended_at, outcome"),
                    ("dossier_code_counter", "*"),
                )
            }
            latest = connection.execute(text("SELECT max(at) FROM dossier_event")).scalar_one()
        engine.dispose()
        return rows, latest

    first, latest = city("a.db")
    again, _ = city("b.db")
    assert first == again
    assert 2450 <= len(first["dossier"]) <= 2500
    assert latest <= NOW.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    statuses = {row[1] for row in first["dossier"]}
    assert {"received", "processing", "returned"} <= statuses
    assert min(row[2] for row in first["dossier"] if row[2]) >= "2025-03-17"  # twelve months back, in UTC
