"""Request hardening: a cap on body size (413 before the body is read), and rate limits whose counters
every worker shares (a table of the database, or Redis when `MOTCUA_REDIS_URL` is set).

The public lookup is limited twice: per client address (`MOTCUA_LOOKUP_RATE_LIMIT`) and per dossier
code for wrong phone digits (`MOTCUA_LOOKUP_CODE_FAILURE_LIMIT`): four digits are only 10,000
guesses, and an attacker has many addresses but each dossier has one code.
"""

import json
import logging
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import case, delete, select, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Field, Session, SQLModel
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response
from dossiers.lookup import CODE_MAX_LENGTH, normalise_code
from kernel.db import UTCDateTime, utc_now
from kernel.errors import DomainError, NotFound

log = logging.getLogger("motcua.api")


class TooLarge(HTTPException):
    """A chunked body grew past the cap while the app read it. An HTTPException, because FastAPI's
    body parsing passes those on to the error handlers and turns any other error into a 400."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, too_large_detail(max_bytes))


def too_large_detail(max_bytes: int) -> str:
    return f"the request body is larger than {max_bytes} bytes"


class BodySizeLimit:
    """Refuse bodies over `max_bytes`: by Content-Length at once, or while a chunked body streams in."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise TooLarge(self.max_bytes)
            return message

        try:
            await self.app(scope, counted, send)
        except TooLarge:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"error": "too_large", "detail": too_large_detail(self.max_bytes)}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


class RateLimited(DomainError):
    """429, with the seconds until the window ends (sent as `Retry-After`)."""

    status_code = 429
    error = "too_many_requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


