"""Notifications over a generated city (run by hand, not by CI).

    PYTHONPATH=. .venv/bin/python bench/bench_notify.py --url postgresql+psycopg://postgres@127.0.0.1:5432/notify_bench
    PYTHONPATH=. .venv/bin/python bench/bench_notify.py --url sqlite:////tmp/demo.db --messages 2000

1. **Rules**: `notify.rules.evaluate` over every open dossier and open stage of the city as of `--at` (default
   Wed 31/12/2025 10:00, a working morning at the end of the generated year), twice: the first run writes the
   warnings, reminders and escalations due by then; the second finds the same causes already told and writes
   nothing (the steady state of the scheduler's minute). Both in one transaction, rolled back (nothing kept),
   unless `--keep`.
2. **Dispatch**: `--messages` pending messages (SMS and Zalo to a signed HTTP gateway, email to an SMTP
   server; both local, each in its own process) sent by `notify.dispatcher.dispatch` as the scheduler runs it;
   prints messages per second per channel. The gateway checks every signature and counts distinct keys (each
   message must arrive once). The bench's messages are deleted afterwards.
"""

import argparse
import asyncio
import cProfile
import hashlib
import hmac
import json
import os
import pstats
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from datetime import time as clock_time
from pathlib import Path

from sqlalchemy import case, delete, func, insert, select, update
from sqlmodel import Session

import api.models  # noqa: F401  (every table, for the foreign keys of the outbox's rows)
from api.calendars import calendar_store
from api.db import for_writes, make_engine
from api.settings import Settings
from notify.dispatcher import DispatchPolicy, dispatch
from notify.models import Delivery, OutboxMessage
from notify.outbox import Links
from notify.providers import Providers
from notify.quiet import Calendars
from notify.rules import evaluate
from sla.core.calendar import LOCAL_TZ

SECRET = "bench-secret"
KEY_PREFIX = "bench-notify:"


# --- the local gateway and SMTP server (each run in a process of its own) -------------------------------------


