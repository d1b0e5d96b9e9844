"""Bulk loads end analysed: the generator and the catalogue import leave planner statistics for the tables
they filled (PostgreSQL: pg_stat_user_tables.last_analyze, pg_stats; SQLite: sqlite_stat1)."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlmodel import Session

from api.db import make_engine, upgrade
from seed.generator import generate
from seed.loader import load_catalogue
from tests.conftest import _postgres_database
from tests.seed.test_generator import calendars

GENERATED = ("dossier", "dossier_event", "stage", "dossier_code_counter")
CATALOGUE = ("agency", "field", "procedure", "procedure_step", "calendar_override")


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_engine(request, tmp_path):
    """A migrated database with nothing loaded, autovacuum off (so that only the loads can analyse)."""
    urls = iter([f"sqlite:///{tmp_path / 'empty.db'}"]) if request.param == "sqlite" else _postgres_database()
    engine = make_engine(next(urls))
    upgrade(engine)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            for table in GENERATED + CATALOGUE:
                connection.exec_driver_sql(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
    yield engine
    engine.dispose()
    next(urls, None)  # PostgreSQL: drops the database


def analysed(engine, tables) -> dict[str, bool]:
    """Whether each table has planner statistics a bulk load's ANALYZE wrote."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            exists = connection.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").first()
            names = set(connection.exec_driver_sql("SELECT DISTINCT tbl FROM sqlite_stat1").scalars()) if exists else ()
            return {table: table in names for table in tables}
        found = {}
        for table in tables:
            columns = connection.execute(
                text("SELECT count(*) FROM pg_stats WHERE schemaname = current_schema() AND tablename = :t"),
                {"t": table},
            ).scalar_one()
            tuples = connection.execute(
                text("SELECT reltuples FROM pg_class WHERE oid = CAST(:t AS regclass)"), {"t": table}
            )
            found[table] = columns > 0 and tuples.scalar_one() >= 0
        return found


def test_the_catalogue_load_and_the_generator_leave_their_tables_analysed(empty_engine):
    assert not any(analysed(empty_engine, CATALOGUE + GENERATED).values())
    with Session(empty_engine) as session:
        load_catalogue(session)
        session.commit()
    assert analysed(empty_engine, CATALOGUE) == dict.fromkeys(CATALOGUE, True)
    assert not any(analysed(empty_engine, GENERATED).values())

    generate(
        empty_engine, dossiers=400, year=2025, seed=3, calendar_for=calendars(empty_engine),
        now=datetime(2025, 12, 31, 10, tzinfo=UTC),
    )  # fmt: skip
    assert analysed(empty_engine, GENERATED) == dict.fromkeys(GENERATED, True)
    if empty_engine.dialect.name == "postgresql":
        empty_engine.dispose()  # a closed backend has flushed its activity statistics
        with empty_engine.connect() as connection:
            last = dict(
                connection.exec_driver_sql(
                    "SELECT relname, last_analyze FROM pg_stat_user_tables WHERE relname = ANY(%(names)s)",
                    {"names": list(GENERATED)},
                ).all()
            )
        assert all(last.get(table) is not None for table in GENERATED), last
