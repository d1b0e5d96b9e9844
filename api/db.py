"""Engine, sessions and migrations: the only place that opens database connections."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlmodel import Session, SQLModel

import api.models  # noqa: F401  (every table registered on SQLModel.metadata, which Alembic's env is handed)
import migrations
from dossiers.names import NAME_KEY_FUNCTION, name_key
from kernel.db import STAMPS_AT_CHECKOUT, read_stamps

MIGRATIONS_DIR = Path(migrations.__file__).parent
SQLITE_BUSY_SECONDS = 30  # how long a writer waits for SQLite's lock (held by another process)
WRITER_TURN_SECONDS = 30  # how long a writer waits for its turn in this process, then goes to SQLite's lock


def make_engine(url: str) -> Engine:
    """The engine for `url`. Statement parameters (password hashes, phones, identity numbers) never appear in
    its errors or logs (`hide_parameters`): a failed statement is logged with its SQL alone."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_SECONDS}, hide_parameters=True
        )
        # The writers of this process queue here, in turn, rather than in SQLite's busy handler, which
        # sleeps 1 to 100 ms between tries and serves no one in order (seconds of tail latency under load).
        # Other processes still meet at SQLite's lock.
        writer_turn = threading.Lock()

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN: transactional DDL, savepoints
            # the staff search's name key, as PostgreSQL's migration 0023 writes it in SQL
            dbapi_connection.create_function(NAME_KEY_FUNCTION, 1, name_key, deterministic=True)
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection):
            immediate = connection.get_execution_options().get("sqlite_immediate", False)
            if immediate:
                connection.info["writer_turn"] = writer_turn.acquire(timeout=WRITER_TURN_SECONDS)
            try:
                connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
            except BaseException:
                _end_turn(connection, "ROLLBACK")
                raise

        @event.listens_for(engine, "commit")
        def _commit_then_end_turn(connection):
            _end_turn(connection, "COMMIT")

        @event.listens_for(engine, "rollback")
        def _roll_back_then_end_turn(connection):
            _end_turn(connection, "ROLLBACK")

        def _end_turn(connection, ending: str) -> None:
            """A writer ends its transaction here, then gives the turn: the next one must not begin before
            the COMMIT is done (SQLAlchemy's own commit or rollback, which follows, finds nothing to end)."""
            if not connection.info.pop("writer_turn", False):
                return
            try:
                driver = connection.connection.driver_connection
                if driver.in_transaction:
                    driver.execute(ending)
            finally:
                writer_turn.release()

        return engine
    engine = create_engine(url, pool_size=POOL_SIZE, max_overflow=10, hide_parameters=True)
    dialect = engine.dialect
    event.listen(
        engine, "checkout", lambda dbapi_connection, record, _: _check_with_stamps(dialect, dbapi_connection, record)
    )
    return engine


def _check_with_stamps(dialect, dbapi_connection, record) -> None:
    """The pool's check of every connection it hands out (what `pool_pre_ping` did: a connection the database
    dropped, after a restart say, is replaced before anyone uses it), made with a statement the request needs
    anyway: the stamps its session reads first (`kernel.db.stamp`). One round trip fewer a request."""
    try:
        record.info[STAMPS_AT_CHECKOUT] = read_stamps(dbapi_connection, dialect)
    except dialect.loaded_dbapi.Error as exc:
        record.info.pop(STAMPS_AT_CHECKOUT, None)
        if dialect.is_disconnect(exc, dbapi_connection, None) or dbapi_connection.closed:
            raise DisconnectionError(f"the database dropped the connection: {type(exc).__name__}") from exc
        # another failure (no stamp tables before the migrations): the session reads its stamps itself


POOL_SIZE = 10
"""Connections a PostgreSQL engine keeps; a web worker admits as many units of work at once (`api.deps`)."""


def admitted_units(engine: Engine) -> int | None:
    """How many units of work a web worker runs at once on `engine` (None: no limit; SQLite queues its writers
    itself)."""
    return POOL_SIZE if engine.dialect.name == "postgresql" else None


@lru_cache
def engine_for(url: str) -> Engine:
    return make_engine(url)


def for_writes(engine: Engine) -> Engine:
    """The engine for units of work that write: on SQLite they take the write lock when they begin,
    so that two writers never both read, then collide (PostgreSQL locks rows instead)."""
    return engine.execution_options(sqlite_immediate=True)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit when the block ends, roll back if it raises."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


FOREIGN_TABLES = frozenset({"apscheduler_jobs"})  # APScheduler's job store creates and owns it


DATABASE_INDEXES = frozenset({"ix_dossier_name_key", "ix_dossier_name_terms", "ix_dossier_search_newest"})
"""Indexes one database has and the models do not declare (PostgreSQL's name key and name terms indexes,
and its newest-first index for searches across the city: migrations 0023 and 0046)."""


def include_name(name: str | None, type_: str, _parent_names) -> bool:
    """What Alembic compares and migrates: every table but those other libraries own."""
    return not (type_ == "table" and name in FOREIGN_TABLES) and not (type_ == "index" and name in DATABASE_INDEXES)


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # migrations/env.py imports nothing of api: the composition root hands it what it compares
    config.attributes["engine"] = engine
    config.attributes["target_metadata"] = SQLModel.metadata
    config.attributes["include_name"] = include_name
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
