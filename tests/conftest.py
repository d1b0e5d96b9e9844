"""Every database test runs on SQLite (a file) and on PostgreSQL, each test in a rolled-back transaction.

PostgreSQL: `MOTCUA_TEST_POSTGRES_URL` (default the local server, database `test`); a fresh
database is created for the run and dropped after. If the server cannot be reached the
PostgreSQL half is skipped, except under `CI=true`, where that is a failure.
"""

import os
import re
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from accounts.service import create_user, issue_token
from api.app import create_app
from api.db import make_engine, upgrade
from api.settings import Settings
from api.web.auth import CSRF_HEADER, SESSION_COOKIE, csrf_token
from seed.loader import load_catalogue

PASSWORD = "correct horse battery staple"
WARD, OTHER_WARD, DEPARTMENT = "000.01.01.H26", "000.02.01.H26", "000.00.03.H26"
USERS = (  # username, role, agency scope
    ("admin", "admin", None),
    ("manager", "manager", WARD),
    ("clerk", "clerk", WARD),
    ("officer", "officer", DEPARTMENT),
    ("viewer", "viewer", "000.00.00.H26"),
    ("other-manager", "manager", OTHER_WARD),
    ("other-clerk", "clerk", OTHER_WARD),
    ("department-clerk", "clerk", DEPARTMENT),
    ("city-manager", "manager", "000.00.00.H26"),
)
BACKDATE_REASON = "Ghi lại hồ sơ giấy của năm 2025"  # the tests' history is back-dated by the administrator
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
        for username, role, agency in USERS:
            create_user(session, username=username, password=PASSWORD, role=role, agency_code=agency)
        session.commit()
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def tokens(engine) -> dict[str, str]:
    """A bearer token per test user (by username)."""
    with Session(engine) as session:
        issued = {
            username: issue_token(session, username=username, password=PASSWORD, lifetime=timedelta(hours=4))
            for username, _, _ in USERS
        }
        session.commit()
    return issued


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_engine(request, tmp_path) -> Iterator[Engine]:
    """A new, migrated, seeded database of its own, for code that commits (jobs, concurrency)."""
    urls = iter([f"sqlite:///{tmp_path / 'fresh.db'}"]) if request.param == "sqlite" else _postgres_database()
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
def app(engine, connection):
    """The application, its sessions inside the test's transaction."""
    app = create_app(Settings(database_url=engine.url.render_as_string(hide_password=False)))

    app.state.open_session = lambda write: Session(
        connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    return app


@pytest.fixture
def client(app, tokens) -> Iterator[TestClient]:
    """A client signed in as the administrator, for the API (bearer) and the pages (session cookie + CSRF)."""
    with TestClient(
        app,
        raise_server_exceptions=False,
        headers=signed_in(tokens["admin"]),
        cookies={SESSION_COOKIE: tokens["admin"]},
    ) as test_client:
        yield test_client


@pytest.fixture
def client_as(app, tokens):
    """`client_as("clerk")`: a client signed in as that test user (None: anonymous)."""
    clients = []

    def make(username: str | None) -> TestClient:
        headers = bearer(tokens[username]) if username else {}
        test_client = TestClient(app, raise_server_exceptions=False, headers=headers)
        clients.append(test_client)
        return test_client

    yield make
    for test_client in clients:
        test_client.close()


def sign_in_csrf(client) -> dict[str, str]:
    """The sign-in form's CSRF field, as a browser gets it: the form (and its pre-session cookie, kept by `client`)."""
    page = client.get("/login")
    return {"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def signed_in(token: str) -> dict[str, str]:
    return {**bearer(token), CSRF_HEADER: csrf_token(token)}