def check_rate(text: str) -> RateLimitItem:
    """'30/minute', '10/hour', '100 per day' → the limit; anything else is refused naming the form."""
    try:
        return parse(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a rate; write it as COUNT/PERIOD, e.g. 30/minute or 10/hour") from None


class RateCounter(SQLModel, table=True):
    """One fixed-window counter of the database storage: how many hits `key` has had until `expires_at`."""

    __tablename__ = "rate_counter"

    key: str = Field(primary_key=True, max_length=255)
    count: int
    expires_at: datetime = Field(sa_type=UTCDateTime(timezone=True), index=True)


PRUNE_EVERY_SECONDS = 60


class DatabaseStorage(Storage):
    """A `limits` storage in the `rate_counter` table, shared by every worker of the database.

    Each increment is one atomic upsert in its own short transaction (`open_session()`, a write
    session); expired rows are pruned at most once a minute per process.
    """

    STORAGE_SCHEME = None  # built by the app, not from a URI

    def __init__(self, open_session: Callable[[], Session]) -> None:
        super().__init__()
        self.open_session = open_session
        self._pruned_at = 0.0

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = utc_now()
        table = RateCounter.__table__
        with self.open_session() as session:
            dialect = session.get_bind().dialect.name
            insert = (sqlite_insert if dialect == "sqlite" else postgresql_insert)(table)
            # A new window starts at max(amount, 0): a refund arriving after its window ended gives no credit.
            insert = insert.values(key=key, count=max(amount, 0), expires_at=now + timedelta(seconds=expiry))
            expired = table.c.expires_at <= now
            upsert = insert.on_conflict_do_update(
                index_elements=[table.c.key],
                set_={
                    "count": case((expired, insert.excluded.count), else_=table.c.count + amount),
                    "expires_at": case((expired, insert.excluded.expires_at), else_=table.c.expires_at),
                },
            ).returning(table.c.count)
            count = session.execute(upsert).scalar_one()
            if time.monotonic() - self._pruned_at > PRUNE_EVERY_SECONDS:
                self._pruned_at = time.monotonic()
                session.execute(delete(RateCounter).where(RateCounter.expires_at <= now))
            session.commit()
        return count

    def _row(self, key: str) -> RateCounter | None:
        with self.open_session() as session:
            row = session.execute(select(RateCounter).where(RateCounter.key == key)).scalar_one_or_none()
            session.commit()
        return row if row is not None and row.expires_at > utc_now() else None

    def get(self, key: str) -> int:
        row = self._row(key)
        return row.count if row else 0

    def get_expiry(self, key: str) -> float:
        row = self._row(key)
        return row.expires_at.timestamp() if row else time.time()

    def check(self) -> bool:
        with self.open_session() as session:
            session.execute(text("SELECT 1"))
        return True

    def reset(self) -> int | None:
        with self.open_session() as session:
            removed = session.execute(delete(RateCounter)).rowcount
            session.commit()
        return removed

    def clear(self, key: str) -> None:
        with self.open_session() as session:
            session.execute(delete(RateCounter).where(RateCounter.key == key))
            session.commit()


REDIS_KEY_PREFIX = "motcua"


def counter_storage(redis_url: str | None, open_session: Callable[[], Session]) -> Storage:
    """Redis when a URL is given (errors wrapped as `limits.errors.StorageError`), else the database."""
    if redis_url:
        return storage_from_string(redis_url, key_prefix=REDIS_KEY_PREFIX, wrap_exceptions=True)
    return DatabaseStorage(open_session)


class Counters:
    """Fixed-window limits over a shared storage: hit, refund, and the seconds until a window ends."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.limiter = FixedWindowRateLimiter(storage)

    def hit(self, rule: RateLimitItem, *identifiers: str) -> bool:
        return self.limiter.hit(rule, *identifiers)

    def refund(self, rule: RateLimitItem, *identifiers: str) -> None:
        self.storage.incr(rule.key_for(*identifiers), rule.get_expiry(), amount=-1)

    def retry_after(self, rule: RateLimitItem, *identifiers: str) -> int:
        reset_at = self.limiter.get_window_stats(rule, *identifiers).reset_time
        return max(1, math.ceil(reset_at - time.time()))


class LookupGuard:
    """The public lookup's two limits: per client address, and per dossier code for wrong digits."""

    def __init__(self, counters: Counters, *, per_address: str, code_failures: str) -> None:
        self.counters = counters
        self.per_address = check_rate(per_address)
        self.per_address_text = per_address
        self.code_failures = check_rate(code_failures)
        self.code_failures_text = code_failures

    def attempt(self, address: str | None) -> "LookupAttempt":
        return LookupAttempt(self, address or "unknown")


class LookupAttempt:
    """One request's lookup: `admit(code)` before the lookup, `counting()` around it, `settle()` after
    the request's session has ended (the page's session holds SQLite's write lock until then).

    A try is charged to the code before the lookup (so parallel guesses cannot all slip under the
    limit) and refunded unless the digits were wrong: a wrong code and wrong digits are both charged,
    so the limit says nothing about whether a code exists.
    """

    def __init__(self, guard: LookupGuard, address: str) -> None:
        self.guard = guard
        self.address = address
        self.code_key: str | None = None
        self.wrong = False

    def admit(self, code: str) -> None:
        guard, counters = self.guard, self.guard.counters
        if not counters.hit(guard.per_address, "lookup-address", self.address):
            raise RateLimited(
                f"too many lookups from your address: at most {guard.per_address_text}; try again shortly",
                retry_after=counters.retry_after(guard.per_address, "lookup-address", self.address),
            )
        key = normalise_code(code)[: CODE_MAX_LENGTH + 1]  # as the lookup matches it: 'h26' is 'H26'
        if not counters.hit(guard.code_failures, "lookup-code", key):
            raise RateLimited(
                f"too many wrong phone digits for this dossier code (at most {guard.code_failures_text}); "
                "the lookup of this code is closed until the time in Retry-After has passed",
                retry_after=counters.retry_after(guard.code_failures, "lookup-code", key),
            )
        self.code_key = key

    @contextmanager
    def counting(self) -> Iterator[None]:
        try:
            yield
        except NotFound:
            self.wrong = True
            raise

    def settle(self) -> None:
        if self.code_key is not None and not self.wrong:
            self.guard.counters.refund(self.guard.code_failures, "lookup-code", self.code_key)
            self.code_key = None


def _lookup_attempt(request: Request) -> Iterator[LookupAttempt]:
    # Declared before the session in a route's signature, so that `settle` runs after the session has ended.
    attempt = request.app.state.lookup_guard.attempt(request.client.host if request.client else None)
    try:
        yield attempt
    finally:
        attempt.settle()


LookupAttemptDep = Annotated[LookupAttempt, Depends(_lookup_attempt, scope="function")]


def install(app: FastAPI, *, redis_url: str | None, lookup_rate_limit: str, lookup_code_failure_limit: str) -> None:
    """The shared counters, the lookup's guard, and the 429 (with `Retry-After`) and 503 answers."""
    storage = counter_storage(redis_url, lambda: app.state.open_session(True))
    app.state.lookup_guard = LookupGuard(
        Counters(storage), per_address=lookup_rate_limit, code_failures=lookup_code_failure_limit
    )

    @app.exception_handler(RateLimited)
    async def _rate_limited(_: Request, exc: RateLimited):
        return error_response(429, exc.error, exc.detail, headers={"Retry-After": str(exc.retry_after)})

    @app.exception_handler(StorageError)
    async def _counters_unavailable(_: Request, exc: StorageError):
        # The limits fail closed: without their counters the lookup is not answered.
        log.warning("rate-limit storage unavailable: %s", exc.storage_error)
        detail = "the service cannot check its request limits just now; retry in a moment"
        return error_response(503, "unavailable", detail, headers={"Retry-After": "5"})
