"""Storage basics shared by every domain's tables: constraint naming and the UTC instant column."""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlmodel
from sqlalchemy import Connection, DateTime, Table, insert, literal, select, union_all, update
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
    known = session.info.get(_STAMPS_IN_SESSION)
    if known is not None:
        known[model.__tablename__] = stamp


_STAMPS_IN_SESSION = "kernel.stamps"
_stamps_statement: list = []


def stamp(session: Session, model: type[StampRow]) -> str:
    """The stamp of `model` ("" before the first) as this session sees it.

    Every stamp table is read in one statement, once per session (a request's session: once per request);
    `new_stamp` keeps the session's copy current. A change another transaction commits meanwhile shows
    in the next session, as a worker's caches of agencies and calendars were always meant to."""
    known = session.info.get(_STAMPS_IN_SESSION)
    if known is None:
        if not _stamps_statement:
            models = sorted(_stamp_tables(), key=lambda model: model.__tablename__)
            reads = [select(literal(model.__tablename__), model.version).where(model.id == 1) for model in models]
            _stamps_statement.append(union_all(*reads))
        known = {name: version for name, version in session.connection().execute(_stamps_statement[0])}
        session.info[_STAMPS_IN_SESSION] = known
    return known.get(model.__tablename__) or ""


def _stamp_tables() -> list[type[StampRow]]:
    found, todo = [], list(StampRow.__subclasses__())
    while todo:
        model = todo.pop()
        todo.extend(model.__subclasses__())
        if getattr(model, "__table__", None) is not None:
            found.append(model)
    return found


def analyze(connection: Connection, tables: Sequence[str]) -> None:
    """Refresh the planner's statistics of the tables a bulk load has just filled (PostgreSQL and SQLite
    alike: `ANALYZE <table>`), so that the first queries after it are planned on the rows it wrote."""
    for table in tables:
        connection.exec_driver_sql(f'ANALYZE "{table}"')


# --- one parent row and its children in one round trip --------------------------------------------


def insert_with_children(
    connection: Connection,
    parent: Table,
    row: dict[str, Any],
    children: Sequence[tuple[Table, Sequence[dict[str, Any]]]],
    *,
    foreign_key: str,
) -> int:
    """Insert `row` into `parent` and each child table's rows (their `foreign_key` set to the parent's new id);
    returns the parent's new id.

    On PostgreSQL this is one statement of data-modifying CTEs (the parent's INSERT … RETURNING id, each
    child's INSERT … VALUES ((SELECT id FROM parent), …)): one round trip and one execution instead of one
    per table. Elsewhere, one INSERT per table. Either way a column a row leaves out gets its column default,
    as with `insert(table)`, and the rows of one table name the same columns.
    """
    children = [(table, rows) for table, rows in children if rows]
    if connection.dialect.name != "postgresql":
        new_id = connection.execute(_insert(parent, returning_id=True), row).scalar_one()
        for table, rows in children:
            connection.execute(_insert(table), [{**r, foreign_key: new_id} for r in rows])
        return new_id
    dialect = connection.dialect
    shapes = [_Shape.of(dialect, parent, row, None)]
    shapes += [_Shape.of(dialect, table, rows[0], foreign_key) for table, rows in children]
    key = (*shapes, *(len(rows) for _, rows in children))
    sql = _TREE_SQL.get(key)
    if sql is None:
        sql = _TREE_SQL[key] = _tree_sql(parent, shapes, [len(rows) for _, rows in children])
    parameters: list[Any] = []
    for shape, rows in zip(shapes, [(row,), *(rows for _, rows in children)], strict=True):
        for each in rows:
            shape.add_values(each, parameters)
    return connection.exec_driver_sql(sql, tuple(parameters)).scalar_one()


_TREE_SQL: dict[tuple, str] = {}
_INSERTS: dict[tuple[Table, bool], Any] = {}


def _insert(table: Table, *, returning_id: bool = False):
    """`insert(table)` (… RETURNING id), built once: building a statement and its cache key costs as much as
    running it."""
    statement = _INSERTS.get((table, returning_id))
    if statement is None:
        statement = insert(table).returning(table.c.id) if returning_id else insert(table)
        _INSERTS[(table, returning_id)] = statement
    return statement


class _Shape:
    """The INSERT of one table for rows naming given columns: the columns written (those named, then those
    with a Python default), and how each value is bound (the column type's bind processor, as SQLAlchemy's)."""

    _known: dict[tuple, "_Shape"] = {}

    @classmethod
    def of(cls, dialect, table: Table, row: dict[str, Any], foreign_key: str | None) -> "_Shape":
        key = (dialect, table, tuple(row), foreign_key)
        shape = cls._known.get(key)
        if shape is None:
            shape = cls._known[key] = cls(
                dialect, table, tuple(name for name in row if name != foreign_key), foreign_key
            )
        return shape

    def __init__(self, dialect, table: Table, named: tuple[str, ...], foreign_key: str | None) -> None:
        self.table = table
        self.named = named
        self.foreign_key = foreign_key
        self.defaults = []
        for column in table.columns:
            if column.name in named or column.name == foreign_key or column.default is None:
                continue
            if not (column.default.is_scalar or column.default.is_callable):
                raise ValueError(f"{table.name}.{column.name} has a SQL default: give its value")
            self.defaults.append((column.name, column.default))
        self.columns = named + tuple(name for name, _ in self.defaults)
        self.processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in self.columns]

    def add_values(self, row: dict[str, Any], parameters: list[Any]) -> None:
        values = [row[name] for name in self.named]
        values += [default.arg(None) if default.is_callable else default.arg for _, default in self.defaults]
        parameters.extend(
            value if process is None else process(value) for value, process in zip(values, self.processors, strict=True)
        )


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _tree_sql(parent: Table, shapes: Sequence[_Shape], counts: Sequence[int]) -> str:
    def insert_values(shape: _Shape, rows: int, first: str = "") -> str:
        names = ([shape.foreign_key] if first else []) + list(shape.columns)
        one = "(" + first + ", ".join(["%s"] * len(shape.columns)) + ")"
        return f"INSERT INTO {_quoted(shape.table.name)} ({', '.join(map(_quoted, names))}) VALUES " + ", ".join(
            [one] * rows
        )

    key = _quoted(parent.c.id.name)
    parts = [f"_parent AS ({insert_values(shapes[0], 1)} RETURNING {key})"]
    parts += [
        f"_child{number} AS ({insert_values(shape, rows, f'(SELECT {key} FROM _parent), ')})"
        for number, (shape, rows) in enumerate(zip(shapes[1:], counts, strict=True))
    ]
    return "WITH " + ", ".join(parts) + f" SELECT {key} FROM _parent"
