"""The dispatcher: sends the outbox's due messages through the providers, and logs every attempt.

At least once, never lost: a message is marked sent only after its provider took it, in a transaction
after the sending; a crash in between leaves it pending, and the next run sends it again with the same
key, which the providers receive (a gateway or mail system deduplicating by key shows it once). Marks are
written every `mark_every` messages, which bounds what a crash makes send twice.

Failures are tried again with a doubling backoff, up to `max_attempts`; a permanent refusal (a 5xx SMTP
reply, a 4xx gateway answer) gives up at once. Quiet hours: a citizen's message outside 07:00–21:00,
or a staff member's outside their unit's working time, is held until the next allowed instant.
"""

import logging
import time as clock
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import Engine, bindparam, insert, select, update
from sqlmodel import Session

from dossiers.models import Dossier
from notify.models import Delivery, OutboxMessage
from notify.outbox import local_text
from notify.providers import Outgoing, Providers, SendFailed
from notify.quiet import CITIZEN_HOURS, Calendars, next_citizen_instant, next_working_instant
from sla.calendars import CalendarStore

log = logging.getLogger("motcua.notify")

MAX_BACKOFF = timedelta(hours=6)


@dataclass(frozen=True)
class DispatchPolicy:
    max_attempts: int = 6
    backoff_seconds: float = 60
    batch_size: int = 500
    mark_every: int = 50
    workers: int = 4
    citizen_hours: tuple[time, time] = CITIZEN_HOURS


@dataclass
class DispatchReport:
    sent: int = 0
    failed: int = 0
    gave_up: int = 0
    held: int = 0
    seconds: float = 0.0
    answers: list[str] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


_DUE = (
    select(OutboxMessage, Dossier.code)
    .outerjoin(Dossier, Dossier.id == OutboxMessage.dossier_id)
    .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= bindparam("now"))
    .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
    .limit(bindparam("limit"))
)
_MARK = (
    update(OutboxMessage)
    .where(OutboxMessage.id == bindparam("message_id"))
    .values(
        status=bindparam("new_status"),
        attempts=bindparam("new_attempts"),
        next_attempt_at=bindparam("new_next"),
        sent_at=bindparam("new_sent_at"),
    )
)


