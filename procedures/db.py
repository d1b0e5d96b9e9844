"""Storage basics shared by every domain's tables: constraint naming and the UTC instant column."""

from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlalchemy.dialects.sqlite.base import SQLiteCompiler
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

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
