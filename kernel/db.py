"""Storage basics shared by every domain's tables: constraint naming and the UTC instant column."""

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import orjson
import pandas as pd
import sqlmodel
from sqlalchemy import JSON, Connection, DateTime, Table, insert, literal, select, union_all, update
from sqlalchemy.dialects import postgresql, sqlite
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


# --- many rows given column by column, in one statement -------------------------------------------


def insert_columns(
    connection: Connection,
    table: Table,
    columns: dict[str, Any],
    *,
    skip_conflicts_on: str | None = None,
    returning: str = "id",
) -> list:
    """Insert rows given column by column; the `returning` column of the rows written.

    Each value of `columns` is either a sequence (a list, a numpy array or a pandas Series: one value a row,
    None or NaN for NULL) or a scalar (the same in every row). Instants are aware datetimes, or numpy
    `datetime64` values (or a pandas datetime column; naive: UTC). With `skip_conflicts_on` (a column with a
    unique index), a row whose value is there already is left out (ON CONFLICT DO NOTHING), and so is a repeat
    within the rows.

    On PostgreSQL this is one statement whatever the number of rows: the columns go as one JSON parameter (an
    array a column, written by orjson in C: no Python object a row), read back into arrays of the columns'
    types by `json_to_record` and unnested side by side (`INSERT … SELECT … ON CONFLICT DO NOTHING`), in the
    order given (the function scans' order: their ids follow it; an ORDER BY on the ordinality would sort the
    rows, to disk beyond `work_mem`, for nothing); the written values come back as one array. The statement's
    text depends on the table and the columns' names only, so it is prepared once. Elsewhere (SQLite) the rows
    go as one executemany INSERT."""
    given = {name: value for name, value in columns.items() if _is_column(value)}
    if not given:
        raise ValueError("insert_columns needs at least one column given row by row")
    lengths = {len(value) for value in given.values()}
    if len(lengths) != 1:
        raise ValueError(f"insert_columns: columns of different lengths {sorted(lengths)}")
    if not lengths.pop():
        return []
    scalars = {name: value for name, value in columns.items() if name not in given}
    if connection.dialect.name == "postgresql":
        return _insert_arrays(connection, table, given, scalars, skip_conflicts_on, returning)
    return _insert_many(connection, table, given, scalars, skip_conflicts_on, returning)


def _is_column(value: Any) -> bool:
    return isinstance(value, (list, tuple, np.ndarray, pd.Series))


def _instants(value: Any) -> pd.DatetimeIndex | None:
    """The values as UTC instants, if they are numpy or pandas datetimes (naive: UTC)."""
    dtype = getattr(value, "dtype", None)
    if dtype is None or not (dtype.kind == "M" or isinstance(dtype, pd.DatetimeTZDtype)):
        return None
    found = pd.DatetimeIndex(value)
    return (found.tz_localize(UTC) if found.tz is None else found.tz_convert(UTC)).as_unit("us")


def _values(value: Any) -> list | np.ndarray:
    """A column's values as a list of Python values (None for NULL), or a numeric numpy array without NULLs."""
    if isinstance(value, pd.Series):
        if value.hasnans:
            return value.to_numpy(dtype=object, na_value=None).tolist()
        value = value.to_numpy()
    if isinstance(value, np.ndarray):
        return np.ascontiguousarray(value) if value.dtype.kind in "biuf" else value.tolist()
    return list(value)


def _instant_values(found: pd.DatetimeIndex) -> list | np.ndarray:
    """Instants as microseconds since the epoch (None for NaT)."""
    if not found.hasnans:
        return found.asi8
    return [None if missing else micros for micros, missing in zip(found.asi8.tolist(), found.isna(), strict=True)]


_ARRAY_SQL: dict[tuple, str] = {}
_MICROSECONDS_SINCE = "to_timestamp(0) + {} * interval '1 microsecond'"


def _insert_arrays(connection, table, given, scalars, skip_conflicts_on, returning) -> list:
    dialect = connection.dialect
    instants = {name: _instants(value) for name, value in given.items()}
    shape = (table, tuple(given), tuple(name for name, found in instants.items() if found is not None),
             tuple(scalars), skip_conflicts_on, returning)  # fmt: skip
    sql = _ARRAY_SQL.get(shape)
    if sql is None:
        sql = _ARRAY_SQL[shape] = _array_sql(dialect, table, given, instants, scalars, skip_conflicts_on, returning)
    parameters = []
    for name, value in scalars.items():  # first: the SELECT list names them before the columns
        processor = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        parameters.append(processor(value) if processor is not None else value)
    payload = {
        f"c{number}": _values(value) if instants[name] is None else _instant_values(instants[name])
        for number, (name, value) in enumerate(given.items())
    }
    parameters.append(orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY).decode())
    return connection.exec_driver_sql(sql, tuple(parameters)).scalar_one() or []


