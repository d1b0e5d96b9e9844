"""Benchmark of the history import (`motcua exchange import`, exchange/history.py) on PostgreSQL.

1. A generated city in the scratch database `import_src` (seed generator, `--source` dossiers of 2025), every
   dossier exported as its national record (exchange/service.record_of).
2. A file of `--records` records: the exported ones, repeated with their daily sequence moved past the others
   (`<agency>-<yymmdd>-<seq + copy × 100000>`), so that every record is a distinct dossier of the same life; with
   `--distinct-times` every instant of copy n also moves n mod 60 seconds (the generator's instants are whole
   minutes: nothing crosses a minute), so that the dates are not the same few thousand strings over and over (the
   reader remembers the last 65,536 it parsed).
3. Imported into the empty scratch database `import_dst` in one transaction (`import_history`, chunks of
   `--chunk`, `--readers` reader processes: by default by the file's size), timed: wall, and the CPU of the
   importer, of its reader processes and of its PostgreSQL backend (read from /proc: the server runs on this
   machine); peak memory (RSS) read from the kernel.
4. Check: the first copy's dossiers equal the source's (the round trip: derived columns, the Decision 766 facts
   with every `index_flags` bit but the generator's default result kind, the components and the fee lines),
   counts match.
5. Both databases dropped (unless `--keep`).

    nice .venv/bin/python bench/bench_exchange_import.py --records 1000000

Figures: bench/README.md, "History import".
"""

from __future__ import annotations

import argparse
import os
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
from sla.core.index766 import RESULT_KIND_BITS

SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
COMPARED = ("code, procedure_id, receiving_agency_id, current_agency_id, status_code, received_at, submitted_at, "
            "clock_start_at, original_due_at, rescheduled_due_at, due_at, finished_at, outcome, paused_minutes, "
            "supplement_count, clock_stopped_since, resolution_working_minutes, event_count")  # fmt: skip
FACTS = (f"code, electronic_result, vneid_verified, population_ref, index_flags & {~RESULT_KIND_BITS & 0x7FFF}",
         "SELECT d.code, c.seq, c.component_seq, c.name, c.form, c.copies, c.digitised, c.reused, "
         "c.from_citizen_store, c.from_national_db FROM dossier_component c JOIN dossier d ON d.id = c.dossier_id",
         "SELECT d.code, f.seq, f.name, f.amount_vnd, f.payment_channel, f.paid_at FROM dossier_fee f "
         "JOIN dossier d ON d.id = f.dossier_id")  # fmt: skip
"""What else the round trip must keep (the result kind the generator takes where the catalogue gives none is a fact
of no record field: tests/exchange/test_history_roundtrip.py)."""
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


_INSTANT = re.compile(rb'"([0-9]{12})([0-9]{2})"')


def renumbered(line: bytes, copy: int, distinct_times: bool = False) -> bytes:
    if not copy:
        return line
    record = orjson.loads(line)
    head, seq = _CODE.match(record["MaHoSo"]).groups()
    record["MaHoSo"] = f"{head}{int(seq) + copy * 100_000}"
    line = orjson.dumps(record)
    if distinct_times:
        shift = copy % 60
        line = _INSTANT.sub(lambda m: b'"%s%02d"' % (m[1], (int(m[2]) + shift) % 60), line)
    return line


def backend_cpu(pid: int) -> float | None:
    """A process's CPU seconds (user + system) from /proc, None when it cannot be read (another machine)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--source", type=int, default=20_000, help="dossiers generated and exported")
    parser.add_argument("--chunk", type=int, default=20_000)
    parser.add_argument("--readers", type=int, default=None, help="reader processes (default: by the file's size)")
    parser.add_argument("--distinct-times", action="store_true", help="move each copy's instants a few seconds")
    parser.add_argument("--server", default=SERVER)
    parser.add_argument("--file", type=Path, default=Path("/tmp/bench_exchange_import.jsonl"))
    parser.add_argument("--keep", action="store_true", help="keep both databases and the file")
    parser.add_argument("--prefix", default="import", help="the scratch databases are <prefix>_src and <prefix>_dst")
    args = parser.parse_args()
    source_name, target_name = f"{args.prefix}_src", f"{args.prefix}_dst"
    source_url = recreate(args.server, source_name)
    target_url = recreate(args.server, target_name)
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
                out.write(renumbered(exported[n % len(exported)], n // len(exported), args.distinct_times) + b"\n")
        size = args.file.stat().st_size
        print(f"file: {args.records} records, {size / 1e9:.2f} GB, written in {time.perf_counter() - started:.1f} s")
        del exported

        target = fresh(target_url)
        calendar_for = calendars(target)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        load_before = os.getloadavg()
        with Session(for_writes(target)) as session, args.file.open("rb") as stream:
            backend = session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            server = backend_cpu(backend)
            children = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = time.process_time()
            started = time.perf_counter()
            result = import_history(session, stream, file_name=args.file.name, actor="bench",
                                    calendar_for=calendar_for, chunk_size=args.chunk, readers=args.readers)  # fmt: skip
            session.commit()
            seconds = time.perf_counter() - started
            cpu = time.process_time() - cpu
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            readers = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
            server = backend_cpu(backend) - server if server is not None else None
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        reader_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        n = result.written
        total = cpu + readers + (server or 0)
        print(result.summary())
        print(f"import: {seconds:.1f} s wall, {n / seconds:,.0f} records/s; CPU: importer {cpu:.1f} s, its readers "
              f"{readers:.1f} s, its PostgreSQL backend {'?' if server is None else f'{server:.1f}'} s: "
              f"{1e6 * total / n:.0f} µs of CPU a record ({n / total:,.0f} records per CPU second); peak RSS "
              f"{rss / 1024:.0f} MiB (before the import {rss_before / 1024:.0f} MiB; a reader "
              f"{reader_rss / 1024:.0f} MiB), chunk {args.chunk}; "
              f"load average before {' '.join(f'{x:.1f}' for x in load_before)}, after "
              f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")  # fmt: skip
        with source.connect() as a, target.connect() as b:
            ours = a.execute(text(f"SELECT {COMPARED} FROM dossier ORDER BY code")).all()
            theirs = b.execute(text(f"SELECT {COMPARED} FROM dossier WHERE code = ANY(:codes) ORDER BY code"),
                               {"codes": [row[0] for row in ours]}).all()  # fmt: skip
            codes = {"codes": [row[0] for row in ours]}
            facts, query_facts = [], [f"SELECT {FACTS[0]} FROM dossier", FACTS[1], FACTS[2]]
            for query, order in zip(query_facts, ("code", "d.code, c.seq", "d.code, f.seq"), strict=True):
                where = " WHERE code = ANY(:codes)" if order == "code" else " WHERE d.code = ANY(:codes)"
                facts.append((a.execute(text(f"{query} ORDER BY {order}")).all(),
                              b.execute(text(f"{query}{where} ORDER BY {order}"), codes).all()))  # fmt: skip
            counts = {t: b.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                      for t in ("dossier", "dossier_event", "stage", "dossier_component", "dossier_fee",
                                "imported_dossier")}  # fmt: skip
        # procedure ids are the catalogue's, loaded the same way in both databases
        same = ours == theirs and all(x == y for x, y in facts)
        print(f"round trip of the first copy: {'identical' if same else 'DIFFERENT'} ({len(ours)} dossiers, "
              f"{len(facts[1][0])} components, {len(facts[2][0])} fee lines); rows: {counts}")
        source.dispose()
        target.dispose()
    finally:
        if not args.keep:
            drop(args.server, source_name)
            drop(args.server, target_name)
            args.file.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
