"""Versions in force kept per catalogue stamp: served without a statement, never past a change to `procedure`
(a trigger moves the stamp, whoever writes), including the writer's own session."""

from datetime import date

import pytest
from sqlalchemy import event, text
from sqlmodel import Session

from kernel.db import stamp
from procedures.models import CatalogueState
from procedures.schemas import ProcedureUpdate
from procedures.service import get_procedure, procedure_in_force, update_procedure

CODE, DAY = "1.004222", date(2026, 3, 2)


def statements_during(connection, call):
    seen = []

    def listen(_conn, _cursor, statement, *_):
        seen.append(statement)

    event.listen(connection, "before_cursor_execute", listen)
    try:
        result = call()
    finally:
        event.remove(connection, "before_cursor_execute", listen)
    return result, seen


def fresh(connection) -> Session:
    """Another request's session (its own stamps), inside the test's transaction."""
    return Session(connection, join_transaction_mode="create_savepoint", expire_on_commit=False)


def test_a_kept_version_is_the_version_in_force_and_costs_no_statement(connection):
    with fresh(connection) as first:
        kept = procedure_in_force(first, CODE, as_of=DAY)
        stored = get_procedure(first, CODE, as_of=DAY)
        assert {name: getattr(kept, name) for name in vars(kept)} == {
            name: getattr(stored, name) for name in vars(kept)
        }
    with fresh(connection) as second:
        stamp(second, CatalogueState)  # the stamps come once per session, with the others
        again, statements = statements_during(connection, lambda: procedure_in_force(second, CODE, as_of=DAY))
    assert again is kept and statements == []


def test_a_change_through_the_service_shows_in_the_same_session_and_the_next(connection):
    with fresh(connection) as writer:
        before = procedure_in_force(writer, CODE, as_of=DAY)
        update_procedure(writer, CODE, ProcedureUpdate(name="Đăng ký thường trú (sửa)"))
        assert procedure_in_force(writer, CODE, as_of=DAY).name == "Đăng ký thường trú (sửa)"
        writer.commit()
    with fresh(connection) as reader:
        assert procedure_in_force(reader, CODE, as_of=DAY).name == "Đăng ký thường trú (sửa)"
    assert before.name != "Đăng ký thường trú (sửa)"


def test_any_write_to_procedure_moves_the_stamp(connection):
    with fresh(connection) as reader:
        old = stamp(reader, CatalogueState)
        procedure_in_force(reader, CODE, as_of=DAY)
    connection.execute(text("UPDATE procedure SET name = 'Tên do tay' WHERE code = :code"), {"code": CODE})
    with fresh(connection) as next_request:
        assert stamp(next_request, CatalogueState) != old
        assert procedure_in_force(next_request, CODE, as_of=DAY).name == "Tên do tay"


def test_a_kept_version_is_read_only(connection):
    with fresh(connection) as session:
        kept = procedure_in_force(session, CODE, as_of=DAY)
    with pytest.raises(AttributeError, match="read-only"):
        kept.name = "x"
