"""Sign-in throttling: failed attempts counted per username and per client address, shared by every worker.

After `free_attempts` failures in a row a key waits before its next attempt: `first_delay_seconds`, doubled at
each further failure; after `lock_after` failures it is locked for `lock_seconds`. While a key waits, its attempts
are answered 429 with `Retry-After` at once: no password is checked and nothing is counted. A key forgets its
failures `lock_seconds` after the last one; a successful sign-in clears its username's count (not its address's:
one good account must not buy an address more guesses at others).

The counts live in the database (table `sign_in_failure`, written in the request's own transaction) or in Redis
(`MOTCUA_REDIS_URL`): both behind `FailureStore`.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from accounts.models import SignInFailure
from kernel.db import utc_now
from kernel.errors import DomainError


class TooManyAttempts(DomainError):
    status_code = 429
    error = "too_many_requests"

    def __init__(self, detail: str, *, retry_after_seconds: int, **page) -> None:
        super().__init__(detail, **page)
        self.retry_after_seconds = retry_after_seconds

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_seconds)}


@dataclass(frozen=True)
class ThrottleRule:
    free_attempts: int
    first_delay_seconds: float
    lock_after: int
    lock_seconds: float

    def blocked_for(self, failures: int) -> float:
        """How long a key waits after its `failures`-th failure in a row (0: not at all)."""
        if failures >= self.lock_after:
            return self.lock_seconds
        if failures <= self.free_attempts:
            return 0.0
        return min(self.first_delay_seconds * 2 ** (failures - self.free_attempts - 1), self.lock_seconds)


class FailureStore(Protocol):
    """Where the counts live. `session` is the request's (the database store writes in its transaction)."""

    def blocked_until(self, session: Session, keys: Sequence[str]) -> dict[str, datetime]: ...

    def add_failure(self, session: Session, key: str, *, now: datetime, forget_after: timedelta) -> int:
        """Count one more failure of `key` (restarting from 1 if the last is older than `forget_after`)."""

    def block(self, session: Session, key: str, *, until: datetime, seconds: float) -> None:
        """Make `key` wait until `until` (`seconds` from now)."""

    def clear(self, session: Session, key: str) -> None: ...


class DatabaseFailureStore:
    """The counts in table `sign_in_failure`; one upsert per failure, so that concurrent failures all count."""

    def blocked_until(self, session: Session, keys: Sequence[str]) -> dict[str, datetime]:
        query = select(SignInFailure.key, SignInFailure.blocked_until).where(
            SignInFailure.key.in_(list(keys)), SignInFailure.blocked_until.is_not(None)
        )
        return {row.key: row.blocked_until for row in session.execute(query)}

    def add_failure(self, session: Session, key: str, *, now: datetime, forget_after: timedelta) -> int:
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        table = SignInFailure.__table__
        statement = dialect.insert(table).values(key=key, failures=1, last_failed_at=now)
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "failures": case((table.c.last_failed_at < now - forget_after, 1), else_=table.c.failures + 1),
                "last_failed_at": now,
            },
        ).returning(table.c.failures)
        return session.execute(statement).scalar_one()

    def block(self, session: Session, key: str, *, until: datetime, seconds: float) -> None:
        session.execute(update(SignInFailure).where(SignInFailure.key == key).values(blocked_until=until))

    def clear(self, session: Session, key: str) -> None:
        session.execute(delete(SignInFailure).where(SignInFailure.key == key))

    def prune(self, session: Session, *, now: datetime, forget_after: timedelta) -> int:
        """Deletes the counts that no longer matter: last failure older than `forget_after` (the next failure
        would count from 1 again) and no wait still running. The rows deleted."""
        return session.execute(
            delete(SignInFailure).where(
                SignInFailure.last_failed_at < now - forget_after,
                (SignInFailure.blocked_until.is_(None)) | (SignInFailure.blocked_until < now),
            )
        ).rowcount


