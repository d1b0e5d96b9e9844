"""Intake benchmark: dossiers received and carried through six events over the HTTP API.

Run by hand (not a test) from the repository root. See bench/README.md, section "Intake":

    .venv/bin/python bench/bench_intake.py

For each database (a SQLite file, then PostgreSQL) it creates a fresh database, loads the seed
catalogue (`seed.loader.load_catalogue`, what `motcua seed catalogue` does), signs a clerk in at
every receiving agency when the tree has accounts (`accounts.service`; before them requests name their
clerk in X-Actor), starts uvicorn with one worker (`api.app:create_app`) on 127.0.0.1 and a free
port in a subprocess, and drives it from client threads over loopback, one keep-alive connection
each:

1. warm-up, not measured: one intake at every receiving agency (the first request of an agency
   builds its working calendar), then a few more;
2. intake, closed loop: `--clients` threads each send their next `POST /dossiers` as soon as the
   previous answer is in: the most intakes per second, and their latency;
3. intake at a fixed rate (`--rate`, open loop): intakes are due on a fixed schedule and latency
   is counted from the instant each was due, so a server that falls behind shows it;
4. lifecycle, closed loop: each dossier is an intake then six events in order (forwarded,
   supplement_requested, supplement_received, resolved, result_sent_to_desk: the result back at the
   receiving desk, result_returned): dossiers per second and the latency of intakes and of events.

Every intake and event is an ordinary one, dated by the server (no `received_at`, no `at`): a clerk may
not back-date beyond the grace (docs/event-time.md), and that is what desks do all day. `--phases`
picks the measured phases, `--workers` the uvicorn workers (`motcua serve --workers`), `--busy-core`
keeps another process spinning on a core during the measured phases (a machine that is not idle).

Every phase stops at its count or its time limit, whichever comes first; the server is stopped
and the PostgreSQL database dropped at the end. Any answer other than 201 is reported and makes
the script exit with status 1. Beside the rates it prints the CPU time the server process and the
database's backends (PostgreSQL) spent per request, read from /proc, which moves less than rates
do when other jobs share the machine.

The client is `http.client` from the standard library: on the 2-core machine of the figures,
httpx spent about 1.4 ms of CPU per request against 0.36 ms, CPU the server would not get.
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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, or_, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from api.db import make_engine, session_scope, upgrade
from procedures.models import Agency, Procedure, ProcedureStep
from seed.loader import load_catalogue
from sla.core.calendar import LOCAL_TZ

try:
    from accounts.service import create_user, issue_token
except ImportError:  # a tree before accounts: requests name their clerk in X-Actor
    create_user = issue_token = None

ROOT = Path(__file__).resolve().parent.parent
API = "/api/v1"
POSTGRES_URL = os.environ.get("MOTCUA_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
CITY_SERVICE_CENTRE = "000.00.02.H26"  # Trung tâm Phục vụ hành chính công: hand-off target without a step agency
APPLICANT_NAMES = ("Nguyễn Thị Lan", "Trần Văn Minh", "Lê Thị Hoa", "Phạm Quốc Huy", "Hoàng Thu Trang", "Vũ Đức Anh")
PASSWORD = "bench-password-1"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


# --- the workload --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Offer:
    """A procedure in force today, the agencies that receive it, and where it is handed off to."""

    code: str
    receivers: tuple[str, ...]
    forward_to: str


def offers(database_url: str) -> list[Offer]:
    """The seeded catalogue: commune procedures at any active commune, the others at their agency."""
    engine = make_engine(database_url)
    with session_scope(engine) as session:
        communes = tuple(
            session.execute(
                select(Agency.code).where(Agency.level == "commune", Agency.active.is_(True)).order_by(Agency.code)
            ).scalars()
        )
        codes = dict(session.execute(select(Agency.id, Agency.code)).all())
        second_step = dict(
            session.execute(
                select(ProcedureStep.procedure_id, ProcedureStep.agency_id).where(ProcedureStep.seq == 2)
            ).all()
        )
        catalogue = []
        today = datetime.now(LOCAL_TZ).date()
        for procedure in session.execute(
            select(Procedure)
            .where(
                Procedure.effective_from <= today,
                or_(Procedure.effective_to.is_(None), Procedure.effective_to > today),
            )
            .order_by(Procedure.code)
        ).scalars():
            own = codes.get(procedure.agency_id)
            receivers = (own,) if own and procedure.level != "commune" else communes
            forward_to = codes.get(second_step.get(procedure.id)) or own or CITY_SERVICE_CENTRE
            catalogue.append(Offer(procedure.code, receivers, forward_to))
    engine.dispose()
    return catalogue


def desk_headers(database_url: str, agencies: set[str]) -> dict[str, dict[str, str]]:
    """Request headers per agency (the receiving ones, and those results are sent back from): a clerk of that
    agency signs each request."""
    headers = {agency: {"Content-Type": "application/json", "X-Actor": f"bench-{agency}"} for agency in agencies}
    if create_user is None:
        return headers
    engine = make_engine(database_url)
    with session_scope(engine) as session:
        for number, agency in enumerate(sorted(agencies)):
            username = f"bench-clerk-{number}"
            create_user(session, username=username, password=PASSWORD, role="clerk", agency_code=agency)
            token = issue_token(session, username=username, password=PASSWORD, lifetime=timedelta(days=1))
            headers[agency]["Authorization"] = f"Bearer {token}"
    engine.dispose()
    return headers


def intake_body(rng: random.Random, offer: Offer, agency_code: str | None = None) -> dict:
    """An ordinary intake: received now (the server's clock), at a desk of `agency_code` or any receiver."""
    return {
        "procedure_code": offer.code,
        "agency_code": agency_code or rng.choice(offer.receivers),
        "channel": rng.choice(("counter", "counter", "counter", "online", "post")),
        "applicant": {
            "name": rng.choice(APPLICANT_NAMES),
            "id_number": f"001{rng.randrange(10**9):09d}",
            "phone": f"09{rng.randrange(10**8):08d}",
        },
    }


def lifecycle_events(offer: Offer, receiving: str) -> list[dict]:
    """Six events in order, each dated by the server when it arrives; the result resolved at the agency forwarded
    to goes back to the receiving desk before it is returned (docs/hand-back.md)."""
    events = [
        {"type": "forwarded", "to_agency": offer.forward_to},
        {"type": "supplement_requested", "reason": "Thiếu bản sao giấy tờ tùy thân"},
        {"type": "supplement_received"},
        {"type": "resolved", "result": "Đã cấp kết quả"},
        {"type": "result_sent_to_desk"},
        {"type": "result_returned"},
    ]
    if offer.forward_to == receiving:  # forwarded within the desk's agency: the result is already there
        events.remove(events[4])
    return events


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
def server(database_url: str, log_path: Path, workers: int = 1, scheduler: bool = False) -> Iterator[Server]:
    """uvicorn with `workers` worker processes (no scheduler inside), on loopback, without an access log, and
    with `scheduler` the job scheduler in a process of its own (`motcua scheduler`); stopped on exit."""
    port = free_port()
    env = {**os.environ, "MOTCUA_DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1", "MOTCUA_SCHEDULER": "off"}
    command = [sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app"]
    command += [
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        jobs = None
        if scheduler:  # as `motcua serve --workers N --scheduler` runs it: a process of its own
            jobs = subprocess.Popen(
                [sys.executable, "-c", "from api.cli import main; main()", "scheduler"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
    try:
        deadline = time.monotonic() + 60
        while not _healthy(port) or len(_children(process.pid)) < (workers if workers > 1 else 0):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        yield Server(port, process.pid)
    finally:
        for running in filter(None, (process, jobs)):
            running.terminate()
            try:
                running.wait(timeout=15)
            except subprocess.TimeoutExpired:
                running.kill()
                running.wait()


def _healthy(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", f"{API}/healthz")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (0 where there is no /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _children(pid: int) -> list[int]:
    """The processes `pid` started (uvicorn's workers when it runs more than one)."""
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _backend_pids(database: str | None) -> list[int]:
    """PostgreSQL backends serving `database` (their titles name it), on this machine."""
    if not database:
        return []
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                title = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if title.startswith(b"postgres:") and f" {database} ".encode() in title:
                pids.append(int(entry.name))
    return pids


class CpuMeter:
    """CPU seconds spent by the server and the database backends during a phase, and the database sessions the
    server opened meanwhile (PostgreSQL's `pg_stat_database.sessions`). A backend that ended during the phase
    (a connection beyond the pool's size, closed when returned) takes its CPU time with it: then the database's
    figure is too low."""

    def __init__(self, server_pid: int, database: str | None, database_url: str | None = None) -> None:
        self.server_pid = server_pid
        self.database = database
        self.stats = create_engine(database_url, poolclass=NullPool) if database and database_url else None

    def read(self) -> tuple[float, dict[int, float], int]:
        server = sum(_cpu_seconds(pid) for pid in (self.server_pid, *_children(self.server_pid)))
        sessions = 0
        if self.stats is not None:
            with self.stats.connect() as connection:
                connection.exec_driver_sql("SELECT pg_stat_clear_snapshot()")
                sessions = connection.execute(
                    text("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
                ).scalar_one()
        return server, {pid: _cpu_seconds(pid) for pid in _backend_pids(self.database)}, sessions

    @staticmethod
    def spent(before: tuple, after: tuple) -> tuple[float, float, int]:
        backends = sum(seconds - before[1].get(pid, 0.0) for pid, seconds in after[1].items())
        return after[0] - before[0], backends, max(after[2] - before[2] - 1, 0)  # less the meter's own


# --- the clients ---------------------------------------------------------------------------------


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"intake": [], "event": []})
    errors: list[str] = field(default_factory=list)
    dossiers: int = 0
    seconds: float = 0.0
    stopped_by_time: bool = False
    server_cpu: float = 0.0
    database_cpu: float = 0.0
    sessions: int = 0
    client_cpu: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def requests(self) -> int:
        return sum(len(values) for values in self.latencies.values())


class Client:
    """One keep-alive connection; reconnects once when the server closed it between requests."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def post(self, path: str, body: dict, headers: dict[str, str]) -> tuple[int, bytes]:
        payload = json.dumps(body).encode()
        for attempt in (1, 2):
            try:
                self.connection.request("POST", path, body=payload, headers=headers)
                response = self.connection.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.connection.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.connection.close()


Job = Callable[[Client, Results, float], None]
"""Sends its requests; the float is the instant its latency counts from (None: when it is sent)."""


@dataclass(frozen=True)
class Request:
    kind: str  # intake | event
    body: dict


def _post(client: Client, results: Results, path: str, request: Request, headers: dict, since=None) -> bytes | None:
    began = time.perf_counter() if since is None else since
    status, answer = client.post(path, request.body, headers)
    elapsed = time.perf_counter() - began
    with results.lock:
        results.latencies[request.kind].append(elapsed)
        if status != 201:
            results.errors.append(f"{request.kind} {path} → {status}: {answer[:300].decode(errors='replace')}")
            return None
    return answer


def intake_only(body: dict, headers: dict) -> Job:
    def job(client: Client, results: Results, since: float | None) -> None:
        if _post(client, results, f"{API}/dossiers", Request("intake", body), headers, since) is not None:
            with results.lock:
                results.dossiers += 1

    return job


def lifecycle(body: dict, events: list[dict], headers: dict, sender: dict) -> Job:
    """An intake and its events, signed by the receiving desk's clerk; the hand-back by the clerk of the agency
    holding the resolved result (`sender`)."""

    def job(client: Client, results: Results, since: float | None) -> None:
        answer = _post(client, results, f"{API}/dossiers", Request("intake", body), headers)
        if answer is None:
            return
        path = f"{API}/dossiers/{json.loads(answer)['code']}/events"
        for event in events:
            signed = sender if event["type"] == "result_sent_to_desk" else headers
            if _post(client, results, path, Request("event", event), signed) is None:
                return
        with results.lock:
            results.dossiers += 1

    return job


def drive(
    target: Server,
    meter: CpuMeter,
    jobs: list[Job],
    *,
    clients: int,
    max_seconds: float,
    rate: float | None = None,
) -> Results:
    """Run the jobs from `clients` threads until done or out of time.

    Closed loop without `rate`: a thread sends its next job as soon as the previous one is
    answered. With `rate` (jobs per second), job i is due at start + i / rate and its latency
    counts from then, waiting in the client included (no coordinated omission).
    """
    results = Results()
    pending = iter(enumerate(jobs))
    take = threading.Lock()
    began = time.perf_counter()
    deadline = began + max_seconds

    def worker() -> None:
        client = Client(target.port)
        try:
            while True:
                with take:
                    index, job = next(pending, (None, None))
                if job is None:
                    return
                due = None if rate is None else began + index / rate
                if due is not None and due > time.perf_counter():
                    time.sleep(due - time.perf_counter())
                if time.perf_counter() > deadline:
                    results.stopped_by_time = True
                    return
                job(client, results, due)
        finally:
            client.close()

    cpu_before, load_before, client_before = meter.read(), os.getloadavg()[0], time.process_time()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.seconds = time.perf_counter() - began
    results.server_cpu, results.database_cpu, results.sessions = CpuMeter.spent(cpu_before, meter.read())
    results.client_cpu = time.process_time() - client_before
    results.load = (load_before, os.getloadavg()[0])
    return results


# --- the databases -------------------------------------------------------------------------------


@contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="motcua_bench_") as folder:
        yield f"sqlite:///{Path(folder) / 'motcua.db'}"


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    admin = create_engine(make_url(admin_url), isolation_level="AUTOCOMMIT")
    name = f"motcua_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def seed(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    with session_scope(engine) as session:
        load_catalogue(session)
    engine.dispose()


# --- reporting -----------------------------------------------------------------------------------


def report(name: str, phase: str, results: Results) -> list[str]:
    requests = results.requests()
    seconds = results.seconds or 1e-9
    cpu = f"server CPU {results.server_cpu / max(requests, 1) * 1000:.2f} ms/request"
    if results.database_cpu:
        cpu += f", database CPU {results.database_cpu / max(requests, 1) * 1000:.2f} ms/request"
        cpu += f", {results.sessions} database sessions opened"
    cpu += f", client CPU {results.client_cpu / max(requests, 1) * 1000:.2f} ms/request"
    lines = [
        f"{name} · {phase}: {results.dossiers} dossiers, {requests} requests in {seconds:.1f} s"
        + (" (stopped by the time limit)" if results.stopped_by_time else "")
        + f" → {results.dossiers / seconds:.0f} dossiers/s, {requests / seconds:.0f} requests/s",
        f"  {cpu}; load average {results.load[0]:.1f} → {results.load[1]:.1f}",
    ]
    for kind, values in results.latencies.items():
        if values:
            p50, p95, p99 = (np.percentile(values, q) * 1000 for q in (50, 95, 99))
            lines.append(
                f"  {kind:6} n={len(values):5}  p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  p99 {p99:6.1f} ms"
                f"  max {max(values) * 1000:6.1f} ms"
            )
    lines += [f"  error: {error}" for error in results.errors[:5]]
    if len(results.errors) > 5:
        lines.append(f"  … and {len(results.errors) - 5} more errors")
    return lines


def run(name: str, database_url: str, args: argparse.Namespace) -> bool:
    seed(database_url)
    catalogue = offers(database_url)
    by_agency = {agency: offer for offer in catalogue for agency in offer.receivers}
    headers = desk_headers(database_url, set(by_agency) | {offer.forward_to for offer in catalogue})
    rng = random.Random(args.seed)

    def intake(offer: Offer, agency: str | None = None) -> Job:
        body = intake_body(rng, offer, agency)
        return intake_only(body, headers[body["agency_code"]])

    def intakes(count: int) -> list[Job]:
        return [intake(offer) for offer in rng.choices(catalogue, k=count)]

    lifecycles = []
    for offer in rng.choices(catalogue, k=args.dossiers):
        body = intake_body(rng, offer)
        events = lifecycle_events(offer, body["agency_code"])
        lifecycles.append(lifecycle(body, events, headers[body["agency_code"]], headers[offer.forward_to]))
    closed, open_loop = {"clients": args.clients}, {"clients": 32, "rate": args.rate}
    warm_up = [*(intake(o, a) for a, o in by_agency.items()), *intakes(args.warmup)] * args.workers
    phases: list[tuple[str, str, list[Job], dict]] = [
        ("warm-up", "warm-up (not measured)", warm_up, {"clients": 2 * args.workers}),
        ("closed", f"intake, closed loop, {args.clients} clients", intakes(args.intakes), closed),
        ("rate", f"intake at {args.rate:g}/s, open loop", intakes(args.rate_intakes), open_loop),
        ("lifecycle", f"lifecycle (intake + 6 events), closed loop, {args.clients} clients", lifecycles, closed),
    ]
    chosen = {"warm-up", *args.phases.split(",")}

    database = make_url(database_url).database if name == "postgresql" else None
    ok = True
    with (
        tempfile.TemporaryDirectory() as folder,
        server(database_url, Path(folder) / "uvicorn.log", args.workers, args.scheduler) as target,
    ):
        meter = CpuMeter(target.pid, database, database_url)
        for key, phase, jobs, options in phases:
            if key not in chosen:
                continue
            with busy_core(args.busy_core and key != "warm-up"):
                results = drive(target, meter, jobs, max_seconds=args.max_seconds, **options)
            for line in report(name, phase, results):
                print(line, flush=True)
            ok = ok and not results.errors
    return ok


@contextmanager
def busy_core(wanted: bool) -> Iterator[None]:
    """Another process spinning on a core meanwhile (`python -c 'while 1: pass'`, at the same priority)."""
    if not wanted:
        yield
        return
    spinner = subprocess.Popen([sys.executable, "-c", "while 1: pass"])
    try:
        yield
    finally:
        spinner.kill()
        spinner.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--databases", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    parser.add_argument(
        "--postgres-url", default=POSTGRES_URL, help="an existing database; the bench creates its own beside it"
    )
    parser.add_argument("--clients", type=int, default=8, help="client threads of the closed-loop phases")
    parser.add_argument("--intakes", type=int, default=3000, help="intakes of the closed-loop intake phase")
    parser.add_argument("--rate", type=float, default=200, help="intakes per second of the open-loop phase")
    parser.add_argument("--rate-intakes", type=int, default=3000, help="intakes of the open-loop phase")
    parser.add_argument(
        "--dossiers",
        type=int,
        default=500,
        help="dossiers of the lifecycle phase (7 requests each, 6 when forwarded within the desk's agency)",
    )
    parser.add_argument("--warmup", type=int, default=100, help="intakes after the one per agency, before measuring")
    parser.add_argument("--max-seconds", type=float, default=60, help="time limit of each phase")
    parser.add_argument("--seed", type=int, default=20250602)
    parser.add_argument(
        "--phases", default="closed,rate,lifecycle", help="measured phases, comma-separated: closed, rate, lifecycle"
    )
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (motcua serve --workers)")
    parser.add_argument(
        "--scheduler", action="store_true", help="the job scheduler in a process of its own beside (motcua scheduler)"
    )
    parser.add_argument(
        "--busy-core", action="store_true", help="keep another process busy on a core during the measured phases"
    )
    args = parser.parse_args()
    print(
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}; uvicorn {args.workers} worker(s); client http.client"
        + ("; the scheduler in its own process" if args.scheduler else "")
        + ("; another process busy on a core" if args.busy_core else ""),
        flush=True,
    )
    ok = True
    for name in args.databases.split(","):
        database = sqlite_database() if name == "sqlite" else postgres_database(args.postgres_url)
        with database as url:
            ok = run(name, url, args) and ok
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
