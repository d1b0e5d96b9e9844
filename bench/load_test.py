"""Load: desk clients and managers against uvicorn + PostgreSQL on loopback, for a fixed time.

Run by hand (not a test) from the repository root. See bench/README.md, section "Load":

    .venv/bin/python bench/load_test.py                  # 50 clients, 60 s, 1 uvicorn worker

It creates a fresh PostgreSQL database beside `--postgres-url`, migrates it, loads the seed
catalogue and creates the users (`accounts.service.create_user`), one per client, clerks and managers
spread over `--wards` wards, each with a bearer token. uvicorn serves `api.app:create_app` with
`--workers` workers on 127.0.0.1 and a free port, with the log configuration of `motcua serve`
(access log to a file). Before measuring, a history is written through the API (back-dated
intakes at the wards, two thirds carried some way through their events), so that the queues and
searches have rows: open, overdue, due soon.

Then `--clients` threads, one keep-alive connection and one user each, run for `--seconds`:

- clerks (all but `--managers`): intake (`POST /dossiers` with an Idempotency-Key), the next event
  of one of their open dossiers (supplement requested/received, paused/resumed, resolved, result
  returned; with an Idempotency-Key), a dossier read, a search by applicant name;
- managers: the overdue queue, the due-soon queue, the ward's dossier list, a dossier read.

Each client waits a think time between two requests, uniform in [0, 2 × `--think-ms`]: a person
at a desk does not send the next request the instant the last one is answered (0: a closed loop,
the most the server does). An answer other than the expected status, or a connection error, is an
error. It prints, per kind, the count, errors and p50/p95/p99/max latency; the throughput; the
CPU the server and the database spent per request (from /proc); how many backends waited on a
lock (pg_stat_activity, sampled every 0.1 s); the server's tracebacks if it logged any; and exits
1 on any error. `--profile FILE` samples the server with py-spy meanwhile (`pip install py-spy`).
The database is dropped and the server stopped at the end.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from accounts.service import create_user, issue_token
from api.db import make_engine, session_scope, upgrade
from api.logs import uvicorn_log_config
from procedures.models import Agency, Procedure
from seed.loader import load_catalogue
from sla.core.calendar import LOCAL_TZ

ROOT = Path(__file__).resolve().parent.parent
API = "/api/v1"
POSTGRES_URL = os.environ.get("MOTCUA_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PASSWORD = "load test password"
NAMES = ("Nguyễn Thị Lan", "Trần Văn Minh", "Lê Thị Hoa", "Phạm Quốc Huy", "Hoàng Thu Trang", "Vũ Đức Anh")
LIFECYCLE = (  # the events a desk records on a dossier, in order, after the intake
    {"type": "supplement_requested", "reason": "Thiếu bản sao giấy tờ tùy thân"},
    {"type": "supplement_received"},
    {"type": "paused", "reason": "Chờ nộp phí, lệ phí"},
    {"type": "resumed"},
    {"type": "resolved", "result": "Đã cấp kết quả"},
    {"type": "result_returned"},
)
CLERK_MIX = {"intake": 3, "event": 4, "read": 2, "search": 1}
MANAGER_MIX = {"overdue": 4, "due_soon": 3, "list": 2, "read": 1}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- the database --------------------------------------------------------------------------------


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    admin = create_engine(make_url(admin_url), isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    name = f"motcua_load_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass(frozen=True)
class Desk:
    """Who the clients are: a ward, the procedures received there, a user and a token."""

    username: str
    role: str
    ward: str
    token: str


def prepare(database_url: str, *, clerks: int, managers: int, wards: int) -> tuple[list[Desk], str, list[str]]:
    """Migrate, seed, create the users; (desks, an administrator's token, commune procedure codes)."""
    engine = make_engine(database_url)
    upgrade(engine)
    lifetime = timedelta(hours=4)
    with session_scope(engine) as session:
        load_catalogue(session)
        ward_codes = list(
            session.execute(
                select(Agency.code).where(Agency.level == "commune", Agency.active.is_(True)).order_by(Agency.code)
            ).scalars()
        )[:wards]
        today = datetime.now(LOCAL_TZ).date()
        procedures = list(
            session.execute(
                select(Procedure.code)
                .where(
                    Procedure.level == "commune",
                    Procedure.effective_from <= today - timedelta(days=60),
                    Procedure.effective_to.is_(None),
                )
                .order_by(Procedure.code)
            ).scalars()
        )
        create_user(session, username="load-admin", password=PASSWORD, role="admin", agency_code=None)
        admin_token = issue_token(session, username="load-admin", password=PASSWORD, lifetime=lifetime)
        desks = []
        for role, count in (("clerk", clerks), ("manager", managers)):
            for index in range(count):
                username, ward = f"load-{role}-{index:02d}", ward_codes[index % len(ward_codes)]
                create_user(session, username=username, password=PASSWORD, role=role, agency_code=ward)
                token = issue_token(session, username=username, password=PASSWORD, lifetime=lifetime)
                desks.append(Desk(username, role, ward, token))
    engine.dispose()
    return desks, admin_token, procedures


# --- the server ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    port: int
    pid: int


@contextmanager
def server(database_url: str, workers: int, folder: Path) -> Iterator[Server]:
    """uvicorn with the log configuration of `motcua serve` (access log to a file); stopped on exit."""
    port = free_port()
    log_config = folder / "log_config.json"
    log_config.write_text(json.dumps(uvicorn_log_config()))
    env = {**os.environ, "MOTCUA_DATABASE_URL": database_url, "MOTCUA_SCHEDULER": "off"}
    command = [sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(workers), "--log-config", str(log_config)]
    with (folder / "uvicorn.log").open("wb") as log:
        process = subprocess.Popen(command, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not _healthy(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start:\n{(folder / 'uvicorn.log').read_text()[-3000:]}")
            time.sleep(0.2)
        yield Server(port, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def server_tracebacks(log: Path) -> list[str]:
    """The unhandled errors in the server's log (`motcua.api` logs each with its traceback)."""
    found: list[list[str]] = []
    for line in log.read_text(errors="replace").splitlines():
        if "unhandled error" in line:
            found.append([line])
        elif found and (line.startswith((" ", "Traceback")) or not line.strip() or found[-1][-1].startswith("  ")):
            found[-1].append(line)
    return ["\n".join(lines) for lines in found]


def _healthy(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", f"{API}/healthz")
        return connection.getresponse().status == 200
    except OSError:
        return False


def _processes() -> dict[int, tuple[int, float, bytes]]:
    """pid → (parent pid, CPU seconds, command line) of every process, from /proc."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            title = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        found[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS, title)
    return found


class CpuMeter:
    """CPU seconds the server (with its worker processes) and the database's backends spend."""

    def __init__(self, server_pid: int, database: str) -> None:
        self.server_pid = server_pid
        self.database = database

    def read(self) -> tuple[dict[int, float], dict[int, float]]:
        processes = _processes()
        children: dict[int, list[int]] = {}
        for pid, (parent, _, _) in processes.items():
            children.setdefault(parent, []).append(pid)
        tree, todo = set(), [self.server_pid]
        while todo:
            pid = todo.pop()
            tree.add(pid)
            todo += children.get(pid, [])
        backend = f" {self.database} ".encode()
        return (
            {pid: processes[pid][1] for pid in tree if pid in processes},
            {
                pid: seconds
                for pid, (_, seconds, title) in processes.items()
                if title.startswith(b"postgres:") and backend in title
            },
        )

    @staticmethod
    def spent(before: tuple[dict, dict], after: tuple[dict, dict]) -> tuple[float, float]:
        """(server, database) seconds between two readings; a backend that ended in between is not counted."""
        server, database = (
            sum(seconds - old.get(pid, 0.0) for pid, seconds in new.items())
            for old, new in zip(before, after, strict=True)
        )
        return server, database


def profile(pid: int, seconds: float, output: Path) -> subprocess.Popen:
    """py-spy (pip install py-spy) samples the server while the clients run: `--format raw` stacks, one per line."""
    beside = Path(sys.executable).parent / "py-spy"
    command = [
        str(beside) if beside.exists() else "py-spy",
        "record",
        "--pid",
        str(pid),
        "--subprocesses",
        "--duration",
        str(int(seconds)),
    ]
    command += ["--gil", "--rate", "250", "--format", "raw", "--output", str(output)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class LockWatch:
    """Samples, every 0.1 s, how many of the database's backends wait on a lock (pg_stat_activity)."""

    def __init__(self, database_url: str) -> None:
        self.engine = create_engine(make_url(database_url), pool_size=1, max_overflow=0)
        self.samples: list[int] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        query = text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        with self.engine.connect() as connection:
            while not self.stop.wait(0.1):
                self.samples.append(connection.execute(query).scalar_one())
                connection.rollback()

    def __enter__(self) -> LockWatch:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()
        self.engine.dispose()

    def summary(self) -> str:
        if not self.samples:
            return "no lock samples"
        waiting = sum(1 for n in self.samples if n)
        return (
            f"backends waiting on a lock: {np.mean(self.samples):.2f} on average, at most {max(self.samples)}, "
            f"some waiting in {waiting / len(self.samples):.0%} of {len(self.samples)} samples"
        )


# --- the clients ---------------------------------------------------------------------------------


class Connection:
    """One keep-alive HTTP connection with a bearer token; reconnects when the server closed it."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def request(self, method: str, path: str, body: dict | None = None, key: str | None = None) -> tuple[int, bytes]:
        headers = {**self.headers, "Idempotency-Key": key} if key else self.headers
        payload = json.dumps(body).encode() if body is not None else None
        for attempt in (1, 2):
            try:
                self.connection.request(method, path, body=payload, headers=headers)
                response = self.connection.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.connection.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.connection.close()


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, seconds: float, error: str | None) -> None:
        with self.lock:
            self.latencies.setdefault(kind, []).append(seconds)
            if error:
                self.errors.setdefault(kind, []).append(error)


def timed(
    results: Results, connection: Connection, kind: str, method: str, path: str, expected: int, **kwargs
) -> dict | None:
    began = time.perf_counter()
    try:
        status, answer = connection.request(method, path, **kwargs)
    except OSError as exc:
        results.add(kind, time.perf_counter() - began, f"{type(exc).__name__}: {exc}")
        return None
    elapsed = time.perf_counter() - began
    if status != expected:
        results.add(kind, elapsed, f"{method} {path} → {status}: {answer[:200].decode(errors='replace')}")
        return None
    results.add(kind, elapsed, None)
    return json.loads(answer) if answer[:1] in (b"{", b"[") else {}


def intake_body(rng: random.Random, desk: Desk, procedures: list[str], received_at: datetime | None = None) -> dict:
    body = {
        "procedure_code": rng.choice(procedures),
        "agency_code": desk.ward,
        "channel": rng.choice(("counter", "counter", "counter", "online", "post")),
        "applicant": {
            "name": rng.choice(NAMES),
            "id_number": f"001{rng.randrange(10**9):09d}",
            "phone": f"09{rng.randrange(10**8):08d}",
        },
    }
    if received_at is not None:
        body["received_at"] = received_at.strftime("%Y-%m-%dT%H:%M")
    return body


def write_history(port: int, admin_token: str, desks: list[Desk], procedures: list[str], count: int, seed: int) -> None:
    """Back-dated dossiers at the wards over the last 30 days; two thirds carried some way through their events."""
    rng = random.Random(seed)
    clerks = [desk for desk in desks if desk.role == "clerk"]
    now = datetime.now(LOCAL_TZ).replace(tzinfo=None)
    jobs = []
    for _ in range(count):
        received = now - timedelta(days=rng.uniform(1, 30))
        received = received.replace(hour=rng.randint(8, 15), minute=rng.randrange(60))
        steps = rng.choice((0, 0, 1, 2, 4, 5, 6))
        at, instant = [], received
        for _ in range(steps):
            instant += timedelta(hours=rng.uniform(2, 20))
            if instant >= now:
                break
            at.append(instant)
        jobs.append((intake_body(rng, rng.choice(clerks), procedures, received), at))
    results, pending, take = Results(), iter(jobs), threading.Lock()

    def worker() -> None:
        connection = Connection(port, admin_token)
        while True:
            with take:
                job = next(pending, None)
            if job is None:
                connection.close()
                return
            body, instants = job
            answer = timed(results, connection, "history", "POST", f"{API}/dossiers", 201, body=body)
            for event, instant in zip(LIFECYCLE, instants, strict=False):
                if answer is None:
                    break
                event = {**event, "at": instant.strftime("%Y-%m-%dT%H:%M")}
                answer = timed(
                    results, connection, "history", "POST", f"{API}/dossiers/{answer['code']}/events", 201, body=event
                )

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if results.errors:
        errors = results.errors["history"]
        raise RuntimeError(f"history: {len(errors)} errors, e.g. {errors[:3]}")


def clerk(
    desk: Desk, port: int, procedures: list[str], results: Results, start: float, end: float, think: float, seed: int
) -> None:
    rng = random.Random(seed)
    connection = Connection(port, desk.token)
    open_dossiers: dict[str, int] = {}  # code → next event in LIFECYCLE
    codes: list[str] = []
    kinds, weights = zip(*CLERK_MIX.items(), strict=True)
    time.sleep(max(start - time.perf_counter(), 0) + rng.uniform(0, 2 * think))  # the clients do not start in step
    while time.perf_counter() < end:
        kind = rng.choices(kinds, weights)[0]
        if (kind == "event" and not open_dossiers) or (kind == "read" and not codes):
            kind = "intake"
        if kind == "intake":
            body = intake_body(rng, desk, procedures)
            answer = timed(results, connection, kind, "POST", f"{API}/dossiers", 201, body=body, key=str(uuid.uuid4()))
            if answer:
                open_dossiers[answer["code"]] = 0
                codes.append(answer["code"])
        elif kind == "event":
            code = rng.choice(list(open_dossiers))
            step = open_dossiers[code]
            path = f"{API}/dossiers/{code}/events"
            if timed(results, connection, kind, "POST", path, 201, body=LIFECYCLE[step], key=str(uuid.uuid4())):
                open_dossiers[code] = step + 1
            if open_dossiers[code] >= len(LIFECYCLE):
                del open_dossiers[code]
        elif kind == "read":
            timed(results, connection, kind, "GET", f"{API}/dossiers/{rng.choice(codes)}", 200)
        else:
            query = rng.choice(NAMES).split()[-1]
            timed(results, connection, kind, "GET", f"{API}/dossiers?q={query}&page_size=20", 200)
        time.sleep(rng.uniform(0, 2 * think))
    connection.close()


def manager(desk: Desk, port: int, results: Results, start: float, end: float, think: float, seed: int) -> None:
    rng = random.Random(seed)
    connection = Connection(port, desk.token)
    codes: list[str] = []
    kinds, weights = zip(*MANAGER_MIX.items(), strict=True)
    time.sleep(max(start - time.perf_counter(), 0) + rng.uniform(0, 2 * think))  # the clients do not start in step
    while time.perf_counter() < end:
        kind = rng.choices(kinds, weights)[0]
        if kind == "read" and not codes:
            kind = "list"
        if kind == "overdue":
            timed(results, connection, kind, "GET", f"{API}/queues/overdue?agency={desk.ward}&page_size=50", 200)
        elif kind == "due_soon":
            path = f"{API}/queues/due-soon?agency={desk.ward}&within_working_days=3&page_size=50"
            timed(results, connection, kind, "GET", path, 200)
        elif kind == "list":
            answer = timed(results, connection, kind, "GET", f"{API}/dossiers?agency={desk.ward}&page_size=20", 200)
            if answer:
                codes = [item["code"] for item in answer["items"]]
        else:
            timed(results, connection, "read", "GET", f"{API}/dossiers/{rng.choice(codes)}", 200)
        time.sleep(rng.uniform(0, 2 * think))
    connection.close()


# --- the run -------------------------------------------------------------------------------------


def report(results: Results, seconds: float, cpu: tuple[float, float]) -> tuple[list[str], bool, float]:
    """The figures as a Markdown table; whether there was no error; the p95 over all requests."""
    everything = [value for values in results.latencies.values() for value in values]
    lines = [
        "| kind | requests | errors | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    order = ["intake", "event", "read", "search", "overdue", "due_soon", "list"]
    for kind in [*order, "all"]:
        values = everything if kind == "all" else results.latencies.get(kind)
        if not values:
            continue
        errors = sum(map(len, results.errors.values())) if kind == "all" else len(results.errors.get(kind, []))
        p50, p95, p99 = (np.percentile(values, q) * 1000 for q in (50, 95, 99))
        name = "**all**" if kind == "all" else kind
        lines.append(
            f"| {name} | {len(values)} | {errors} | {p50:.1f} | {p95:.1f} | {p99:.1f} | {max(values) * 1000:.0f} |"
        )
    requests = max(len(everything), 1)
    lines.append("")
    lines.append(
        f"{len(everything)} requests in {seconds:.1f} s = {len(everything) / seconds:.0f} requests/s; "
        f"server CPU {cpu[0] / requests * 1000:.2f} ms/request, database CPU {cpu[1] / requests * 1000:.2f} ms/request"
    )
    for kind, errors in results.errors.items():
        lines += [f"error ({kind}): {error}" for error in errors[:3]]
    p95_all = float(np.percentile(everything, 95) * 1000) if everything else 0.0
    return lines, not results.errors, p95_all


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (threads), managers included")
    parser.add_argument("--managers", type=int, default=10, help="clients that read queues and lists")
    parser.add_argument("--seconds", type=float, default=60, help="how long the clients run")
    parser.add_argument("--think-ms", type=float, default=500, help="mean think time between two requests (0: none)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--wards", type=int, default=8, help="wards the users work at (the seed has 17 communes)")
    parser.add_argument("--history", type=int, default=2000, help="back-dated dossiers written before measuring")
    parser.add_argument("--postgres-url", default=POSTGRES_URL, help="the bench creates its own database beside it")
    parser.add_argument("--seed", type=int, default=20251122)
    parser.add_argument("--profile", type=Path, help="record the server with py-spy meanwhile: collapsed stacks here")
    args = parser.parse_args()
    clerks, managers = args.clients - args.managers, args.managers
    print(
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}; uvicorn {args.workers} worker(s); "
        f"{clerks} clerks + {managers} managers for {args.seconds:g} s, think time "
        f"{args.think_ms:g} ms mean; {args.history} dossiers of history",
        flush=True,
    )
    with postgres_database(args.postgres_url) as url, tempfile.TemporaryDirectory() as folder:
        desks, admin_token, procedures = prepare(url, clerks=clerks, managers=managers, wards=args.wards)
        with server(url, args.workers, Path(folder)) as target:
            began = time.perf_counter()
            write_history(target.port, admin_token, desks, procedures, args.history, args.seed)
            print(f"history written in {time.perf_counter() - began:.0f} s", flush=True)
            results = Results()
            start = time.perf_counter() + 1.0
            end = start + args.seconds
            threads = []
            for index, desk in enumerate(desks):
                if desk.role == "clerk":
                    work = (desk, target.port, procedures, results, start, end, args.think_ms / 1000, args.seed + index)
                    threads.append(threading.Thread(target=clerk, args=work))
                else:
                    work = (desk, target.port, results, start, end, args.think_ms / 1000, args.seed + index)
                    threads.append(threading.Thread(target=manager, args=work))
            for thread in threads:
                thread.start()
            time.sleep(max(start - time.perf_counter(), 0))
            meter = CpuMeter(target.pid, make_url(url).database)
            cpu_before = meter.read()
            profiler = profile(target.pid, args.seconds, args.profile) if args.profile else None
            with LockWatch(url) as locks:
                for thread in threads:
                    thread.join()
            seconds = time.perf_counter() - start
            cpu = CpuMeter.spent(cpu_before, meter.read())
            if profiler:
                profiler.wait(timeout=60)
        server_errors = server_tracebacks(Path(folder) / "uvicorn.log")
    lines, ok, p95 = report(results, seconds, cpu)
    print("\n".join(lines))
    print(locks.summary())
    if server_errors:
        print(f"the server logged {len(server_errors)} unhandled errors; the last one:\n{server_errors[-1]}")
    print(f"goal (0 errors, p95 ≤ 200 ms): {'met' if ok and p95 <= 200 else 'NOT met'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
