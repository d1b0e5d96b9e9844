"""An `Idempotency-Key` claimed by one INSERT: a concurrent retry waits for the first request's end."""

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import delete, text
from sqlmodel import Session

from api.db import for_writes
from dossiers import idempotency
from dossiers.models import IdempotencyRecord
from kernel.errors import Conflict


def claim_in_a_session_of_its_own(engine, key: str, body: dict):
    with Session(for_writes(engine), expire_on_commit=False) as session:
        stored = idempotency.claim(session, key=key, scope="test", body=body)
        session.commit()
        return (stored.status_code, stored.response) if stored else None


def wait_until_a_backend_waits_on_a_lock(engine) -> None:
    query = text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%idempotency%'")
    deadline = time.monotonic() + 30
    with engine.connect() as connection:
        while connection.execute(query).scalar_one() == 0:
            connection.rollback()  # pg_stat_activity is read once per transaction
            assert time.monotonic() < deadline, "the retry never waited for the first request"
            time.sleep(0.05)


@pytest.mark.parametrize("first_ends", ["commit", "rollback"])
def test_a_concurrent_retry_waits_then_replays_or_claims(engine, first_ends):
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks: PostgreSQL (SQLite writers take turns before they begin)")
    key = f"race-{uuid.uuid4().hex}"
    try:
        # the session ends (its claim rolled back) before the pool waits for the retry, even on failure
        with ThreadPoolExecutor(1) as pool, Session(for_writes(engine)) as first:
            assert idempotency.claim(first, key=key, scope="test", body={"a": 1}) is None
            idempotency.complete(first, key=key, status_code=201, response={"code": "X-1"})
            retry = pool.submit(claim_in_a_session_of_its_own, engine, key, {"a": 1})
            wait_until_a_backend_waits_on_a_lock(engine)
            first.commit() if first_ends == "commit" else first.rollback()
            assert retry.result() == ((201, {"code": "X-1"}) if first_ends == "commit" else None)
        with pytest.raises(Conflict, match="already used for another request"):
            claim_in_a_session_of_its_own(engine, key, {"a": 2})
    finally:
        with Session(engine) as session:
            session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.key == key))
            session.commit()
