"""Faults on PostgreSQL: the server restarts while clerks send intakes and events through uvicorn.

The service runs as it does in production (`motcua serve`, a subprocess on a loopback port)
against a PostgreSQL server of its own: a throwaway cluster (initdb in a temporary directory, on a
free loopback port), so that the restart disturbs neither the suite's shared server (its
session-long connections) nor anyone else's run on this machine. Clients retry on connection errors
and 5xx with the same `Idempotency-Key`. Afterwards every request answered 201 is in the database
exactly once, no key wrote twice, and the service answers again without being restarted.
"""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from accounts.service import create_user, issue_token
from api.db import make_engine, upgrade
from dossiers.models import Dossier, DossierEvent, IdempotencyRecord
from seed.loader import load_catalogue
from tests.conftest import WARD

pytestmark = pytest.mark.postgres_only

CLIENTS = 4
DOSSIERS_PER_CLIENT = 8
# After the intake: what a desk does with a dossier, one request each (every one admitted by the status).
EVENTS = (
    {"type": "supplement_requested", "reason": "Thiếu bản sao giấy chứng sinh"},
    {"type": "supplement_received"},
    {"type": "paused", "reason": "Chờ nộp phí"},
    {"type": "resumed"},
    {"type": "resolved", "result": "Giấy chứng nhận đăng ký thường trú"},
    {"type": "result_returned"},
)
REQUESTS = CLIENTS * DOSSIERS_PER_CLIENT * (2 + len(EVENTS))  # intake, its read, the events
RESTART_AFTER = REQUESTS // 3
STREAM_SECONDS = 90  # the whole stream, retries included, must end well within this
RETRY_PAUSE = 0.1


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must run the fault test")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Cluster:
    """A PostgreSQL server of the test's own, driven by pg_ctl."""

    bin_dir: Path
    data_dir: Path
    port: int
    as_postgres: list[str]

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/motcua_faults"

    def pg_ctl(self, *arguments: str, timeout: float = 60) -> None:
        command = [*self.as_postgres, str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), *arguments]
        subprocess.run(command, check=True, capture_output=True, timeout=timeout)

    def restart(self) -> None:
        """Fast shutdown (every connection is cut, open transactions roll back), then start again."""
        self.pg_ctl("restart", "-m", "fast", "-w", "-l", str(self.data_dir.parent / "server.log"))


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    pg_ctls = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    if not pg_ctls:
        _unavailable("no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql)")
    if os.geteuid() == 0:
        as_postgres = ["runuser", "-u", "postgres", "--"]
    elif os.environ.get("USER") == "postgres":
        as_postgres = []
    else:
        _unavailable("initdb runs as the postgres user: run the fault test as root or postgres")
    bin_dir = pg_ctls[-1].parent
    data_dir = Path(tempfile.mkdtemp(prefix="motcua-faults-"))
    shutil.chown(data_dir, "postgres", "postgres")
    server = Cluster(bin_dir, data_dir / "data", _free_port(), as_postgres)
    try:
        subprocess.run(
            [*as_postgres, str(bin_dir / "initdb"), "-D", str(server.data_dir), "-U", "postgres", "-A", "trust"]
            + ["-E", "UTF8", "--no-sync", "--no-instructions"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        options = f"-c listen_addresses=127.0.0.1 -c port={server.port} -c unix_socket_directories={data_dir}"
        server.pg_ctl("start", "-w", "-o", options, "-l", str(data_dir / "server.log"))
        with (server.data_dir / "postgresql.auto.conf").open("a") as conf:  # kept across the restart
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {server.port}\nunix_socket_directories = '{data_dir}'\n"
            )
        subprocess.run(
            [*as_postgres, str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(server.port), "-U", "postgres"]
            + ["motcua_faults"],
            check=True,
            capture_output=True,
            timeout=30,
        )
        yield server
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # it may never have started
            server.pg_ctl("stop", "-m", "immediate", timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def clerk_token(cluster) -> str:
    """The database migrated and seeded (catalogue + a clerk at the ward), and the clerk's token."""
    engine = make_engine(cluster.url)
    try:
        upgrade(engine)
        with Session(engine) as session:
            load_catalogue(session)
            create_user(session, username="clerk", password="faults password 1", role="clerk", agency_code=WARD)
            token = issue_token(session, username="clerk", password="faults password 1", lifetime=timedelta(hours=1))
            session.commit()
        return token
    finally:
        engine.dispose()


@pytest.fixture
def service(cluster, clerk_token, tmp_path) -> Iterator[str]:
    """`motcua serve` on a free loopback port, against the cluster; yields its base URL."""
    port = _free_port()
    log = (tmp_path / "uvicorn.log").open("w")
    environment = {**os.environ, "MOTCUA_DATABASE_URL": cluster.url, "MOTCUA_SCHEDULER": "off"}
    process = subprocess.Popen(
        [sys.executable, "-c", "from api.cli import main; main()", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path,  # no stray .env
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/api/v1/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"motcua serve did not start:\n{(tmp_path / 'uvicorn.log').read_text()[-3000:]}")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@dataclass
class Write:
    """A write answered 201: what was sent (with its key) and the answer."""

    path: str
    body: dict
    key: str
    code: str
    answer: dict


@dataclass
class Stream:
    """What the clients sent and what they were answered."""

    writes: list[Write] = field(default_factory=list)
    retries: int = 0
    failures: list[str] = field(default_factory=list)  # what was seen on the way: 5xx bodies, connection errors
    replayed: int = 0
    done: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def codes(self) -> list[str]:
        return [write.code for write in self.writes if write.path == "/api/v1/dossiers"]


def _send(client: httpx.Client, stream: Stream, method: str, path: str, *, deadline: float, **kwargs) -> httpx.Response:
    """The request, retried with the same key on connection errors and 5xx until the deadline."""
    while True:
        try:
            response = client.request(method, path, **kwargs)
            if response.status_code < 500:
                with stream.lock:
                    stream.done += 1
                return response
            seen = f"{response.status_code} {response.text[:200]}"
        except httpx.TransportError as exc:
            seen = f"{type(exc).__name__}: {exc}"
        with stream.lock:
            stream.retries += 1
            stream.failures.append(seen)
        if time.monotonic() > deadline:
            raise AssertionError(f"{method} {path} still failing at the deadline: {seen}")
        time.sleep(RETRY_PAUSE)


def _write(client: httpx.Client, stream: Stream, path: str, body: dict, *, deadline: float) -> dict:
    key = str(uuid.uuid4())
    response = _send(client, stream, "POST", path, json=body, headers={"Idempotency-Key": key}, deadline=deadline)
    assert response.status_code == 201, (path, body, response.text)
    answer = response.json()
    with stream.lock:
        stream.writes.append(Write(path, body, key, answer["code"], answer))
        stream.replayed += response.headers.get("Idempotent-Replayed") == "true"
    return answer


def _desk(base: str, token: str, stream: Stream, deadline: float) -> None:
    """One clerk: receive dossiers one after the other and take each through its events."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
        for _ in range(DOSSIERS_PER_CLIENT):
            intake = {"procedure_code": "1.004222", "agency_code": WARD, "applicant": {"name": "Lê Thị F"}}
            code = _write(client, stream, "/api/v1/dossiers", intake, deadline=deadline)["code"]
            read = _send(client, stream, "GET", "/api/v1/dossiers", params={"q": code}, deadline=deadline)
            assert read.status_code == 200 and read.json()["total"] == 1, read.text
            for event in EVENTS:
                _write(client, stream, f"/api/v1/dossiers/{code}/events", event, deadline=deadline)


def test_a_database_restart_loses_and_doubles_nothing(cluster, service, clerk_token, tmp_path):
    stream = Stream()
    deadline = time.monotonic() + STREAM_SECONDS
    with ThreadPoolExecutor(CLIENTS) as pool:
        desks = [pool.submit(_desk, service, clerk_token, stream, deadline) for _ in range(CLIENTS)]
        while stream.done < RESTART_AFTER and not any(d.done() for d in desks):
            time.sleep(0.01)
        restart_started = time.monotonic()
        cluster.restart()
        restart_seconds = time.monotonic() - restart_started
        for desk in desks:
            desk.result()  # re-raises a desk's failure

    print(
        f"restart took {restart_seconds:.1f} s; {stream.retries} retries; {stream.replayed} replayed answers; "
        f"seen: {sorted({seen[:40] for seen in stream.failures})}"
    )
    assert stream.retries > 0, "the restart went unnoticed: no request failed, so nothing was tested"
    assert restart_seconds < 30
    unexpected = [seen for seen in stream.failures if not seen.startswith(("503 ", "Connect", "Read", "Remote"))]
    assert not unexpected, unexpected[:5]  # a database outage is a 503 (retry), never a 500

    # a retry of any answered write (its answer lost, say) replays the first answer and writes nothing
    with httpx.Client(base_url=service, headers={"Authorization": f"Bearer {clerk_token}"}, timeout=10) as client:
        for write in stream.writes[::7]:
            again = client.post(write.path, json=write.body, headers={"Idempotency-Key": write.key})
            assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
            assert again.json() == write.answer

    engine = make_engine(cluster.url)
    try:
        with Session(engine) as session:
            dossiers = dict(session.execute(select(Dossier.code, Dossier.event_count)).all())
            events = session.execute(
                select(Dossier.code, func.count(DossierEvent.id))
                .join(DossierEvent, DossierEvent.dossier_id == Dossier.id)
                .group_by(Dossier.code)
            ).all()
            keys = session.execute(
                select(DossierEvent.idempotency_key, func.count())
                .where(DossierEvent.idempotency_key.is_not(None))
                .group_by(DossierEvent.idempotency_key)
            ).all()
            records = session.execute(select(func.count()).select_from(IdempotencyRecord)).scalar_one()
    finally:
        engine.dispose()

    writes = CLIENTS * DOSSIERS_PER_CLIENT * (1 + len(EVENTS))
    assert len(stream.writes) == writes
    # every intake answered 201 is one dossier, and there is no other (no retry made a second one)
    assert sorted(dossiers) == sorted(stream.codes)
    assert len(set(stream.codes)) == CLIENTS * DOSSIERS_PER_CLIENT
    # every event answered 201 is one row of its dossier's log, and the log ends as the last answer said
    assert dict(events) == dossiers == {code: 1 + len(EVENTS) for code in stream.codes}
    assert all(w.answer["status"] == "returned" for w in stream.writes if w.body.get("type") == "result_returned")
    # each key wrote once: one event row and one stored answer per key, and those are the keys answered
    assert all(count == 1 for _, count in keys)
    assert {key for key, _ in keys} == {write.key for write in stream.writes}
    assert records == writes

    # the service came back by itself (pool_pre_ping): no restart of uvicorn
    health = httpx.get(f"{service}/api/v1/healthz", timeout=5)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    access_lines = [line for line in (tmp_path / "uvicorn.log").read_text().splitlines() if '"GET ' in line]
    assert access_lines and not any("?" in line for line in access_lines)  # api.logs.DropQueryStrings
