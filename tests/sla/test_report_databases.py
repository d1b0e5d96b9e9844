"""The same city gives the same report on SQLite and on PostgreSQL, grouping by grouping."""

from datetime import date, timedelta

import pandas as pd
import pytest
from sqlalchemy import select
from sqlmodel import Session

from dossiers.models import Dossier, Stage
from procedures.models import Agency
from seed.generator import generate
from sla import reports
from tests.conftest import _postgres_database
from tests.seed.test_generator import calendars, fresh_engine

PERIODS = [
    reports.Period(date(2025, 1, 1), date(2025, 12, 31)),
    reports.Period(date(2025, 2, 1), date(2025, 2, 28)),  # Tết: carried over from January
    reports.Period(date(2025, 11, 10), date(2026, 1, 20)),  # ends after the last arrival
]


@pytest.fixture(scope="module")
def twin_cities(tmp_path_factory):
    """One generated city (seed 5), written to a SQLite file and to a PostgreSQL database."""
    postgres = _postgres_database()
    engines = [fresh_engine(f"sqlite:///{tmp_path_factory.mktemp('twin') / 'city.db'}"), fresh_engine(next(postgres))]
    for engine in engines:
        generate(engine, dossiers=1200, year=2025, seed=5, calendar_for=calendars(engine), chunk_size=600)
    yield engines
    for engine in engines:
        engine.dispose()
    next(postgres, None)


@pytest.mark.parametrize("group_by", reports.GROUPINGS)
@pytest.mark.parametrize("period", PERIODS, ids=lambda p: f"{p.first}..{p.last}")
def test_sqlite_and_postgresql_report_the_same(twin_cities, group_by, period):
    sqlite, postgresql = twin_cities
    with Session(sqlite) as one, Session(postgresql) as other:
        expected = reports.period_report(one, period=period, group_by=group_by)
        got = reports.period_report(other, period=period, group_by=group_by)
    pd.testing.assert_frame_equal(got, expected)
    total = expected.iloc[-1]
    assert total["group"] == "total" and total["total"] > 50
    assert total["total"] == total["resolved"] + total["withdrawn"] + total["open"]


def naive_stage_counts(session, period: reports.Period) -> dict[str, dict[str, int]]:
    """Hand-off attribution counted stage by stage in Python."""
    codes = dict(session.execute(select(Agency.id, Agency.code)).all())
    counts: dict[str, dict[str, int]] = {}
    made_late: dict[str, set[int]] = {}
    for stage, dossier in session.execute(select(Stage, Dossier).join(Dossier, Dossier.id == Stage.dossier_id)):
        if stage.ended_at is None or not period.start <= stage.ended_at < period.end or dossier.status_code == 3:
            continue
        if stage.outcome not in ("early", "on_time", "late"):
            continue
        row = counts.setdefault(codes[stage.agency_id], {"steps_on_time": 0, "steps_late": 0, "overrun": 0})
        if stage.outcome == "late":
            row["steps_late"] += 1
            row["overrun"] += stage.overrun_minutes
            if dossier.outcome == "late":
                made_late.setdefault(codes[stage.agency_id], set()).add(dossier.id)
        else:
            row["steps_on_time"] += 1
    for code, row in counts.items():
        row["overrun"] = round(row["overrun"] / 480, 2)
        row["dossiers_made_late"] = len(made_late.get(code, ()))
    return counts


@pytest.mark.parametrize("period", PERIODS, ids=lambda p: f"{p.first}..{p.last}")
def test_stage_attribution_equals_naive_recount_on_both(twin_cities, period):
    reported = []
    for engine in twin_cities:
        with Session(engine) as session:
            report = reports.stage_report(session, period=period)
            expected = naive_stage_counts(session, period)
        got = {
            row["group"]: {
                "steps_on_time": row["steps_on_time"],
                "steps_late": row["steps_late"],
                "overrun": row["overrun_working_days"],
                "dossiers_made_late": row["dossiers_made_late"],
            }
            for row in report.to_dict("records")
            if row["group"] != "total"
        }
        assert got == expected
        reported.append(report)
    pd.testing.assert_frame_equal(*reported)
    if period.last - period.first > timedelta(days=300):
        assert sum(row["steps_late"] for row in expected.values()) > 5
        assert sum(row["dossiers_made_late"] for row in expected.values()) > 0
