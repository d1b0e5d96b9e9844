"""`Idempotency-Key`: a retry returns the first answer and writes nothing; another body under the key is refused.

The key is claimed (inserted) before the work, inside the request's transaction: a concurrent
retry waits on the key's row until the first request commits, then replays its answer; if the
first request fails, its claim rolls back with everything else.
"""

import hashlib
import json

from sqlalchemy import bindparam, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from dossiers.models import IdempotencyRecord
from kernel.db import utc_now
from kernel.errors import Conflict, InvalidInput


def request_hash(scope: str, body: dict) -> str:
    canonical = json.dumps({"scope": scope, "body": body}, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


_CLAIM = {
    name: dialect.insert(IdempotencyRecord)
    .values(
        key=bindparam("key"),
        scope=bindparam("scope"),
        request_hash=bindparam("request_hash"),
        created_at=bindparam("created_at"),
    )
    .on_conflict_do_nothing(index_elements=["key"])
    .returning(IdempotencyRecord.key)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}
_COMPLETE = (
    update(IdempotencyRecord)
    .where(IdempotencyRecord.key == bindparam("claimed_key"))
    .values(status_code=bindparam("status_code"), response=bindparam("response"))
)


def claim(session: Session, *, key: str, scope: str, body: dict) -> IdempotencyRecord | None:
    """The stored answer when `key` was used before with this request; None once the key is claimed.

    One INSERT that does nothing on a taken key (on PostgreSQL it first waits for the transaction
    holding the key to end, then finds its row committed, or the key free again if it rolled back).
    """
    if not 1 <= len(key) <= 128:
        raise InvalidInput("Idempotency-Key must be 1 to 128 characters (a UUID is a good choice)")
    digest = request_hash(scope, body)
    connection = session.connection()
    values = {"key": key, "scope": scope, "request_hash": digest, "created_at": utc_now()}
    if connection.execute(_CLAIM[connection.dialect.name], values).first() is not None:
        return None
    stored = session.get(IdempotencyRecord, key, populate_existing=True)
    if stored is None or stored.request_hash != digest:
        raise Conflict(f"Idempotency-Key {key!r} was already used for another request; use a new key for a new request")
    return stored


def complete(session: Session, *, key: str, status_code: int, response: dict) -> None:
    session.connection().execute(_COMPLETE, {"claimed_key": key, "status_code": status_code, "response": response})
