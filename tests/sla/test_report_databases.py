"""The same city gives the same report on SQLite and on PostgreSQL, grouping by grouping."""

from datetime import date

import pandas as pd
import pytest
from sqlmodel import Session

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