def backoff(policy: DispatchPolicy, attempts: int) -> timedelta:
    return min(timedelta(seconds=policy.backoff_seconds * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def allowed_from(message: OutboxMessage, now: datetime, calendars: Calendars, policy: DispatchPolicy) -> datetime:
    """The first instant at or after `now` the message may go (quiet hours)."""
    if message.audience == "citizen":
        return next_citizen_instant(now, policy.citizen_hours)
    return next_working_instant(calendars.of(message.agency_id), now)


def dispatch(
    engine: Engine,
    *,
    providers: Providers,
    store: CalendarStore,
    policy: DispatchPolicy = DispatchPolicy(),
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    after_send: Callable[[OutboxMessage], None] | None = None,
) -> DispatchReport:
    """Send every message due by now (in batches), until none is left. `after_send(message)` runs between
    a provider's acceptance and the mark (the tests inject a crash there)."""
    report = DispatchReport()
    started = clock.perf_counter()
    try:
        while True:
            moment = now()
            with Session(engine, expire_on_commit=False) as session:
                due = session.execute(_DUE, {"now": moment, "limit": policy.batch_size}).all()
                calendars = Calendars(session, store)
                held = _hold(session, due, moment, calendars, policy, report)
                session.commit()
            ready = [(m, code) for m, code in due if m.id not in held]
            if not ready:
                break
            marks: list[dict] = []
            deliveries: list[dict] = []
            # the providers' round trips overlap in `workers` threads; results are recorded here, in order
            pool = ThreadPoolExecutor(max_workers=policy.workers, thread_name_prefix="notify-send")
            try:
                results = pool.map(lambda item: _attempt(providers, *item), ready)
                for (message, _), (answer, failure) in zip(ready, results, strict=True):
                    _record(message, answer, failure, policy, now(), marks, deliveries, report)
                    if after_send is not None and failure is None:
                        after_send(message)
                    if len(marks) >= policy.mark_every:
                        _mark(engine, marks, deliveries)
                        marks, deliveries = [], []
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
            _mark(engine, marks, deliveries)
            if len(due) < policy.batch_size:
                break
    finally:
        report.seconds = clock.perf_counter() - started
    return report


def _hold(session, due, moment, calendars, policy, report) -> set[int]:
    """Messages outside their recipient's hours: moved to the next allowed instant, the hold logged."""
    held: set[int] = set()
    marks, deliveries = [], []
    for message, _ in due:
        allowed = allowed_from(message, moment, calendars, policy)
        if allowed > moment:
            held.add(message.id)
            marks.append(_mark_values(message, "pending", message.attempts, allowed, None))
            deliveries.append(_delivery(message, moment, "held", f"quiet hours: held until {local_text(allowed)}"))
    if marks:
        session.connection().execute(_MARK, marks)
        session.connection().execute(insert(Delivery), deliveries)
        report.held += len(marks)
    return held


def _mark_values(message, status: str, attempts: int, next_at: datetime, sent_at: datetime | None) -> dict:
    return {
        "message_id": message.id,
        "new_status": status,
        "new_attempts": attempts,
        "new_next": next_at,
        "new_sent_at": sent_at,
    }


def _delivery(message, at: datetime, outcome: str, answer: str | None, attempt: int | None = None) -> dict:
    return {
        "message_id": message.id,
        "attempt": attempt if attempt is not None else message.attempts,
        "at": at,
        "outcome": outcome,
        "answer": answer[:1000] if answer else None,
    }


def _attempt(providers: Providers, message, code) -> tuple[str | None, SendFailed | None]:
    """One send (in a worker thread): the provider's answer, or its refusal."""
    outgoing = Outgoing(message.key, message.channel, message.address, message.subject, message.body, code)
    try:
        return providers.send(outgoing), None
    except SendFailed as exc:
        return None, exc


def _record(message, answer, failure, policy, moment, marks, deliveries, report) -> None:
    """What an attempt leads to: sent; failed, to be tried again after the backoff; or given up."""
    attempt = message.attempts + 1
    if failure is not None:
        exc = failure
        exc.answer = _without_address(exc.answer, message.address)
        if exc.permanent or attempt >= policy.max_attempts:
            marks.append(_mark_values(message, "gave_up", attempt, message.next_attempt_at, None))
            deliveries.append(_delivery(message, moment, "failed", exc.answer, attempt))
            deliveries.append(
                _delivery(
                    message,
                    moment,
                    "gave_up",
                    ("refused for good: " if exc.permanent else f"after {attempt} attempts: ") + exc.answer,
                    attempt,
                )
            )
            report.gave_up += 1
        else:
            marks.append(_mark_values(message, "pending", attempt, moment + backoff(policy, attempt), None))
            deliveries.append(_delivery(message, moment, "failed", exc.answer, attempt))
            report.failed += 1
        report.answers.append(exc.answer)
        log.warning("message %s (%s) not sent: %s", message.id, message.channel, exc.answer)
        return
    answer = _without_address(answer, message.address)
    marks.append(_mark_values(message, "sent", attempt, message.next_attempt_at, moment))
    deliveries.append(_delivery(message, moment, "sent", answer, attempt))
    report.sent += 1


def _without_address(answer: str, address: str) -> str:
    """A provider's answer as logged: the recipient's phone or email masked (personal data stays out of logs)."""
    return answer.replace(address, "*" * max(len(address) - 3, 0) + address[-3:]) if address else answer


def _mark(engine: Engine, marks: list[dict], deliveries: list[dict]) -> None:
    if not marks:
        return
    with Session(engine) as session:
        session.connection().execute(_MARK, marks)
        session.connection().execute(insert(Delivery), deliveries)
        session.commit()
