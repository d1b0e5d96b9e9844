"""Benchmark of the history import (`motcua exchange import`, exchange/history.py) on PostgreSQL.

1. A generated city in the scratch database `import_src` (seed generator, `--source` dossiers of 2025), every
   dossier exported as its national record (exchange/service.record_of).
2. A file of `--records` records: the exported ones, repeated with their daily sequence moved past the others
   (`<agency>-<yymmdd>-<seq + copy × 100000>`), so that every record is a distinct dossier of the same life.
3. Imported into the empty scratch database `import_dst` in one transaction (`import_history`, chunks of
   `--chunk`), timed; peak memory (RSS) read from the kernel.
4. Check: the first copy's dossiers, events and stages equal the source's (the round trip), counts match.
5. Both databases dropped (unless `--keep`).

    nice .venv/bin/python bench/bench_exchange_import.py --records 1000000

Figures: bench/README.md, "History import".
"""

from __future__ import annotations

import argparse
import re
import resource
import time
from pathlib import Path

import orjson
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from api.calendars import calendar_store
from api.db import for_writes, make_engine, upgrade
from api.settings import Settings
from dossiers.models import Dossier
from exchange.history import import_history
from exchange.service import record_of
from seed.generator import generate
from seed.loader import load_catalogue

SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
COMPARED = ("code, procedure_id, receiving_agency_id, current_agency_id, status_code, received_at, submitted_at, "
            "clock_start_at, original_due_at, rescheduled_due_at, due_at, finished_at, outcome, paused_minutes, "
            "supplement_count, clock_stopped_since, resolution_working_minutes, event_count")  # fmt: skip
_CODE = re.compile(r"^(.*-\d{6}-)(\d+)$")


def recreate(server: str, name: str) -> str:
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def drop(server: str, name: str) -> None:
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def fresh(url: str):
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as session:
        load_catalogue(session)
        session.commit()
    return engine


def calendars(engine):
    return calendar_store(Settings()).calendar_for_engine(engine)


def renumbered(line: bytes, copy: int) -> bytes:
    if not copy:
        return line
    record = orjson.loads(line)
    head, seq = _CODE.match(record["MaHoSo"]).groups()
    record["MaHoSo"] = f"{head}{int(seq) + copy * 100_000}"
    return orjson.dumps(record)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--source", type=int, default=20_000, help="dossiers generated and exported")
    parser.add_argument("--chunk", type=int, default=20_000)
    parser.add_argument("--server", default=SERVER)
    parser.add_argument("--file", type=Path, default=Path("/tmp/bench_exchange_import.jsonl"))
    parser.add_argument("--keep", action="store_true", help="keep both databases and the file")
    args = parser.parse_args()
    source_url = recreate(args.server, "import_src")
    target_url = recreate(args.server, "import_dst")
    try:
        source = fresh(source_url)
        started = time.perf_counter()
        report = generate(source, dossiers=args.source, year=2025, seed=7, calendar_for=calendars(source))
        print(f"source: {report.summary()}")
        started = time.perf_counter()
        store = calendar_store(Settings())
        exported = []
        with Session(source) as session:
            for dossier in session.execute(select(Dossier).order_by(Dossier.id)).scalars():
                exported.append(orjson.dumps(record_of(session, dossier, calendar_for=store.calendar_for(session))))
                session.expunge(dossier)
        print(f"exported {len(exported)} records in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        with args.file.open("wb") as out:
            for n in range(args.records):
                out.write(renumbered(exported[n % len(exported)], n // len(exported)) + b"\n")
        size = args.file.stat().st_size
        print(f"file: {args.records} records, {size / 1e9:.2f} GB, written in {time.perf_counter() - started:.1f} s")
        del exported

        target = fresh(target_url)
        calendar_for = calendars(target)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        cpu = time.process_time()
        started = time.perf_counter()
        with Session(for_writes(target)) as session, args.file.open("rb") as stream:
            result = import_history(session, stream, file_name=args.file.name, actor="bench",
                                    calendar_for=calendar_for, chunk_size=args.chunk)  # fmt: skip
            session.commit()
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(result.summary())
        print(f"import: {seconds:.1f} s wall, {result.written / seconds:,.0f} records/s; {cpu:.1f} s of the importer's "
              f"CPU ({result.written / cpu:,.0f} records per CPU second; PostgreSQL's own not counted); peak RSS "
              f"{rss / 1024:.0f} MiB (before the import {rss_before / 1024:.0f} MiB), chunk {args.chunk}; "
              f"load average {' '.join(f'{x:.1f}' for x in __import__('os').getloadavg())}")  # fmt: skip
        with source.connect() as a, target.connect() as b:
            ours = a.execute(text(f"SELECT {COMPARED} FROM dossier ORDER BY code")).all()
            theirs = b.execute(text(f"SELECT {COMPARED} FROM dossier WHERE code = ANY(:codes) ORDER BY code"),
                               {"codes": [row[0] for row in ours]}).all()  # fmt: skip
            counts = {t: b.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                      for t in ("dossier", "dossier_event", "stage", "imported_dossier")}  # fmt: skip
        # procedure ids are the catalogue's, loaded the same way in both databases
        print(f"round trip of the first copy: {'identical' if ours == theirs else 'DIFFERENT'} "
              f"({len(ours)} dossiers); rows: {counts}")
        source.dispose()
        target.dispose()
    finally:
        if not args.keep:
            drop(args.server, "import_src")
            drop(args.server, "import_dst")
            args.file.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
