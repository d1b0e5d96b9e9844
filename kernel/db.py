"""Storage basics shared by every domain's tables: constraint naming and the UTC instant column."""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
import sqlmodel
from sqlalchemy import JSON, Connection, DateTime, Table, insert, literal, select, union_all, update
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
    session.connection().info.pop(STAMPS_AT_CHECKOUT, None)
    known = session.info.get(_STAMPS_IN_SESSION)
    if known is not None:
        known[model.__tablename__] = stamp


_STAMPS_IN_SESSION = "kernel.stamps"
STAMPS_AT_CHECKOUT = "kernel.stamps_at_checkout"
"""Where a pool that reads the stamps when it hands out a connection (`read_stamps`, api/db.py) leaves them for the
session's first `stamp`."""
_stamps_statement: list = []


def stamp(session: Session, model: type[StampRow]) -> str:
    """The stamp of `model` ("" before the first) as this session sees it.

    Every stamp table is read in one statement, once per session (a request's session: once per request), or
    taken from the connection when the pool read them as it handed it out; `new_stamp` keeps the session's
    copy current. A change another transaction commits meanwhile shows in the next session, as a worker's
    caches of agencies and calendars were always meant to."""
    known = session.info.get(_STAMPS_IN_SESSION)
    if known is None:
        connection = session.connection()
        known = connection.info.pop(STAMPS_AT_CHECKOUT, None)
        if known is None:
            known = {name: version for name, version in connection.execute(_stamps_query())}
        session.info[_STAMPS_IN_SESSION] = known
    return known.get(model.__tablename__) or ""


def read_stamps(dbapi_connection, dialect) -> dict[str, str]:
    """Every stamp, read straight through the driver's connection (one statement, outside any transaction): for
    a pool's check of a connection it hands out, which then costs no round trip of its own."""
    sql = _stamps_sql.get(dialect)
    if sql is None:
        sql = _stamps_sql[dialect] = str(
            _stamps_query().compile(dialect=dialect, compile_kwargs={"literal_binds": True})
        )
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(sql)
        return dict(cursor.fetchall())
    finally:
        cursor.close()
        if not dbapi_connection.closed:
            dbapi_connection.autocommit = autocommit


_stamps_sql: dict = {}


def _stamps_query():
    if not _stamps_statement:
        models = sorted(_stamp_tables(), key=lambda model: model.__tablename__)
        reads = [select(literal(model.__tablename__), model.version).where(model.id == 1) for model in models]
        _stamps_statement.append(union_all(*reads))
    return _stamps_statement[0]


def forget_stamps(session: Session) -> None:
    """Read the stamps again at the session's next `stamp`: for a writer whose change the database stamps
    itself (a trigger), so that the rest of its transaction sees the new stamp."""
    session.info.pop(_STAMPS_IN_SESSION, None)
    session.connection().info.pop(STAMPS_AT_CHECKOUT, None)


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

    On PostgreSQL this is one statement of data-modifying CTEs, each table's rows passed as one JSON
    parameter and typed by the table's own row type (`json_populate_recordset`): one round trip and one
    execution instead of one per table. Elsewhere, one INSERT per table. Either way a column a row leaves
    out gets its column default, as with `insert(table)`, and the rows of one table name the same columns.
    """
    children = [(table, rows) for table, rows in children if rows]
    if connection.dialect.name != "postgresql":
        new_id = connection.execute(_insert(parent, returning_id=True), row).scalar_one()
        for table, rows in children:
            connection.execute(_insert(table), [{**r, foreign_key: new_id} for r in rows])
        return new_id
    dialect = connection.dialect
    shapes = (
        _Shape.of(dialect, parent, row, None),
        *(_Shape.of(dialect, t, rows[0], foreign_key) for t, rows in children),
    )
    sql = _TREE_SQL.get(shapes)
    if sql is None:
        sql = _TREE_SQL[shapes] = _tree_sql(dialect, shapes)
    parameters = [shapes[0].json([row])] + [
        shape.json(rows) for shape, (_, rows) in zip(shapes[1:], children, strict=True)
    ]
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


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not written by insert_with_children")


class _Shape:
    """The INSERT of one table for rows naming given columns: the columns written (those named, then those
    with a Python default), each value bound as SQLAlchemy binds it (the column type's bind processor)."""

    _known: dict[tuple, "_Shape"] = {}

    @classmethod
    def of(cls, dialect, table: Table, row: dict[str, Any], foreign_key: str | None) -> "_Shape":
        key = (dialect, table, tuple(row), foreign_key)
        shape = cls._known.get(key)
        if shape is None:
            named = tuple(name for name in row if name != foreign_key)
            shape = cls._known[key] = cls(dialect, table, named, foreign_key)
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
            self.defaults.append((str(column.name), column.default))
        self.columns = named + tuple(name for name, _ in self.defaults)
        self.processors = {}
        self.json_columns = set()  # JSON written as given: None is JSON's null, as SQLAlchemy writes it
        for name in self.columns:
            kind = table.c[name].type
            if isinstance(kind, JSON):
                if not kind.none_as_null:
                    self.json_columns.add(name)
                continue
            processor = kind.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self.processors[name] = processor

    def json(self, rows: Sequence[dict[str, Any]]) -> str:
        """The rows as one JSON array, each value bound as SQLAlchemy would, then in JSON."""
        processors, defaults = self.processors, self.defaults
        written = []
        for row in rows:
            values = {name: row[name] for name in self.named}
            for name, default in defaults:
                values[name] = default.arg(None) if default.is_callable else default.arg
            for name, process in processors.items():
                values[name] = process(values[name])
            written.append(values)
        return orjson.dumps(written, default=_json_value).decode()


def _tree_sql(dialect, shapes: Sequence[_Shape]) -> str:
    quote = dialect.identifier_preparer.quote
    key = quote(shapes[0].table.c.id.name)

    def insert_rows(shape: _Shape, first: str = "") -> str:
        table = quote(shape.table.name)
        names = ([quote(shape.foreign_key)] if first else []) + [quote(name) for name in shape.columns]
        read = [
            f"COALESCE({quote(name)}, 'null'::json)" if name in shape.json_columns else quote(name)
            for name in shape.columns
        ]
        return (
            f"INSERT INTO {table} ({', '.join(names)}) SELECT {first}{', '.join(read)} "
            f"FROM json_populate_recordset(NULL::{table}, %s::json)"
        )

    parts = [f"_parent AS ({insert_rows(shapes[0])} RETURNING {key})"]
    parts += [
        f"_child{number} AS ({insert_rows(shape, f'(SELECT {key} FROM _parent), ')})"
        for number, shape in enumerate(shapes[1:])
    ]
    return "WITH " + ", ".join(parts) + f" SELECT {key} FROM _parent"
