"""`Idempotency-Key`: a retry returns the first answer and writes nothing; another body under the key is refused.

The key is claimed (inserted) before the work, inside the request's transaction: a concurrent
retry waits on the key's row until the first request commits, then replays its answer; if the
first request fails, its claim rolls back with everything else.
"""

import hashlib
import json

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from dossiers.models import IdempotencyRecord
from procedures.errors import Conflict, InvalidInput


def request_hash(scope: str, body: dict) -> str:
    canonical = json.dumps({"scope": scope, "body": body}, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def claim(session: Session, *, key: str, scope: str, body: dict) -> IdempotencyRecord | None:
    """The stored answer when `key` was used before with this request; None once the key is claimed."""
    if not 1 <= len(key) <= 128:
        raise InvalidInput("Idempotency-Key must be 1 to 128 characters (a UUID is a good choice)")
    digest = request_hash(scope, body)
    try:
        with session.begin_nested():
            session.add(IdempotencyRecord(key=key, scope=scope, request_hash=digest))
    except IntegrityError:
        stored = session.get(IdempotencyRecord, key, populate_existing=True)
        if stored is None or stored.request_hash != digest:
            raise Conflict(
                f"Idempotency-Key {key!r} was already used for another request; use a new key for a new request"
            ) from None
        return stored
    return None


def complete(session: Session, *, key: str, status_code: int, response: dict) -> None:
    record = session.get(IdempotencyRecord, key)
    record.status_code = status_code
    record.response = response
    session.add(record)
    session.flush()
