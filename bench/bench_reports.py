"""Reports, queues and the nightly run over a synthetic city (run by hand, not by CI).

    .venv/bin/python bench/bench_reports.py --database postgresql --dossiers 1000000
    .venv/bin/python bench/bench_reports.py --database sqlite --dossiers 1000000
    .venv/bin/python bench/bench_reports.py --url postgresql+psycopg://postgres@127.0.0.1:5432/city --repeat 3

Generates the city with `seed.generator` into a fresh database (or, with `--url`, reads a city
generated before with `motcua seed generate --year 2025 --seed 1`: it is migrated, vacuumed on
PostgreSQL and left in place, and the nightly run writes a new revision of each freeze), then
times: the monthly report of every agency (June), the year report grouped by agency, by procedure
and by month, the first page of the overdue queue of the busiest agency (p50/p95 of 50 calls), and
the nightly run that closes 31/12 (re-derivation, daily snapshot, month/quarter/year freezes).
Prints the peak memory.
"""

import argparse
import resource
import statistics
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import create_engine, func, select, text
from sqlmodel import Session

from api.calendars import calendar_store
from api.db import make_engine, upgrade
from api.settings import Settings
from dossiers.models import Dossier
from procedures.models import Agency
from seed.generator import generate
from seed.loader import load_catalogue
from sla import jobs, queues, reports
from sla.calendars import CalendarStore, OverrideCreate, add_override, delete_override
from sla.core.calendar import LOCAL_TZ
from sla.core.rates import ParScoring

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def timed(label: str, work, results: list) -> object:
    started = time.perf_counter()
    value = work()
    elapsed = time.perf_counter() - started
    results.append((label, elapsed))
    print(f"{label:<55} {elapsed:8.2f} s", flush=True)
    return value


