"""Synthetic city: time and peak memory of `seed.generator.generate` into a fresh database.

    .venv/bin/python bench/bench_generate.py --dossiers 1000000 --database postgresql
    .venv/bin/python bench/bench_generate.py --dossiers 100000 --database sqlite

PostgreSQL: a database `motcua_bench_gen_<random>` is created on MOTCUA_TEST_POSTGRES_URL's server
(default the local one) and dropped afterwards unless --keep. SQLite: a file in a temporary
directory (or --sqlite-path). Peak memory is the process's maximum resident set size. CPU: the generator's
process (user + system) and, on PostgreSQL, its server backends (read from /proc: the server runs on this
machine; the machine is shared, so CPU says more than wall time).
"""

import argparse
import os
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlmodel import Session  # noqa: E402
from tqdm import tqdm  # noqa: E402

from api.db import make_engine, upgrade  # noqa: E402
from dossiers.models import Dossier  # noqa: E402
from seed.generator import generate  # noqa: E402
from seed.loader import load_catalogue  # noqa: E402

POSTGRES_URL = os.environ.get("MOTCUA_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dossiers", type=int, default=100_000)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--year", type=int, default=2025)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--chunk-size", type=int, default=100_000)
    parser.add_argument("--sqlite-path", type=Path)
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    parser.add_argument("--name", help="the PostgreSQL database's name (default motcua_bench_gen_<random>)")
    args = parser.parse_args()

    admin = None
    if args.database == "sqlite":
        path = args.sqlite_path or Path(tempfile.mkdtemp()) / "city.db"
        url = f"sqlite:///{path}"
    else:
        admin = create_engine(make_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
        name = args.name or f"motcua_bench_gen_{uuid.uuid4().hex[:8]}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    try:
        engine = make_engine(url)
        upgrade(engine)
        with Session(engine) as session:
            load_catalogue(session)
            session.commit()
        backends = _backends(engine)
        started, cpu = time.perf_counter(), time.process_time()
        with tqdm(total=args.dossiers, unit="dossier", disable=None) as bar:
            report = generate(
                engine,
                dossiers=args.dossiers,
                year=args.year,
                seed=args.seed,
                chunk_size=args.chunk_size,
                progress=bar.update,
            )
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        server = sum(seconds_ - backends.get(pid, 0.0) for pid, seconds_ in _backends(engine).items())
        with Session(engine) as session:
            stored = session.execute(select(func.count()).select_from(Dossier)).scalar_one()
        size = ""
        if args.database == "sqlite":
            size = f", database file {Path(url.removeprefix('sqlite:///')).stat().st_size / 2**30:.2f} GiB"
        else:
            with engine.connect() as connection:
                size_bytes = connection.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
            size = f", database {size_bytes / 2**30:.2f} GiB"
        engine.dispose()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rows = report.dossiers + report.events + report.stages + report.components + report.fees
        print(report.summary())
        print(
            f"{args.database}: {stored} dossiers stored; {seconds:.1f} s wall, "
            f"{report.dossiers / seconds:,.0f} dossiers/s, {rows:,} rows (dossiers, events, stages, "
            f"components, fee lines); "
            f"peak RSS {peak:,.0f} MiB{size}; CPU {cpu:.1f} s (generator)"
            + (f" + {server:.1f} s (its PostgreSQL backends)" if args.database == "postgresql" else "")
            + f"; load average {os.getloadavg()[0]:.1f}"
        )
    finally:
        if admin is not None:
            if not args.keep:
                with admin.connect() as connection:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def _backends(engine) -> dict[int, float]:
    """CPU seconds (user + system) of the server processes connected to the engine's PostgreSQL database (the
    engine's pool keeps them across the run), by pid; empty on SQLite or when /proc cannot be read."""
    if engine.dialect.name != "postgresql":
        return {}
    with engine.connect() as connection:
        pids = connection.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        ).scalars().all()
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


if __name__ == "__main__":
    main()
