"""SQLite: the writers of one process take turns at a lock of their own, given back however a write ends."""

import sqlite3
import threading
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from api import db


@pytest.fixture
def sqlite_engines(tmp_path, monkeypatch):
    monkeypatch.setattr(db, "SQLITE_BUSY_SECONDS", 0)  # SQLite's own wait: none, so a clash is an error
    monkeypatch.setattr(db, "WRITER_TURN_SECONDS", 2)
    path = tmp_path / "turns.db"
    engine = db.make_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
        connection.execute(text("INSERT INTO counter VALUES (0)"))
    yield path, engine, db.for_writes(engine)
    engine.dispose()


def seconds_to_write(write_engine) -> float:
    began = time.perf_counter()
    with write_engine.begin() as connection:
        connection.execute(text("UPDATE counter SET n = n + 1"))
    return time.perf_counter() - began


def test_the_turn_is_given_back_after_a_commit_and_after_a_rollback(sqlite_engines):
    _, _, writes = sqlite_engines
    assert seconds_to_write(writes) < 1
    with pytest.raises(RuntimeError), writes.begin() as connection:
        connection.execute(text("UPDATE counter SET n = n + 1"))
        raise RuntimeError("the unit of work fails")
    assert seconds_to_write(writes) < 1  # not the 2 s wait for a turn never given back


def test_the_turn_is_given_back_when_begin_fails(sqlite_engines):
    path, _, writes = sqlite_engines
    other_process = sqlite3.connect(path, timeout=0)
    other_process.execute("BEGIN IMMEDIATE")  # another process holds SQLite's write lock
    try:
        with pytest.raises(OperationalError, match="locked"), writes.begin():
            pass
    finally:
        other_process.rollback()
        other_process.close()
    assert seconds_to_write(writes) < 1


def test_writers_of_one_process_wait_for_their_turn_not_for_sqlite(sqlite_engines):
    _, engine, writes = sqlite_engines
    failures = []

    def write() -> None:
        for _ in range(5):
            try:
                with writes.begin() as connection:
                    value = connection.execute(text("SELECT n FROM counter")).scalar_one()
                    time.sleep(0.002)
                    connection.execute(text("UPDATE counter SET n = :n"), {"n": value + 1})
            except OperationalError as exc:  # "database is locked": SQLite refused a second writer
                failures.append(exc)

    threads = [threading.Thread(target=write) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with engine.connect() as connection:
        assert connection.execute(text("SELECT n FROM counter")).scalar_one() == 30
