"""The Decision 766 scorecard of every unit for a year, and the nightly freeze with it (run by hand).

    nice .venv/bin/python bench/bench_scorecard.py --url postgresql+psycopg://postgres@127.0.0.1:5432/city --repeat 3

Reads a city generated before (`motcua seed catalogue`, `motcua seed generate --year 2025 --seed 1`),
migrates and (PostgreSQL) vacuums it, then times: the scorecard of every agency alone plus the city
total for the year (one grouped scan of the dossiers, the paid-online index, the catalogue), every
agency with its children, one unit's scorecard, one drill-down page, and the year's freeze (period
report + index scores + every scorecard), written as a new revision and rolled back.
"""

import argparse
import statistics
import time
from datetime import date

from sqlalchemy import func, select, text
from sqlmodel import Session

from api.calendars import calendar_store
from api.db import make_engine, upgrade
from api.settings import Settings
from dossiers.models import Dossier
from procedures.service import agency_tree
from sla import jobs, reports, scorecard
from sla.core.rates import ParScoring
from sla.models import JobRun


def timed(label: str, work, results: dict) -> object:
    started = time.perf_counter()
    value = work()
    elapsed = time.perf_counter() - started
    results.setdefault(label, []).append(elapsed)
    print(f"{label:<60} {elapsed:8.2f} s", flush=True)
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="the database of a generated city")
    parser.add_argument("--year", type=int, default=2025)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    engine = make_engine(args.url)
    upgrade(engine)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE dossier"))
    store = calendar_store(Settings())
    period = reports.Period(date(args.year, 1, 1), date(args.year, 12, 31))
    key = str(args.year)
    results: dict[str, list[float]] = {}
    with Session(engine) as session:
        dossiers = session.execute(select(func.count()).select_from(Dossier)).scalar_one()
        calendar = store.get(session, None)
        units = scorecard.every_unit(session)
        tree = agency_tree(session)
        children = [
            scorecard.unit_of(session, code, include_children=True) for code in sorted(tree.by_code)
        ]
        busiest = session.execute(
            select(Dossier.receiving_agency_id, func.count()).group_by(Dossier.receiving_agency_id).order_by(
                func.count().desc()
            ).limit(1)
        ).first()[0]
        busiest_code = next(a.code for a in tree.by_code.values() if a.id == busiest)
        print(f"{dossiers:,} dossiers, {len(units) - 1} agencies, year {args.year}, {engine.dialect.name}")
        for _ in range(args.repeat):
            cards = timed(
                "scorecard of every agency + the city, one year",
                lambda: scorecard.scorecards(session, period=period, period_key=key, units=units, calendar=calendar),
                results,
            )
            timed(
                "scorecard of every agency with its children, one year",
                lambda: scorecard.scorecards(session, period=period, period_key=key, units=children, calendar=calendar),
                results,
            )
            timed(
                f"scorecard of one unit ({busiest_code}), one year",
                lambda: scorecard.scorecard(session, period=period, period_key=key, agency=busiest_code,
                                            calendar=calendar),
                results,
            )  # fmt: skip
            timed(
                "first page of 2.1's costly dossiers (busiest unit)",
                lambda: scorecard.costly(session, indicator="2.1", period=period, agency=busiest_code,
                                         calendar=calendar),
                results,
            )  # fmt: skip

            def freeze():
                run = JobRun(job=jobs.FREEZE, period_key=key, revision=10_000, status="running")
                session.add(run)
                session.flush()
                rows = jobs.freeze_period(session, run, period_key=key, period=period, par=ParScoring(),
                                          calendar=calendar)  # fmt: skip
                session.rollback()
                return rows

            timed("year freeze: report + scores + every scorecard", freeze, results)
        city = next(c for c in cards if c["agency"] == "total")
        print(f"city total {city['total_points']:.2f} / 100; missing: {[m['id'] for m in city['missing_data']]}")
        for line in city["indicators"]:
            print(f"  {line['id']:<5} {line['formula']:<14} {line['numerator']!s:>9} / {line['denominator']!s:<9} "
                  f"points {line['points']!s:<8}")  # fmt: skip
    print("\nmedian (min–max) of", args.repeat)
    for label, values in results.items():
        print(f"{label:<60} {statistics.median(values):6.2f} s ({min(values):.2f}–{max(values):.2f})")


if __name__ == "__main__":
    main()
