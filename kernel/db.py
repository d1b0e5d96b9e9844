"""Storage basics shared by every domain's tables: constraint naming and the UTC instant column."""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlmodel
from sqlalchemy import Connection, DateTime, update
from sqlalchemy.dialects.sqlite.base import SQLiteCompiler
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, SQLModel

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _sqlite_table_hint(compiler, table, hint: str) -> str:
    return hint


# SQLite has `INDEXED BY` (https://sqlite.org/lang_indexedby.html), but SQLAlchemy's SQLite compiler
# drops table hints; `select(...).with_hint(Table, "INDEXED BY ix_name", "sqlite")` renders as written.
# SQLite then fails loudly if that index is gone, instead of planning around it.
SQLiteCompiler.get_from_hint_text = _sqlite_table_hint


class UTCDateTime(TypeDecorator):
    """An instant: `timestamptz` on PostgreSQL, naive UTC on SQLite; always aware UTC in Python.

    Naive values are refused on the way in: every instant must say which zone it is in.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: instants must be time-zone aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


class StampRow(SQLModel):
    """One row (id 1): a new random stamp at every change of what it stands for (the calendar
    overrides, the agencies), so that each worker knows when to rebuild what it keeps from them.

    Random, not a counter: a stamp of a rolled-back change is never reused for other content.
    """

    id: int = sqlmodel.Field(default=1, primary_key=True)
    version: str = sqlmodel.Field(default="", max_length=32)
    changed_at: datetime = sqlmodel.Field(default_factory=utc_now, sa_type=UTCDateTime, nullable=False)


def new_stamp(session: Session, model: type[StampRow]) -> None:
    """Write a new stamp in the caller's transaction (the row is created the first time)."""
    stamp = uuid.uuid4().hex
    bumped = session.execute(update(model).where(model.id == 1).values(version=stamp, changed_at=utc_now()))
    if bumped.rowcount == 0:
        session.add(model(id=1, version=stamp))
    session.flush()


def analyze(connection: Connection, tables: Sequence[str]) -> None:
    """Refresh the planner's statistics of the tables a bulk load has just filled (PostgreSQL and SQLite
    alike: `ANALYZE <table>`), so that the first queries after it are planned on the rows it wrote."""
    for table in tables:
        connection.exec_driver_sql(f'ANALYZE "{table}"')