def serve_gateway(port: int) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse
    from starlette.routing import Route

    seen: set[str] = set()
    counts = {"requests": 0, "bad_signature": 0}

    async def hook(request: Request):
        body = await request.body()
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        counts["requests"] += 1
        if request.headers.get("X-Motcua-Signature") != expected:
            counts["bad_signature"] += 1
            return JSONResponse({"error": "bad signature"}, status_code=401)
        seen.add(request.headers["Idempotency-Key"])
        return JSONResponse({"id": len(seen)})

    async def stats(request: Request):
        return PlainTextResponse(json.dumps({**counts, "distinct": len(seen)}))

    app = Starlette(routes=[Route("/{channel}", hook, methods=["POST"]), Route("/stats", stats)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def serve_smtp(port: int) -> None:
    from aiosmtpd.controller import Controller

    class Count:
        received = 0

        async def handle_DATA(self, server, session, envelope):
            Count.received += 1
            return "250 OK"

    controller = Controller(Count(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start(kind: str, port: int) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, __file__, f"--serve-{kind}", str(port)])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"the local {kind} did not start")


# --- the bench ---------------------------------------------------------------------------------------------------


def backend_cpu(pid: int | None) -> float | None:
    """A process's CPU seconds (user + system) from /proc, None when it cannot be read (another machine)."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_rules(
    engine, at: datetime, keep: bool, profile: bool = False, staff_per_agency: int = 1, consent: bool = False
) -> None:
    store = calendar_store(Settings())
    with Session(engine) as session:
        staff = _staff(session, staff_per_agency)
        if consent:
            _consent(session)
        connection = session.connection()
        backend = (
            connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            if connection.dialect.name == "postgresql"
            else None
        )
        for attempt in ("first run (writes what is due)", "second run (all told: writes nothing)"):
            load = os.getloadavg()[0]
            server = backend_cpu(backend)
            cpu = time.process_time()
            profiler = cProfile.Profile() if profile else None
            started = time.perf_counter()
            if profiler:
                profiler.enable()
            report = evaluate(session, calendars=Calendars(session, store), now=at, links=Links("https://x"))
            if profiler:
                profiler.disable()
            seconds = time.perf_counter() - started
            cpu = time.process_time() - cpu
            server = backend_cpu(backend) - server if server is not None else None
            print(
                f"rules, {attempt}: {seconds:.2f} s (CPU: Python {cpu:.2f} s"
                + (f", PostgreSQL {server:.2f} s" if server is not None else "")
                + f"; load average {load:.1f}); {report.open_stages:,} open stages, "
                f"{report.open_dossiers:,} running dossiers, {report.waiting_supplement:,} awaiting a supplement "
                f"with consent; {report.due:,} causes due, newly told {report.fired or 'none'}; "
                f"{report.notifications:,} notifications to {staff:,} staff, "
                f"{report.citizen_messages:,} citizen messages"
            )
            if profiler:
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
        session.commit() if keep else session.rollback()


def _staff(session: Session, per_agency: int = 1) -> int:
    """`per_agency` managers and officers at every agency (a generated city has no users), in the bench's
    transaction."""
    from accounts.models import User
    from procedures.models import Agency

    agencies = session.execute(select(Agency.id, Agency.code)).all()
    rows = [
        {
            "username": f"bench-{role}{n or ''}-{code}".lower()[:64],
            "password_hash": "x",
            "role": role,
            "agency_id": agency_id,
            "active": True,
            "created_at": datetime.now(UTC),
        }
        for agency_id, code in agencies
        for role in ("manager", "officer")
        for n in range(per_agency)
    ]
    session.execute(insert(User), rows)
    return len(rows)


def _consent(session: Session) -> None:
    """Every applicant waiting for a supplement consented (a generated city has no consent), on SMS, Zalo or
    email by turns, in the bench's transaction: the citizens' reminders are written too."""
    from dossiers.models import Dossier
    from sla.core.lifecycle import Status

    channel = case((Dossier.id % 3 == 0, "sms"), (Dossier.id % 3 == 1, "zalo"), else_="email")
    session.execute(
        update(Dossier)
        .where(Dossier.status_code == Status.WAITING_SUPPLEMENT)
        .values(
            contact_consent=True,
            preferred_channel=channel,
            applicant_phone=func.coalesce(Dossier.applicant_phone, "0912345678"),
            applicant_email=func.coalesce(Dossier.applicant_email, "citizen@example.vn"),
        )
    )


def bench_dispatch(engine, count: int) -> None:
    gateway_port, smtp_port = _free_port(), _free_port()
    processes = [_start("gateway", gateway_port), _start("smtp", smtp_port)]
    store = calendar_store(Settings())
    policy = DispatchPolicy(batch_size=500, citizen_hours=(clock_time(0, 0), clock_time(23, 59)))
    try:
        for channels in (("sms", "zalo"), ("email",)):
            _clean(engine)
            now = datetime.now(UTC)
            rows = [
                {
                    "key": f"{KEY_PREFIX}{channels[0]}:{i}",
                    "cause": "bench",
                    "kind": "received",
                    "channel": channels[i % len(channels)],
                    "audience": "citizen",
                    "address": f"09{i:08d}" if channels[0] != "email" else f"citizen{i}@example.vn",
                    "subject": "Đã tiếp nhận hồ sơ" if channels[0] == "email" else None,
                    "body": f"Ho so 000.01.01.H26-251231-{i:04d} da duoc tiep nhan. Hen tra ket qua: 09/01/2026 "
                    f"09:00. Tra cuu: https://motcua.example/lookup?code=000.01.01.H26-251231-{i:04d}",
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for i in range(count)
            ]
            with Session(engine) as session:
                session.execute(insert(OutboxMessage), rows)
                session.commit()
            providers = Providers.configured(
                smtp_url=f"smtp://127.0.0.1:{smtp_port}",
                smtp_from="motcua@example.vn",
                sms_webhook_url=f"http://127.0.0.1:{gateway_port}/sms",
                zalo_webhook_url=f"http://127.0.0.1:{gateway_port}/zalo",
                webhook_secret=SECRET,
            )
            try:
                report = dispatch(for_writes(engine), providers=providers, store=store, policy=policy)
            finally:
                providers.close()
            with Session(engine) as session:
                sent = session.execute(
                    select(func.count()).where(OutboxMessage.key.startswith(KEY_PREFIX), OutboxMessage.status == "sent")
                ).scalar_one()
            print(
                f"dispatch {'+'.join(channels)}: {report.sent:,} sent in {report.seconds:.2f} s = "
                f"{report.per_second:,.0f} messages/s ({report.failed} failed, {report.held} held); "
                f"{sent:,} marked sent"
            )
        import httpx

        print("gateway:", httpx.get(f"http://127.0.0.1:{gateway_port}/stats").text)
    finally:
        _clean(engine)
        for process in processes:
            process.terminate()
            process.wait(timeout=10)


def _clean(engine) -> None:
    with Session(engine) as session:
        ids = select(OutboxMessage.id).where(OutboxMessage.key.startswith(KEY_PREFIX))
        session.execute(delete(Delivery).where(Delivery.message_id.in_(ids)))
        session.execute(delete(OutboxMessage).where(OutboxMessage.key.startswith(KEY_PREFIX)))
        session.commit()


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] in ("--serve-gateway", "--serve-smtp"):
        port = int(sys.argv[2])
        serve_gateway(port) if sys.argv[1] == "--serve-gateway" else serve_smtp(port)
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="the city's database URL (generated by `motcua seed generate`)")
    parser.add_argument("--at", default="2025-12-31T10:00", help="evaluate as of this local instant")
    parser.add_argument("--messages", type=int, default=5000, help="messages to dispatch per channel group")
    parser.add_argument("--keep", action="store_true", help="keep what the rules wrote")
    parser.add_argument("--skip-rules", action="store_true")
    parser.add_argument("--skip-dispatch", action="store_true")
    parser.add_argument(
        "--staff", type=int, default=1, help="managers and officers per agency (more: more notifications a cause)"
    )
    parser.add_argument(
        "--consent",
        action="store_true",
        help="every applicant waiting for a supplement consented (in the rolled-back transaction): reminders too",
    )
    parser.add_argument("--profile", action="store_true", help="print where each run of the rules spends its time")
    args = parser.parse_args()
    engine = make_engine(args.url)
    if not args.skip_rules:
        bench_rules(
            engine,
            datetime.fromisoformat(args.at).replace(tzinfo=LOCAL_TZ),
            args.keep,
            args.profile,
            args.staff,
            args.consent,
        )
    if not args.skip_dispatch:
        bench_dispatch(engine, args.messages)
    engine.dispose()


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    asyncio.set_event_loop_policy(None)
    main()
