"""Sync out: every changed dossier's record posted to the national gateway (docs/exchange.md, "Sync").

A run stamps the outbox (exchange.service.stamp_changes), then for each dossier with a change the gateway has
not accepted: reads its record, posts it to "create" and, when the gateway answers that it exists, to
"update"; then posts its steps not yet accepted (or changed since), 10 at a time, marking each chunk; then
marks the dossier synced at the change it read. A request that times out or meets a server error is tried
again after a growing pause; a dossier that still fails is marked failed with the gateway's answer and
waits longer before each new attempt. At least once: a crash between a send and its mark sends again, and
the gateway keeps one record per dossier code and one step per step key, so it ends with exactly one.

One run at a time: the caller holds the leader lock `exchange-sync` (`run_sync`).
"""

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine, func, or_, select
from sqlmodel import Session

from dossiers.models import Dossier, DossierChange
from exchange.models import DossierSync, StepSync
from exchange.service import record_of, stamp_changes
from sla.core.calendar import CalendarFor
from sla.jobs import LockBusy, leader_lock

log = logging.getLogger("motcua.exchange")

STEP_CHUNK = 10
CREATE, UPDATE, STEPS = "/DongBoHoSoMC/create", "/DongBoHoSoMC/update", "/CapNhatTienDoHoSoMC"
LOCK = "exchange-sync"
MAX_WAIT = timedelta(hours=24)


@dataclass(frozen=True)
class Gateway:
    """Where and how to post (api.settings: MOTCUA_EXCHANGE_*)."""

    url: str
    token: str
    timeout_seconds: float = 30
    retries: int = 2
    retry_seconds: float = 2
    interval_minutes: float = 10


class GatewayError(Exception):
    """The gateway refused a request, or could not be reached: `answer` is what it said (or the transport's error)."""

    def __init__(self, answer: str, status: int | None = None) -> None:
        super().__init__(answer)
        self.answer = answer
        self.status = status


class GatewayClient:
    """The gateway's services as motcua calls them (JSON over HTTPS, the token as a bearer)."""

    def __init__(self, gateway: Gateway, *, sleep: Callable[[float], None] = time.sleep, transport=None) -> None:
        self.gateway = gateway
        self.sleep = sleep
        self.http = httpx.Client(
            base_url=gateway.url.rstrip("/"),
            headers={"Authorization": f"Bearer {gateway.token}"},
            timeout=gateway.timeout_seconds,
            transport=transport,
        )

    def close(self) -> None:
        self.http.close()

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        """POST, tried again after a timeout, a transport error or a 5xx (pauses of retry_seconds, doubling)."""
        pause = self.gateway.retry_seconds
        for attempt in range(self.gateway.retries + 1):
            last = attempt == self.gateway.retries
            try:
                response = self.http.post(path, json=body)
            except httpx.TimeoutException as exc:
                if last:
                    raise GatewayError(f"no answer within {self.gateway.timeout_seconds:g} s ({path})") from exc
            except httpx.TransportError as exc:
                if last:
                    raise GatewayError(f"gateway unreachable ({path}): {exc}") from exc
            else:
                if response.status_code < 500 or last:
                    return response
            self.sleep(pause)
            pause *= 2
        raise AssertionError("unreachable")

    def put_record(self, record: dict[str, Any]) -> str:
        """Create the dossier's record, or update it when the gateway says it exists: "created" or "updated"."""
        response = self.post(CREATE, record)
        if response.status_code == 409 and _answer(response).get("status") == "exists":
            response = self.post(UPDATE, record)
            _check(response, UPDATE)
            return "updated"
        _check(response, CREATE)
        return "created"

    def add_steps(self, code: str, steps: list[dict[str, Any]]) -> None:
        _check(self.post(STEPS, {"MaHoSo": code, "QuaTrinhXuLy": steps}), STEPS)


