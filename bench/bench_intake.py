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
4. lifecycle, closed loop: each dossier is an intake then six events in time order (forwarded,
   supplement_requested, supplement_received, resolved, result_sent_to_desk: the result back at the
   receiving desk, result_returned), back-dated in 2025:
   dossiers per second and the latency of intakes and of events.

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
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from api.db import make_engine, session_scope, upgrade
from procedures.models import Agency, Procedure, ProcedureStep
from seed.loader import load_catalogue

try:
    from accounts.service import create_user, issue_token
except ImportError:  # a tree before accounts: requests name their clerk in X-Actor
    create_user = issue_token = None

ROOT = Path(__file__).resolve().parent.parent
API = "/api/v1"
POSTGRES_URL = os.environ.get("MOTCUA_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
CITY_SERVICE_CENTRE = "000.00.02.H26"  # Trung tâm Phục vụ hành chính công: hand-off target without a step agency
FIRST_DAY, LAST_DAY = date(2025, 1, 2), date(2025, 10, 31)  # receipts; the six events follow within 2025
APPLICANT_NAMES = ("Nguyễn Thị Lan", "Trần Văn Minh", "Lê Thị Hoa", "Phạm Quốc Huy", "Hoàng Thu Trang", "Vũ Đức Anh")
PASSWORD = "bench-password-1"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


# --- the workload --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Offer:
    """A procedure in force over 2025, the agencies that receive it, and where it is handed off to."""

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
        for procedure in session.execute(
            select(Procedure)
            .where(Procedure.effective_from <= FIRST_DAY, Procedure.effective_to.is_(None))
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


def _local(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M")


def random_receipt(rng: random.Random) -> datetime:
    """A local instant in opening hours (08:00–16:30) of a weekday of 2025."""
    day = FIRST_DAY + timedelta(days=rng.randrange((LAST_DAY - FIRST_DAY).days))
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, datetime.min.time()) + timedelta(minutes=rng.randint(8 * 60, 16 * 60 + 30))


def intake_body(rng: random.Random, offer: Offer, received_at: datetime, agency_code: str | None = None) -> dict:
    return {
        "procedure_code": offer.code,
        "agency_code": agency_code or rng.choice(offer.receivers),
        "channel": rng.choice(("counter", "counter", "counter", "online", "post")),
        "received_at": _local(received_at),
        "applicant": {
            "name": rng.choice(APPLICANT_NAMES),
            "id_number": f"001{rng.randrange(10**9):09d}",
            "phone": f"09{rng.randrange(10**8):08d}",
        },
    }


def lifecycle_events(rng: random.Random, offer: Offer, received_at: datetime, receiving: str) -> list[dict]:
    """Six events in time order, the last one still in 2025 (so nothing is in the future); the result resolved
    at the agency forwarded to goes back to the receiving desk before it is returned (docs/hand-back.md)."""
    forwarded = received_at + timedelta(minutes=rng.randint(15, 2 * 24 * 60))
    requested = forwarded + timedelta(minutes=rng.randint(30, 240))
    supplied = requested + timedelta(minutes=rng.randint(24 * 60, 5 * 24 * 60))
    resolved = supplied + timedelta(minutes=rng.randint(24 * 60, 12 * 24 * 60))
    sent_back = resolved + timedelta(minutes=rng.randint(10, 240))
    returned = sent_back + timedelta(minutes=rng.randint(10, 600))
    events = [
        {"type": "forwarded", "at": _local(forwarded), "to_agency": offer.forward_to},
        {"type": "supplement_requested", "at": _local(requested), "reason": "Thiếu bản sao giấy tờ tùy thân"},
        {"type": "supplement_received", "at": _local(supplied)},
        {"type": "resolved", "at": _local(resolved), "result": "Đã cấp kết quả"},
        {"type": "result_sent_to_desk", "at": _local(sent_back)},
        {"type": "result_returned", "at": _local(returned)},
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
def server(database_url: str, log_path: Path) -> Iterator[Server]:
    """uvicorn, one worker, on loopback, without an access log; stopped on exit."""
    port = free_port()
    env = {**os.environ, "MOTCUA_DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app"]
    command += [
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not _healthy(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        yield Server(port, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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
    """CPU seconds spent by the server and the database backends during a phase."""

    def __init__(self, server_pid: int, database: str | None) -> None:
        self.server_pid = server_pid
        self.database = database

    def read(self) -> tuple[float, dict[int, float]]:
        return _cpu_seconds(self.server_pid), {pid: _cpu_seconds(pid) for pid in _backend_pids(self.database)}

    @staticmethod
    def spent(before: tuple[float, dict[int, float]], after: tuple[float, dict[int, float]]) -> tuple[float, float]:
        backends = sum(seconds - before[1].get(pid, 0.0) for pid, seconds in after[1].items())
        return after[0] - before[0], backends


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

    cpu_before, load_before = meter.read(), os.getloadavg()[0]
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.seconds = time.perf_counter() - began
    results.server_cpu, results.database_cpu = CpuMeter.spent(cpu_before, meter.read())
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
        body = intake_body(rng, offer, random_receipt(rng), agency)
        return intake_only(body, headers[body["agency_code"]])

    def intakes(count: int) -> list[Job]:
        return [intake(offer) for offer in rng.choices(catalogue, k=count)]

    lifecycles = []
    for offer in rng.choices(catalogue, k=args.dossiers):
        received_at = random_receipt(rng)
        body = intake_body(rng, offer, received_at)
        events = lifecycle_events(rng, offer, received_at, body["agency_code"])
        lifecycles.append(lifecycle(body, events, headers[body["agency_code"]], headers[offer.forward_to]))
    closed, open_loop = {"clients": args.clients}, {"clients": 32, "rate": args.rate}
    phases: list[tuple[str, list[Job], dict]] = [
        (
            "warm-up (not measured)",
            [*(intake(o, a) for a, o in by_agency.items()), *intakes(args.warmup)],
            {"clients": 2},
        ),
        (f"intake, closed loop, {args.clients} clients", intakes(args.intakes), closed),
        (f"intake at {args.rate:g}/s, open loop", intakes(args.rate_intakes), open_loop),
        (f"lifecycle (intake + 6 events), closed loop, {args.clients} clients", lifecycles, closed),
    ]

    database = make_url(database_url).database if name == "postgresql" else None
    ok = True
    with tempfile.TemporaryDirectory() as folder, server(database_url, Path(folder) / "uvicorn.log") as target:
        meter = CpuMeter(target.pid, database)
        for phase, jobs, options in phases:
            results = drive(target, meter, jobs, max_seconds=args.max_seconds, **options)
            for line in report(name, phase, results):
                print(line, flush=True)
            ok = ok and not results.errors
    return ok


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
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}; uvicorn 1 worker; client http.client", flush=True)
    ok = True
    for name in args.databases.split(","):
        database = sqlite_database() if name == "sqlite" else postgres_database(args.postgres_url)
        with database as url:
            ok = run(name, url, args) and ok
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