def _array_sql(dialect, table, given, instants, scalars, skip_conflicts_on, returning) -> str:
    """One JSON object of arrays, a key per column (`json_to_record` reads each as an array of the column's
    type), unnested side by side."""
    quote = dialect.identifier_preparer.quote
    arrays, read = [], []
    for number, name in enumerate(given):
        if instants[name] is not None:
            arrays.append(f"c{number} bigint[]")
            read.append(_MICROSECONDS_SINCE.format(f"r.c{number}"))
        else:
            arrays.append(f"c{number} {table.c[name].type.compile(dialect=dialect)}[]")
            read.append(f"r.c{number}")
    read += [f"%s::{table.c[name].type.compile(dialect=dialect)}" for name in scalars]
    names = ", ".join(quote(name) for name in (*given, *scalars))
    aliases = [f"c{number}" for number in range(len(given))]
    conflict = f" ON CONFLICT ({quote(skip_conflicts_on)}) DO NOTHING" if skip_conflicts_on else ""
    return (
        f"WITH written AS (INSERT INTO {quote(table.name)} ({names}) SELECT {', '.join(read)} "
        f"FROM json_to_record(%s::json) AS j({', '.join(arrays)}), "
        f"unnest({', '.join('j.' + alias for alias in aliases)}) AS r({', '.join(aliases)})"
        f"{conflict} RETURNING {quote(returning)}) SELECT array_agg({quote(returning)}) FROM written"
    )


def _insert_many(connection, table, given, scalars, skip_conflicts_on, returning) -> list:
    lists = []
    for value in given.values():
        found = _instants(value)
        if found is None:
            values = _values(value)
            lists.append(values.tolist() if isinstance(values, np.ndarray) else values)
        else:
            lists.append(
                [None if n else instant for instant, n in zip(found.to_pydatetime(), found.isna(), strict=True)]
            )
    names = tuple(given)
    rows = [{**scalars, **dict(zip(names, row, strict=True))} for row in zip(*lists, strict=True)]
    statement = (postgresql if connection.dialect.name == "postgresql" else sqlite).insert(table)
    if skip_conflicts_on:
        statement = statement.on_conflict_do_nothing(index_elements=[skip_conflicts_on])
    return list(connection.execute(statement.returning(table.c[returning]), rows).scalars())


def existing(connection: Connection, column, values: Sequence[str]) -> set[str]:
    """Which of `values` (strings) are in `column` (a column with an index): on PostgreSQL one statement, the
    values sent as one JSON array and those found sent back as one array; elsewhere, in chunks of 500."""
    if not len(values):
        return set()
    if connection.dialect.name == "postgresql":
        dialect = connection.dialect
        quote = dialect.identifier_preparer.quote
        sql = (
            f"SELECT array_agg(t.{quote(column.name)}) FROM {quote(column.table.name)} t "
            f"WHERE t.{quote(column.name)} = ANY(ARRAY(SELECT json_array_elements_text(%s::json)))"
        )
        found = connection.exec_driver_sql(sql, (orjson.dumps(list(values)).decode(),)).scalar_one()
        return set(found or ())
    found: set[str] = set()
    values = list(values)
    for start in range(0, len(values), 500):
        found.update(connection.execute(select(column).where(column.in_(values[start : start + 500]))).scalars())
    return found


@contextmanager
def without_jit(connection: Connection) -> Iterator[None]:
    """PostgreSQL's JIT off for the statements inside (of the connection's transaction), then as it was.

    PostgreSQL compiles a plan whose estimated cost passes `jit_above_cost` (100,000: any read of a big table
    whose rows the planner overestimates or a join it cannot size), and inlines and optimises it beyond
    500,000, in every parallel worker: up to a second of CPU for a read that takes a third of it. Reads of a
    few hundred thousand rows through an index never pay that back. Nothing on SQLite. After an error inside,
    the setting is left to the transaction's rollback (it is local to the transaction)."""
    if connection.dialect.name != "postgresql":
        yield
        return
    previous = connection.exec_driver_sql("SELECT current_setting('jit'), set_config('jit', 'off', true)").one()[0]
    yield
    connection.exec_driver_sql("SELECT set_config('jit', %s, true)", (previous,))