def _answer(response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _check(response: httpx.Response, path: str) -> None:
    if response.is_success:
        return
    message = _answer(response).get("message")
    text = message if isinstance(message, str) and message else response.text.strip() or response.reason_phrase
    raise GatewayError(f"{path}: HTTP {response.status_code}: {text}"[:2000], response.status_code)


def digest(step: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(step, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


@dataclass
class SyncReport:
    stamped_to: int = 0
    """The highest change id given when the run began."""
    created: int = 0
    updated: int = 0
    steps_sent: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    """Dossier code → the gateway's answer."""

    @property
    def synced(self) -> int:
        return self.created + self.updated

    def summary(self) -> str:
        return (
            f"{self.synced} dossiers synced ({self.created} created, {self.updated} updated), "
            f"{self.steps_sent} steps sent, {len(self.failed)} failed"
        )


def pending_dossiers(session: Session, *, now: datetime, limit: int) -> list[tuple[int, int]]:
    """(dossier id, latest stamped change id) of the dossiers the gateway lacks a change of, oldest change first;
    failed ones only once their next attempt is due."""
    latest = (
        select(DossierChange.dossier_id, func.max(DossierChange.change_id).label("change_id"))
        .where(DossierChange.change_id.is_not(None))
        .group_by(DossierChange.dossier_id)
        .subquery()
    )
    query = (
        select(latest.c.dossier_id, latest.c.change_id)
        .outerjoin(DossierSync, DossierSync.dossier_id == latest.c.dossier_id)
        .where(
            latest.c.change_id > func.coalesce(DossierSync.synced_change_id, 0),
            or_(
                DossierSync.state.is_(None),
                DossierSync.state != "failed",
                DossierSync.next_attempt_at <= now,
            ),
        )
        .order_by(latest.c.change_id)
        .limit(limit)
    )
    return [(row.dossier_id, row.change_id) for row in session.execute(query)]


def retry_after(gateway: Gateway, attempts: int) -> timedelta:
    """How long a failed dossier waits before its next attempt: the interval, doubling per failure, at most a day."""
    return min(timedelta(minutes=gateway.interval_minutes) * 2 ** max(attempts - 1, 0), MAX_WAIT)


def sync_once(
    engine: Engine,
    *,
    gateway: Gateway,
    calendar_for: Callable[[Session], CalendarFor],
    limit: int = 500,
    client: GatewayClient | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> SyncReport:
    """One run (see the module's docstring); the caller holds the lock. `calendar_for(session)` gives the
    calendars' look-up for a session."""
    report = SyncReport()
    own = client is None
    client = client or GatewayClient(gateway)
    try:
        with Session(engine, expire_on_commit=False) as session:
            report.stamped_to = stamp_changes(session)
            session.commit()
            pending = pending_dossiers(session, now=now(), limit=limit)
        for dossier_id, change_id in pending:
            _sync_dossier(engine, client, gateway, calendar_for, dossier_id, change_id, report, now)
    finally:
        if own:
            client.close()
    return report


def _sync_dossier(engine, client, gateway, calendar_for, dossier_id, change_id, report, now) -> None:
    with Session(engine, expire_on_commit=False) as session:
        dossier = session.get(Dossier, dossier_id)
        if dossier is None:  # deleted since
            return
        code = dossier.code
        record = record_of(session, dossier, calendar_for=calendar_for(session))
        sent = {s.seq: s.digest for s in session.execute(select(StepSync).where(StepSync.dossier_id == dossier_id))
                .scalars()}  # fmt: skip
    steps = record.pop("QuaTrinhXuLy")
    try:
        outcome = client.put_record(record)
        todo = [(seq, step) for seq, step in enumerate(steps, start=1) if sent.get(seq) != digest(step)]
        for start in range(0, len(todo), STEP_CHUNK):
            chunk = todo[start : start + STEP_CHUNK]
            client.add_steps(code, [step for _, step in chunk])
            _mark_steps(engine, dossier_id, chunk, now())
            report.steps_sent += len(chunk)
    except GatewayError as exc:
        _mark_failed(engine, gateway, dossier_id, exc, now())
        report.failed[code] = exc.answer
        log.warning("dossier %s not synced: %s", code, exc.answer)
        return
    _mark_synced(engine, dossier_id, change_id, now())
    if outcome == "created":
        report.created += 1
    else:
        report.updated += 1


def _mark_steps(engine: Engine, dossier_id: int, chunk: list[tuple[int, dict]], at: datetime) -> None:
    with Session(engine) as session:
        for seq, step in chunk:
            session.merge(StepSync(dossier_id=dossier_id, seq=seq, digest=digest(step), synced_at=at))
        session.commit()


def _sync_row(session: Session, dossier_id: int) -> DossierSync:
    row = session.execute(
        select(DossierSync).where(DossierSync.dossier_id == dossier_id).with_for_update()
    ).scalar_one_or_none()
    return row or DossierSync(dossier_id=dossier_id, state="failed")


def _mark_synced(engine: Engine, dossier_id: int, change_id: int, at: datetime) -> None:
    with Session(engine) as session:
        row = _sync_row(session, dossier_id)
        row.synced_change_id = max(row.synced_change_id or 0, change_id)
        row.state, row.attempts, row.next_attempt_at = "synced", 0, None
        row.last_error, row.last_http_status = None, None
        row.first_synced_at = row.first_synced_at or at
        row.synced_at = at
        session.add(row)
        session.commit()


def _mark_failed(engine: Engine, gateway: Gateway, dossier_id: int, exc: GatewayError, at: datetime) -> None:
    with Session(engine) as session:
        row = _sync_row(session, dossier_id)
        row.state = "failed"
        row.attempts = (row.attempts or 0) + 1
        row.next_attempt_at = at + retry_after(gateway, row.attempts)
        row.last_error, row.last_http_status = exc.answer[:2000], exc.status
        row.synced_change_id = row.synced_change_id or 0
        session.add(row)
        session.commit()


def run_sync(engine: Engine, **keywords) -> SyncReport:
    """`sync_once` under the leader lock; LockBusy when another run holds it."""
    with leader_lock(engine, LOCK) as acquired:
        if not acquired:
            raise LockBusy("another exchange sync is running; this one did nothing")
        return sync_once(engine, **keywords)
