"""PostgreSQL's binary COPY built by numpy (dossiers/bulk.py): every kind of column, NULLs, text in any script and
rows made in two parts (the history import adds a dossier's code to a row made elsewhere) read back as written."""

from datetime import UTC, datetime

import numpy as np
import pytest

from dossiers.bulk import Field, binary_rows, copy_binary, joined_rows, pg_types, select_rows
from sla.core.batch import NONE, micros_of

TABLE = """CREATE TEMPORARY TABLE bulk_binary (id int4, small int2, big int8, flag bool, maybe bool, at timestamptz,
           name varchar(50), note text, doc json, code varchar(40))"""


def test_columns_of_every_kind_round_trip_through_binary_copy(connection):
    if connection.dialect.name != "postgresql":
        pytest.skip("binary COPY is PostgreSQL's")
    connection.exec_driver_sql(TABLE)
    types = pg_types(connection, "bulk_binary")
    at = [datetime(2025, 6, 2, 2, 0, 30, 123456, tzinfo=UTC), None, datetime(1999, 12, 31, 23, tzinfo=UTC)]
    columns = {
        "id": ("int", np.array([1, 2, 3])),
        "small": ("int", np.array([7, -3, 16383])),
        "big": ("optional_int", np.array([2**40, -1, 0])),
        "flag": ("bool", np.array([True, False, True])),
        "maybe": ("optional_int", np.array([1, -1, 0])),
        "at": ("instant", np.array([NONE if a is None else micros_of(a) for a in at], dtype=np.int64)),
        "name": ("text", ["Nguyễn Thị Lan", None, ""]),
        "note": ("text", ["tab\there, new\nline \\ back", "Đắk Lắk", None]),
        "doc": ("text", ['[["2025-04-26", "workday", "Làm bù"]]', None, "{}"]),
    }
    fields = [Field.of(kind, values, types[name]) for name, (kind, values) in columns.items()]
    # the first two rows whole; the rows are made as parts and finished with their code (the last column)
    parts, ends = binary_rows(fields, field_count=len(columns) + 1)
    parts, ends = select_rows(parts, ends, np.array([True, True, False]))
    codes, code_ends = binary_rows([Field.texts(["000.00.03.H26-250602-0001", "X-2"])])
    data = joined_rows(parts, ends, codes, code_ends)
    raw = Field(np.diff(ends, prepend=0), parts, header=False)  # or the parts as a raw field, gathered byte by byte
    assert binary_rows([raw, Field.texts(["000.00.03.H26-250602-0001", "X-2"])])[0].tobytes() == data
    copy_binary(connection, "bulk_binary", [*columns, "code"], data)
    rows = connection.exec_driver_sql("SELECT * FROM bulk_binary ORDER BY id").all()
    assert [tuple(row) for row in rows] == [
        (1, 7, 2**40, True, True, at[0], "Nguyễn Thị Lan", "tab\there, new\nline \\ back",
         [["2025-04-26", "workday", "Làm bù"]], "000.00.03.H26-250602-0001"),
        (2, -3, None, False, None, None, None, "Đắk Lắk", None, "X-2"),
    ]  # fmt: skip
    with pytest.raises(ValueError, match="outside int2"):
        Field.of("int", np.array([40_000]), "int2")
    with pytest.raises(ValueError, match="text for a int4"):
        Field.of("text", ["1"], "int4")
