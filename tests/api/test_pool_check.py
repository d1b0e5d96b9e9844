"""The pool checks every PostgreSQL connection it hands out with the stamps read (api/db.py): a dropped
connection is replaced before use, and the request's session then reads no stamps of its own."""

import pytest
from sqlalchemy import event, text
from sqlmodel import Session

from kernel.db import stamp
from procedures.models import AgencyState
from sla.models import CalendarState


def test_the_first_stamps_come_with_the_connection(fresh_engine):
    if fresh_engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no pool check (it has no server to lose)")
    seen = []
    event.listen(fresh_engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    with Session(fresh_engine) as session:
        agencies, calendar = stamp(session, AgencyState), stamp(session, CalendarState)
        read = session.execute(text("SELECT version FROM agency_state")).scalar_one()
    assert agencies == read and agencies and calendar
    assert not [statement for statement in seen if "calendar_state" in statement]


def test_a_connection_the_database_dropped_is_replaced_before_use(fresh_engine):
    if fresh_engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no pool check (it has no server to lose)")
    with fresh_engine.connect() as other:
        with fresh_engine.connect() as connection:  # a second connection, back into the pool at the block's end
            dropped = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dropped})
        other.commit()
        with Session(fresh_engine) as session:  # takes the dropped one, checked and replaced on the way
            assert stamp(session, AgencyState)
            assert session.execute(text("SELECT pg_backend_pid()")).scalar_one() != dropped