def measure(engine, store: CalendarStore, year: int, results: list, *, force: bool, repeat: int = 1) -> None:
    """The reports, the overdue queue and the nightly run over the city in `engine`."""
    with Session(engine) as session:
        june = reports.Period(date(year, 6, 1), date(year, 6, 30))
        whole = reports.Period(date(year, 1, 1), date(year, 12, 31))
        for _ in range(repeat):
            timed("monthly report, every agency (June)", lambda: reports.period_report(session, period=june), results)
            timed("year report grouped by agency", lambda: reports.period_report(session, period=whole), results)
            timed(
                "year report grouped by procedure",
                lambda: reports.period_report(session, period=whole, group_by="procedure"),
                results,
            )
            timed(
                "year report grouped by month",
                lambda: reports.period_report(session, period=whole, group_by="month"),
                results,
            )
        busiest_id = session.execute(
            select(Dossier.current_agency_id)
            .where(Dossier.status_code.in_((2, 4)))
            .group_by(Dossier.current_agency_id)
            .order_by(func.count().desc())
            .limit(1)
        ).scalar_one()
        busiest = session.get(Agency, busiest_id).code
        calendar = store.get(session, busiest)
        now = datetime(year + 1, 1, 15, 9, tzinfo=LOCAL_TZ).astimezone(UTC)
        where = queues.QueueFilter(agency=busiest)
        latencies = []
        for _ in range(50):
            started = time.perf_counter()
            frame, total = queues.overdue(session, where=where, calendar=calendar, now=now)
            latencies.append(time.perf_counter() - started)
        latencies.sort()
        p50, p95 = statistics.median(latencies), latencies[int(0.95 * len(latencies)) - 1]
        label = f"overdue queue first page of {busiest} ({total:,} overdue)"
        print(f"{label}: p50 {p50 * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms")
        results.append(("overdue queue first page p95", p95))
    timed(
        "nightly run closing 31/12 (rederive, snapshot, 3 freezes)",
        lambda: jobs.run_nightly(engine, calendars=store, par=ParScoring(), day=date(year, 12, 31), force=force),
        results,
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (RSS) {peak:,.0f} MiB")


def timed_rederivation() -> dict[str, float]:
    """Time the re-derivation job within the nightly runs (its seconds land in the returned dict)."""
    spent: dict[str, float] = {}
    original = jobs.rederive_open

    def rederive_open(session, **options):
        started = time.perf_counter()
        try:
            return original(session, **options)
        finally:
            spent["seconds"] = time.perf_counter() - started

    jobs.rederive_open = rederive_open
    return spent


def calendar_change_night(engine, store: CalendarStore, year: int) -> None:
    """A decree adds a day off after the dossiers were received: the night re-derives the open dossiers whose
    clock window holds it; it is removed again (a second change night), then a regular night follows."""
    day_off = date(year + 1, 1, 5)
    spent = timed_rederivation()
    with Session(engine) as session:
        open_dossiers = session.execute(
            select(func.count())
            .select_from(Dossier)
            .where(Dossier.finished_at.is_(None), Dossier.clock_start_at.is_not(None))
        ).scalar_one()
        override = add_override(
            session, OverrideCreate(date=day_off, kind="off", reason="bench: a day off added by decree")
        )
        session.commit()
    print(f"{open_dossiers:,} open dossiers", flush=True)

    def night(label: str) -> None:
        [rederived] = [
            r
            for r in timed(
                label,
                lambda: jobs.run_nightly(engine, calendars=store, par=ParScoring(), day=date(year, 12, 31), force=True),
                [],
            )
            if r.job == jobs.REDERIVE
        ]
        print(f"  re-derived {rederived.rows_written:,} open dossiers in {spent.get('seconds', 0):.2f} s", flush=True)

    try:
        night(f"nightly run closing 31/12 after a new day off on {day_off:%d/%m/%Y}")
    finally:
        with Session(engine) as session:
            delete_override(session, override.id)
            session.commit()
        night(f"nightly run closing 31/12 after the day off {day_off:%d/%m/%Y} is removed again")
    night("nightly run closing 31/12, a regular night after them")


def reuse(arguments) -> None:
    engine = make_engine(arguments.url)
    try:
        upgrade(engine)
        with Session(engine) as session:
            dossiers = session.execute(select(func.count()).select_from(Dossier)).scalar_one()
        print(f"{dossiers:,} dossiers at {engine.url.render_as_string(hide_password=True)}", flush=True)
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("VACUUM ANALYZE dossier"))
        store = calendar_store(Settings())
        measure(engine, store, arguments.year, [], force=True, repeat=arguments.repeat)
        if arguments.calendar_change:
            calendar_change_night(engine, store, arguments.year)
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--dossiers", type=int, default=1_000_000)
    parser.add_argument("--year", type=int, default=2025)
    parser.add_argument("--url", help="an existing generated city to read instead of generating one")
    parser.add_argument("--repeat", type=int, default=1, help="time each report this many times")
    parser.add_argument(
        "--calendar-change",
        action="store_true",
        help="with --url: then declare a new day off (05/01 of the next year; removed again at the end) and time "
        "the nightly run that moves the dues of every open dossier",
    )
    arguments = parser.parse_args()
    if arguments.url:
        reuse(arguments)
        return

    name = f"motcua_bench_reports_{uuid.uuid4().hex[:8]}"
    admin = None
    if arguments.database == "postgresql":
        admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = POSTGRES.rsplit("/", 1)[0] + f"/{name}"
    else:
        url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    engine = make_engine(url)
    results: list[tuple[str, float]] = []
    try:
        upgrade(engine)
        with Session(engine) as session:
            load_catalogue(session)
            session.commit()
        store = calendar_store(Settings())
        calendar_for = store.calendar_for_engine(engine)
        timed(
            f"generate {arguments.dossiers:,} dossiers ({arguments.database})",
            lambda: generate(
                engine, dossiers=arguments.dossiers, year=arguments.year, seed=1, calendar_for=calendar_for
            ),
            results,
        )
        if arguments.database == "postgresql":
            with admin.connect() as connection:
                connection.execute(text(f"ALTER DATABASE \"{name}\" SET work_mem = '64MB'"))
            engine.dispose()
            with create_engine(url, isolation_level="AUTOCOMMIT").connect() as connection:
                connection.execute(text("VACUUM ANALYZE"))
        measure(engine, store, arguments.year, results, force=False)
    finally:
        engine.dispose()
        if admin is not None:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
