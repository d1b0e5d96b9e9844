"""A parent row and its children written at once (one statement on PostgreSQL), as plain INSERTs would."""

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import JSON, Column, ForeignKey, Integer, MetaData, String, Table, insert, select

from kernel.db import UTCDateTime, insert_with_children

metadata = MetaData()
parent = Table(
    "kernel_test_parent",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(50), nullable=False),
    Column("kind", String(10), nullable=False, default="plain"),
    Column("at", UTCDateTime, nullable=False),
)
child = Table(
    "kernel_test_child",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("parent_id", Integer, ForeignKey("kernel_test_parent.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("payload", JSON),
    Column("note", String(50), default=lambda: "by default"),
)
other = Table(
    "kernel_test_other",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("parent_id", Integer, ForeignKey("kernel_test_parent.id"), nullable=False),
    Column("flag", Integer, nullable=False),
)
HANOI = timezone(timedelta(hours=7))


def rows(connection, table) -> list[tuple]:
    return [tuple(row) for row in connection.execute(select(table).order_by(table.c.id))]


def test_the_parent_and_its_children_are_written_as_plain_inserts_would(connection):
    metadata.create_all(connection)
    at = datetime(2026, 12, 5, 9, 30, tzinfo=HANOI)
    children = [
        (child, [{"parent_id": None, "seq": 1, "payload": {"a": [1, "b"]}}, {"seq": 2, "payload": None}]),
        (other, []),  # nothing to write: no statement part
        (other, [{"flag": 7}]),
    ]
    new_id = insert_with_children(
        connection, parent, {"name": "Nguyễn Thị Lan", "at": at}, children, foreign_key="parent_id"
    )
    # the same rows through SQLAlchemy's INSERTs, beside them
    plain_id = connection.execute(insert(parent).returning(parent.c.id), {"name": "Nguyễn Thị Lan", "at": at}).scalar()
    connection.execute(insert(child), [{"parent_id": plain_id, "seq": 1, "payload": {"a": [1, "b"]}}])
    connection.execute(insert(child), [{"parent_id": plain_id, "seq": 2, "payload": None}])
    connection.execute(insert(other), [{"parent_id": plain_id, "flag": 7}])

    written = rows(connection, parent)
    assert [row[1:] for row in written] == [("Nguyễn Thị Lan", "plain", at.astimezone(UTC))] * 2
    assert written[0][0] == new_id
    by_parent = {}
    for row in rows(connection, child):
        by_parent.setdefault(row[1], []).append(row[2:])
    assert by_parent[new_id] == by_parent[plain_id] == [(1, {"a": [1, "b"]}, "by default"), (2, None, "by default")]
    assert [row[1:] for row in rows(connection, other)] == [(new_id, 7), (plain_id, 7)]
    # a None in a JSON column is JSON's null, not SQL's NULL, as SQLAlchemy writes it
    nulls = connection.execute(select(child.c.parent_id, child.c.payload.is_(None)).where(child.c.seq == 2)).all()
    assert sorted(nulls) == sorted([(new_id, False), (plain_id, False)])


def test_the_same_shapes_reuse_their_statement(connection):
    metadata.create_all(connection)
    at = datetime(2026, 12, 5, 2, 30, tzinfo=UTC)
    for seq in range(3):
        insert_with_children(
            connection,
            parent,
            {"name": f"n{seq}", "kind": "k", "at": at},
            [(child, [{"seq": seq, "payload": None, "note": "given"}] * (seq + 1))],
            foreign_key="parent_id",
        )
    assert [(row[2], row[4]) for row in rows(connection, child)] == [(0, "given")] + [(1, "given")] * 2 + [
        (2, "given")
    ] * 3