class RedisFailureStore:
    """The counts in Redis (`MOTCUA_REDIS_URL`): `<prefix><key>:failures` (expires `forget_after` after the last
    failure) and `<prefix><key>:blocked` (the instant the wait ends, as a POSIX timestamp; expires then)."""

    PREFIX = "motcua:sign-in:"

    def __init__(self, url: str) -> None:
        import redis  # only with MOTCUA_REDIS_URL

        self.redis = redis.Redis.from_url(url)

    def blocked_until(self, session: Session, keys: Sequence[str]) -> dict[str, datetime]:
        values = self.redis.mget([f"{self.PREFIX}{key}:blocked" for key in keys])
        return {
            key: datetime.fromtimestamp(float(value), UTC) for key, value in zip(keys, values, strict=True) if value
        }

    def add_failure(self, session: Session, key: str, *, now: datetime, forget_after: timedelta) -> int:
        name = f"{self.PREFIX}{key}:failures"
        pipeline = self.redis.pipeline()
        pipeline.incr(name)
        pipeline.pexpire(name, max(1, int(forget_after.total_seconds() * 1000)))
        failures, _ = pipeline.execute()
        return int(failures)

    def block(self, session: Session, key: str, *, until: datetime, seconds: float) -> None:
        milliseconds = max(1, math.ceil(seconds * 1000))
        self.redis.set(f"{self.PREFIX}{key}:blocked", repr(until.timestamp()), px=milliseconds)

    def clear(self, session: Session, key: str) -> None:
        self.redis.delete(f"{self.PREFIX}{key}:failures", f"{self.PREFIX}{key}:blocked")


class SignInThrottle:
    def __init__(
        self,
        store: FailureStore,
        *,
        by_username: ThrottleRule,
        by_address: ThrottleRule,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.rules = {"user": by_username, "address": by_address}
        self.clock = clock

    @classmethod
    def from_settings(cls, settings, store: FailureStore | None = None) -> "SignInThrottle":
        lock_seconds = settings.sign_in_lock_minutes * 60
        if store is None:
            store = RedisFailureStore(settings.redis_url) if settings.redis_url else DatabaseFailureStore()
        return cls(
            store,
            by_username=ThrottleRule(
                settings.sign_in_free_attempts,
                settings.sign_in_delay_seconds,
                settings.sign_in_lock_after,
                lock_seconds,
            ),
            by_address=ThrottleRule(
                settings.sign_in_address_free_attempts,
                settings.sign_in_delay_seconds,
                settings.sign_in_address_lock_after,
                lock_seconds,
            ),
        )

    @staticmethod
    def keys(username: str, address: str | None) -> dict[str, str]:
        return {"user": f"user:{username[:64]}", "address": f"address:{(address or 'unknown')[:64]}"}

    def check(self, session: Session, username: str, address: str | None) -> None:
        """Raise `TooManyAttempts` if the username or the address must still wait."""
        keys = self.keys(username, address)
        blocked = self.store.blocked_until(session, list(keys.values()))
        now = self.clock()
        waits = {kind: (blocked[key] - now).total_seconds() for kind, key in keys.items() if key in blocked}
        waits = {kind: seconds for kind, seconds in waits.items() if seconds > 0}
        if not waits:
            return
        kind, seconds = max(waits.items(), key=lambda item: item[1])
        who = "this username" if kind == "user" else "your address"
        retry = max(1, math.ceil(seconds))
        raise TooManyAttempts(
            f"too many failed sign-ins for {who}: try again in {retry} seconds",
            retry_after_seconds=retry,
            message_id="sign_in_throttled",
            seconds=retry,
        )

    def failed(self, session: Session, username: str, address: str | None) -> None:
        now = self.clock()
        for kind, key in self.keys(username, address).items():
            rule = self.rules[kind]
            forget_after = timedelta(seconds=rule.lock_seconds)
            failures = self.store.add_failure(session, key, now=now, forget_after=forget_after)
            if wait := rule.blocked_for(failures):
                self.store.block(session, key, until=now + timedelta(seconds=wait), seconds=wait)

    def prune(self, session: Session) -> int:
        """Deletes the stale counts of the database store (Redis expires its own); the rows deleted."""
        if not isinstance(self.store, DatabaseFailureStore):
            return 0
        forget_after = timedelta(seconds=max(rule.lock_seconds for rule in self.rules.values()))
        return self.store.prune(session, now=self.clock(), forget_after=forget_after)

    def succeeded(self, session: Session, username: str) -> None:
        self.store.clear(session, self.keys(username, None)["user"])
