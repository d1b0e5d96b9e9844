"""Bulk writing of the dossier tables (the synthetic-city generator, the history import): binary COPY on PostgreSQL,
large executemany batches on SQLite, in the caller's transaction.

Columns come as numpy arrays (ints, int64 UTC minutes for instants with ``NONE`` for NULL) or
lists of Python values (text, None for NULL).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

import numpy as np
from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from dossiers.models import DossierCodeCounter
from sla.core.batch import NONE

INSTANT, INT, OPTIONAL_INT, TEXT, BOOL = "instant", "int", "optional_int", "text", "bool"
OPTIONAL_BOOL = "optional_bool"  # int8: 1 true, 0 false, -1 NULL
NULLABLE_INT = "nullable_int"  # any int (negatives too), NONE for NULL

TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "dossier": (
        ("id", INT), ("code", TEXT), ("procedure_id", INT), ("procedure_code", TEXT),
        ("receiving_agency_id", INT), ("current_agency_id", OPTIONAL_INT), ("channel", TEXT),
        ("applicant_name", TEXT), ("applicant_id_number", TEXT), ("applicant_phone", TEXT),
        ("applicant_address", TEXT), ("search_text", TEXT), ("submitted_at", INSTANT), ("received_at", INSTANT),
        ("clock_start_at", INSTANT), ("status_code", INT), ("status", TEXT), ("original_due_at", INSTANT),
        ("rescheduled_due_at", INSTANT), ("due_at", INSTANT), ("finished_at", INSTANT), ("outcome", TEXT),
        ("supplement_count", INT), ("paused_minutes", INT), ("clock_stopped_since", INSTANT),
        ("resolution_working_minutes", OPTIONAL_INT),
        ("event_count", INT), ("derived_at", INSTANT),
        ("calendar_version", TEXT),
        ("electronic_result", OPTIONAL_BOOL), ("vneid_verified", OPTIONAL_BOOL), ("population_ref", TEXT),
        ("index_flags", INT),
    ),
    "dossier_event": (
        ("id", INT), ("dossier_id", INT), ("seq", INT), ("type", TEXT), ("at", INSTANT), ("recorded_at", INSTANT),
        ("actor", TEXT), ("agency_id", OPTIONAL_INT), ("from_agency_id", OPTIONAL_INT),
        ("to_agency_id", OPTIONAL_INT), ("reason", TEXT), ("new_due_at", INSTANT),
    ),
    "stage": (
        ("id", INT), ("dossier_id", INT), ("seq", INT), ("agency_id", OPTIONAL_INT), ("name", TEXT),
        ("step_seq", OPTIONAL_INT), ("started_at", INSTANT), ("allotment_minutes", OPTIONAL_INT),
        ("due_at", INSTANT), ("ended_at", INSTANT), ("outcome", TEXT), ("overrun_minutes", INT),
        ("excluded", BOOL),
    ),
    "dossier_component": (
        ("id", INT), ("dossier_id", INT), ("seq", INT), ("component_seq", INT), ("name", TEXT), ("form", TEXT),
        ("copies", INT), ("digitised", OPTIONAL_BOOL), ("reused", OPTIONAL_BOOL), ("from_citizen_store", OPTIONAL_BOOL),
        ("from_national_db", OPTIONAL_BOOL),
    ),
    "dossier_fee": (
        ("id", INT), ("dossier_id", INT), ("seq", INT), ("name", TEXT), ("amount_vnd", INT), ("payment_channel", TEXT),
        ("paid_at", INSTANT), ("recorded_at", INSTANT),
    ),
    "dossier_rating": (
        ("id", INT), ("dossier_id", INT), ("agency_id", INT), ("procedure_id", INT), ("rating", TEXT),
        ("source", TEXT), ("rated_at", INSTANT), ("recorded_by", TEXT),
    ),
    "complaint": (
        ("id", INT), ("receiving_agency_id", INT), ("agency_id", INT), ("dossier_id", OPTIONAL_INT),
        ("channel", TEXT), ("category", TEXT), ("content", TEXT), ("status", TEXT), ("received_at", INSTANT),
        ("refuse_due_at", INSTANT), ("supplement_due_at", INSTANT), ("answer_due_at", INSTANT),
        ("publish_due_at", INSTANT), ("refused_at", INSTANT), ("first_supplement_at", INSTANT),
        ("answered_at", INSTANT), ("published_at", INSTANT), ("next_due_at", INSTANT), ("feedback", TEXT),
        ("feedback_at", INSTANT), ("repeated_at", INSTANT), ("transfer_count", INT), ("event_count", INT),
        ("calendar_version", TEXT),
    ),
    "complaint_event": (
        ("id", INT), ("complaint_id", INT), ("seq", INT), ("type", TEXT), ("at", INSTANT), ("recorded_at", INSTANT),
        ("actor", TEXT), ("note", TEXT),
    ),
}  # fmt: skip
"""Columns written per table; OPTIONAL_INT is NULL where negative."""


class BulkWriter:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.postgres = connection.dialect.name == "postgresql"
        self.raw = connection.connection.driver_connection
        self.types: dict[str, dict[str, str]] = {}  # PostgreSQL: each written table's column types

    def lock(self) -> None:
        """PostgreSQL: keep other writers out of the tables whose ids and codes the generator hands out."""
        if self.postgres:
            self.connection.exec_driver_sql(
                "LOCK TABLE dossier, dossier_event, stage, dossier_component, dossier_fee, dossier_code_counter "
                "IN SHARE ROW EXCLUSIVE MODE"
            )

    def set_aside_indexes(self, keep: tuple[str, ...] = (), tables: tuple[str, ...] | None = None) -> list[str]:
        """For a large load: drop the generated tables' secondary indexes (and on PostgreSQL their
        foreign keys, whose per-row triggers cost ten times the COPY itself) and return the
        statements that put them back, taken from the database's own definitions. Inside the
        transaction: if anything fails, the drop is rolled back with the rows. `keep`: indexes the
        load itself reads (the history import looks codes up); `tables`: whose (default: the generator's)."""
        tables = tuple(TABLES) if tables is None else tables
        restore = []
        if self.postgres:
            self.connection.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
            names = ", ".join(f"'{t}'::regclass" for t in tables)
            indexes = self.connection.exec_driver_sql(
                "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
                f"WHERE x.indrelid IN ({names}) AND NOT EXISTS "
                "(SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) ORDER BY i.relname"
            ).all()
            keys = self.connection.exec_driver_sql(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
                f"WHERE contype = 'f' AND conrelid IN ({names}) ORDER BY conrelid::regclass::text, conname"
            ).all()
            for table, name, _ in keys:
                self.connection.exec_driver_sql(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            for name, definition in indexes:
                if name in keep:
                    continue
                self.connection.exec_driver_sql(f'DROP INDEX "{name}"')
                restore.append(definition)
            restore += [f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}' for table, name, definition in keys]
        else:
            self.connection.exec_driver_sql("PRAGMA cache_size = -262144")  # 256 MiB for this connection
            placeholders = ", ".join("?" * len(tables))
            indexes = self.connection.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                f"AND tbl_name IN ({placeholders}) ORDER BY name",
                tables,
            ).all()
            for name, definition in indexes:
                if name in keep:
                    continue
                self.connection.exec_driver_sql(f'DROP INDEX "{name}"')
                restore.append(definition)
        return restore

    def restore_indexes(self, statements: list[str]) -> None:
        for statement in statements:
            self.connection.exec_driver_sql(statement)

    def next_id(self, table: str) -> int:
        return self.connection.execute(text(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")).scalar_one()

    def write(self, table: str, columns: dict[str, np.ndarray | list]) -> int:
        """Write the rows of `table` given as its `TABLES` columns; how many."""
        spec = TABLES[table]
        if self.postgres:
            return self._copy(table, spec, columns)
        values = [_values(columns[name], kind) for name, kind in spec]
        size = len(values[0])
        if size:
            names = ", ".join(name for name, _ in spec)
            marks = ", ".join("?" * len(spec))
            self.raw.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", zip(*values, strict=True))
        return size

    def _copy(self, table: str, spec: tuple[tuple[str, str], ...], columns: dict) -> int:
        """PostgreSQL: the rows made by numpy in binary COPY form (`binary_rows`), in one COPY."""
        types = self.types.get(table)
        if types is None:
            types = self.types[table] = pg_types(self.connection, table)
        fields = []
        for name, kind in spec:
            values = columns[name]
            if kind == INSTANT:  # int64 minutes here, µs for Field
                minutes = np.asarray(values, dtype=np.int64)
                values = np.where(minutes == NONE, NONE, minutes * 60_000_000)
            fields.append(Field.of(kind, values, types[name]))
        size = len(fields[0].lengths)
        if size:
            data, _ = binary_rows(fields, field_count=len(fields))
            copy_binary(self.connection, table, [name for name, _ in spec], data)
        return size

    def counters(self, rows: Iterable[tuple[int, date, int]]) -> int:
        """Upsert the daily code counters (agency, day, last sequence given)."""
        rows = [{"agency_id": a, "day": d, "last_seq": s} for a, d, s in rows]
        if rows:
            insert = postgresql.insert if self.postgres else sqlite.insert
            statement = insert(DossierCodeCounter.__table__)
            statement = statement.on_conflict_do_update(
                index_elements=["agency_id", "day"], set_={"last_seq": statement.excluded.last_seq}
            )
            self.connection.execute(statement, rows)
        return len(rows)

    def existing_counters(self, first: date, last: date) -> dict[tuple[int, date], int]:
        table = DossierCodeCounter.__table__
        query = select(table.c.agency_id, table.c.day, table.c.last_seq).where(table.c.day.between(first, last))
        return {(a, d): s for a, d, s in self.connection.execute(query).all()}

    def finish(self) -> None:
        """PostgreSQL: move the id sequences past the ids handed out (SQLite continues from MAX(rowid))."""
        if self.postgres:
            for table in TABLES:
                self.connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
                    )
                )


def _values(column: np.ndarray | Sequence, kind: str) -> list:
    """SQLite: a column as the values executemany takes."""
    if kind == INSTANT:
        return _instants(np.asarray(column, dtype=np.int64))
    if kind == INT:
        return np.asarray(column, dtype=np.int64).tolist()
    if kind == OPTIONAL_INT:
        values = np.asarray(column, dtype=np.int64)
        out = values.astype(object)
        out[values < 0] = None
        return out.tolist()
    if kind == OPTIONAL_BOOL:
        values = np.asarray(column, dtype=np.int8)
        out = (values > 0).astype(np.int64).astype(object)
        out[values < 0] = None
        return out.tolist()
    if kind == BOOL:
        return np.asarray(column, dtype=bool).astype(np.int64).tolist()
    return list(column)


def _instants(minutes: np.ndarray) -> list:
    missing = minutes == NONE
    safe = np.where(missing, 0, minutes).view("datetime64[m]")
    # SQLAlchemy's SQLite DATETIME storage format, so that range queries compare like-with-like
    texts = np.strings.replace(np.datetime_as_string(safe.astype("datetime64[us]"), unit="us"), "T", " ")
    out = texts.astype(object)
    out[missing] = None
    return out.tolist()


# --- PostgreSQL's binary COPY, built by numpy ----------------------------------------------------

BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
"""The binary COPY signature, its flags (none) and header extension (none)."""
BINARY_TRAILER = b"\xff\xff"
_PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 UTC, the zero of PostgreSQL's timestamps, in µs since 1970
_WIDTHS = {"int2": ">i2", "int4": ">i4", "int8": ">i8", "bool": "u1", "timestamptz": ">i8", "timestamp": ">i8"}
_TEXTS = ("varchar", "text", "json", "bpchar")


def pg_types(connection: Connection, table: str) -> dict[str, str]:
    """The columns of a table and their PostgreSQL type names (`int4`, `timestamptz`, `varchar`, …)."""
    return dict(
        connection.exec_driver_sql(
            "SELECT a.attname, t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
            f"WHERE a.attrelid = '{table}'::regclass AND a.attnum > 0 AND NOT a.attisdropped"
        ).all()
    )


class Field:
    """One column in binary COPY form: per row the byte length of its value (-1: NULL) and the values' bytes one
    after the other. `header`: each value goes with its 4-byte length (False: raw bytes, a row's part made
    elsewhere)."""

    __slots__ = ("lengths", "data", "header")

    def __init__(self, lengths: np.ndarray, data: np.ndarray, header: bool = True) -> None:
        self.lengths = lengths
        self.data = data
        self.header = header

    @classmethod
    def of(cls, kind: str, values, pg_type: str) -> Field:
        """A typed column (`kind` as `TABLES` and `insert_columns` name them; instants in µs since 1970, as
        `insert_columns` takes them) as the column type `pg_type` takes it."""
        if kind == TEXT:
            if pg_type not in _TEXTS:
                raise ValueError(f"text for a {pg_type} column")
            return cls.texts(values)
        if pg_type not in _WIDTHS:
            raise ValueError(f"{kind} for a {pg_type} column")
        values = np.asarray(values)
        if kind == INSTANT:
            values = values.astype(np.int64)
            null = values == NONE
            values = values - _PG_EPOCH_US
        elif kind in (OPTIONAL_INT, OPTIONAL_BOOL):
            values = values.astype(np.int64)
            null = values < 0
        elif kind == NULLABLE_INT:
            values = values.astype(np.int64)
            null = values == NONE
        elif kind in (INT, BOOL):
            null = None
        else:
            raise ValueError(f"unknown column kind {kind!r}")
        if pg_type == "bool":
            values = values > 0
        dtype = np.dtype(_WIDTHS[pg_type])
        if dtype.kind == "i" and values.size:
            info = np.iinfo(dtype)
            low, high = (values[~null] if null is not None else values).min(initial=0), values.max(initial=0)
            if low < info.min or high > info.max:
                raise ValueError(f"a value outside {pg_type}")
        width = dtype.itemsize
        matrix = values.astype(dtype).view(np.uint8).reshape(-1, width)
        lengths = np.full(len(values), width, dtype=np.int64)
        if null is not None and null.any():
            lengths[null] = -1
            matrix = matrix[~null]
        return cls(lengths, matrix.reshape(-1))

    @classmethod
    def texts(cls, values, header: bool = True) -> Field:
        encoded = [b"" if v is None else v.encode() for v in values]
        lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        if None in values:
            lengths[np.fromiter((v is None for v in values), dtype=bool, count=len(encoded))] = -1
        return cls(lengths, np.frombuffer(b"".join(encoded), dtype=np.uint8), header)


def binary_rows(fields: list[Field], field_count: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rows of binary COPY (without the file's header and trailer) from their fields, all at once: the bytes and
    where each row ends. `field_count`: written at the start of each row (None: the rows are parts, the count is
    in the first raw field)."""
    n = len(fields[0].lengths)
    sizes = np.full(n, 2 if field_count is not None else 0, dtype=np.int64)
    for f in fields:
        sizes += np.maximum(f.lengths, 0) + (4 if f.header else 0)
    ends = np.cumsum(sizes)
    out = np.empty(int(ends[-1]) if n else 0, dtype=np.uint8)
    index = np.int32 if out.size < 2**31 else np.int64  # gathering indexes: half the memory to walk when they fit
    at = (ends - sizes).astype(index)
    if field_count is not None:
        out[at[:, None] + np.arange(2)] = np.frombuffer(field_count.to_bytes(2, "big"), dtype=np.uint8)
        at = at + 2
    for f in fields:
        if f.header:
            out[at[:, None] + np.arange(4)] = f.lengths.astype(">i4").view(np.uint8).reshape(n, 4)
            at = at + 4
        lengths = np.maximum(f.lengths, 0).astype(index)
        total = int(lengths.sum())
        if total:
            starts = np.cumsum(lengths) - lengths  # where each row's value begins in f.data
            out[np.repeat(at - starts, lengths) + np.arange(total, dtype=index)] = f.data
        at = at + lengths
    return out, ends


def joined_rows(first: np.ndarray, first_ends: np.ndarray, second: np.ndarray, second_ends: np.ndarray) -> bytes:
    """Rows made of two parts, row by row: each row of `first` followed by the same row of `second` (a few large
    pieces a row: joined by slices, cheaper than gathering them byte by byte)."""
    a, b = memoryview(first), memoryview(second)
    a_starts, b_starts = np.diff(first_ends, prepend=0), np.diff(second_ends, prepend=0)
    a_starts, b_starts = (first_ends - a_starts).tolist(), (second_ends - b_starts).tolist()
    pieces = []
    for a0, a1, b0, b1 in zip(a_starts, first_ends.tolist(), b_starts, second_ends.tolist(), strict=True):
        pieces.append(a[a0:a1])
        pieces.append(b[b0:b1])
    return b"".join(pieces)


def select_rows(data: np.ndarray, ends: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows `keep` marks, of rows given as their bytes and where each ends."""
    sizes = np.diff(ends, prepend=0)
    return data[np.repeat(keep, sizes)], np.cumsum(sizes[keep])


def copy_binary(connection: Connection, table: str, names: Sequence[str], data: np.ndarray | bytes) -> None:
    """COPY rows made by `binary_rows` into `table`'s columns `names`, in the connection's transaction."""
    if not len(data):
        return
    raw = connection.connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(BINARY_HEADER)
        copy.write(memoryview(data))
        copy.write(BINARY_TRAILER)
