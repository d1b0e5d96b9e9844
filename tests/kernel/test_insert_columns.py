"""Rows given column by column written at once (one statement on PostgreSQL), as plain INSERTs would; which values
exist already; JIT off for a block of statements."""

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, Text, insert, select

from kernel.db import UTCDateTime, existing, insert_columns, without_jit

metadata = MetaData()
told = Table(
    "kernel_test_told",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(50), nullable=False, unique=True),
    Column("level", Integer),
    Column("note", Text),
    Column("due_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
)
HANOI = timezone(timedelta(hours=7))
NOW = datetime(2026, 12, 5, 9, 30, 15, 123456, tzinfo=HANOI)


def rows(connection) -> list[tuple]:
    return [tuple(row) for row in connection.execute(select(told).order_by(told.c.id))]


def test_the_columns_are_written_as_plain_inserts_would(connection):
    metadata.create_all(connection)
    due = np.array(["2025-12-31T03:00", "NaT", "2026-01-02T10:17"], dtype="datetime64[m]")
    written = insert_columns(
        connection,
        told,
        {
            "key": pd.Series(["a", "b", "c"]),
            "level": pd.Series([1.0, None, 3.0]).astype("Int64"),  # NULL in an integer column
            "note": ["Nguyễn Thị Lan", None, "x"],
            "due_at": due,  # numpy minutes, read as UTC; NaT is NULL
            "created_at": NOW,  # the same in every row
        },
        returning="key",
    )
    assert written == ["a", "b", "c"]
    expected = [
        ("a", 1, "Nguyễn Thị Lan", datetime(2025, 12, 31, 3, 0, tzinfo=UTC), NOW.astimezone(UTC)),
        ("b", None, None, None, NOW.astimezone(UTC)),
        ("c", 3, "x", datetime(2026, 1, 2, 10, 17, tzinfo=UTC), NOW.astimezone(UTC)),
    ]
    assert [row[1:] for row in rows(connection)] == expected
    ids = [row[0] for row in rows(connection)]
    assert ids == sorted(ids)  # in the order given
    # the same rows through SQLAlchemy's INSERT agree
    connection.execute(told.delete())
    connection.execute(
        insert(told),
        [
            {"key": key, "level": level, "note": note, "due_at": due_at, "created_at": created}
            for key, level, note, due_at, created in expected
        ],
    )
    assert [row[1:] for row in rows(connection)] == expected


def test_rows_already_there_are_skipped_and_the_written_ones_returned(connection):
    metadata.create_all(connection)
    first = insert_columns(
        connection, told, {"key": ["a", "b"], "level": np.array([1, 2]), "created_at": NOW}, skip_conflicts_on="key"
    )
    assert len(first) == 2
    second = insert_columns(
        connection,
        told,
        {"key": ["b", "c", "c", "d"], "level": np.array([9, 3, 4, 5]), "created_at": NOW},
        skip_conflicts_on="key",
        returning="key",
    )
    assert second == ["c", "d"]  # b was there; c's repeat is left out
    assert [(row[1], row[2]) for row in rows(connection)] == [("a", 1), ("b", 2), ("c", 3), ("d", 5)]
    assert insert_columns(connection, told, {"key": [], "created_at": NOW}) == []  # nothing to write


def test_aware_instants_of_a_pandas_column_and_all_null_columns(connection):
    metadata.create_all(connection)
    due = pd.Series(
        pd.to_datetime(["2025-12-31 10:00:00", "2025-12-31 11:30:05.5"], format="ISO8601").tz_localize(HANOI)
    )
    insert_columns(connection, told, {"key": ["a", "b"], "note": [None, None], "due_at": due, "created_at": NOW})
    assert [(row[3], row[4]) for row in rows(connection)] == [
        (None, datetime(2025, 12, 31, 3, 0, tzinfo=UTC)),
        (None, datetime(2025, 12, 31, 4, 30, 5, 500000, tzinfo=UTC)),
    ]


def test_columns_must_agree(connection):
    with pytest.raises(ValueError):
        insert_columns(connection, told, {"key": ["a"], "level": [1, 2], "created_at": NOW})
    with pytest.raises(ValueError):
        insert_columns(connection, told, {"created_at": NOW})


def test_which_values_exist_already(connection):
    metadata.create_all(connection)
    insert_columns(connection, told, {"key": ["a", "b", "c'd"], "created_at": NOW})
    assert existing(connection, told.c.key, ["b", "x", "c'd", "a", "b"]) == {"a", "b", "c'd"}
    assert existing(connection, told.c.key, ["x"]) == set()
    assert existing(connection, told.c.key, []) == set()
    many = [f"k{n}" for n in range(1200)]  # more than one chunk elsewhere
    insert_columns(connection, told, {"key": many[::2], "created_at": NOW})
    assert existing(connection, told.c.key, many) == set(many[::2])


def test_jit_is_off_inside_and_as_it_was_after(connection):
    if connection.dialect.name != "postgresql":
        with without_jit(connection):  # nothing to do
            return
    setting = "SELECT current_setting('jit')"
    before = connection.exec_driver_sql(setting).scalar_one()
    with without_jit(connection):
        assert connection.exec_driver_sql(setting).scalar_one() == "off"
    assert connection.exec_driver_sql(setting).scalar_one() == before
