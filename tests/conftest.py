"""Every database test runs on SQLite (a file) and on PostgreSQL, each test in a rolled-back transaction.

PostgreSQL: `MOTCUA_TEST_POSTGRES_URL` (default the local server, database `test`); a fresh
database is created for the run and dropped after. If the server cannot be reached the
PostgreSQL half is skipped, except under `CI=true`, where that is a failure.
"""

import os
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from api.app import create_app
from api.db import make_engine, upgrade
from api.deps import get_session
from api.settings import Settings
from seed.loader import load_catalogue

POSTGRES_URL = os.environ.get("MOTCUA_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _postgres_database() -> Iterator[str]:
    admin_url = make_url(POSTGRES_URL)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        admin.dispose()
        message = f"PostgreSQL at {admin_url.render_as_string(hide_password=True)} is unreachable: {exc.orig}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    name = f"motcua_test_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request, tmp_path_factory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'motcua.db'}"
    else:
        yield from _postgres_database()


@pytest.fixture(scope="session")
def engine(database_url) -> Iterator[Engine]:
    engine = make_engine(database_url)
    upgrade(engine)
    with Session(engine) as session:
        load_catalogue(session)
        session.commit()
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_engine(request, tmp_path) -> Iterator[Engine]:
    """A new, migrated, seeded database of its own, for code that commits (jobs, concurrency)."""
    if request.param == "sqlite":
        urls = iter([f"sqlite:///{tmp_path / 'fresh.db'}"])
    else:
        urls = _postgres_database()
    url = next(urls)
    engine = make_engine(url)
    try:
        upgrade(engine)
        with Session(engine) as session:
            load_catalogue(session)
            session.commit()
        yield engine
    finally:
        engine.dispose()
        next(urls, None)


@pytest.fixture
def connection(engine) -> Iterator[Connection]:
    with engine.connect() as connection:
        outer = connection.begin()
        yield connection
        outer.rollback()


@pytest.fixture
def session(connection) -> Iterator[Session]:
    """A session inside the test's transaction: its commits are savepoints, all rolled back at the end."""
    with Session(connection, join_transaction_mode="create_savepoint", expire_on_commit=False) as session:
        yield session


@pytest.fixture
def client(engine, connection) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=engine.url.render_as_string(hide_password=False)))

    def session_in_test_transaction() -> Iterator[Session]:
        with Session(connection, join_transaction_mode="create_savepoint", expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    app.dependency_overrides[get_session] = session_in_test_transaction
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
