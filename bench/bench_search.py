"""Staff search over a generated city (run by hand, not by CI).

    PYTHONPATH=. .venv/bin/python bench/bench_search.py --url postgresql+psycopg://postgres@127.0.0.1:5432/motcua_city11m
    PYTHONPATH=. .venv/bin/python bench/bench_search.py --url sqlite:////tmp/demo.db --calls 20

Reads a city generated before (`motcua seed generate`) and migrated to head (the search's indexes: migrations
0019 and 0023); writes nothing. Times the first page (20 dossiers, newest first, with the capped total) of each kind of
search as `GET /api/v1/dossiers` asks it (`dossiers.search.search` within a user's scope), each with its own
values drawn from the city: an agency's newest (the scope of the busiest agency's staff: it and the agencies
under it), an applicant's name (accents dropped, words shuffled, mixed case), two words of it (family and given
name, city-wide and in the scope; the last two), its given name alone, a phone's first 7 digits, an exact code
(lower-cased), an identity number, and a month's received-date range with a status. Prints p50 and p95 per
kind, in milliseconds, after one warm-up call per kind.
"""

import argparse
import random
import statistics
import time
from datetime import timedelta

from sqlalchemy import func, select, text
from sqlmodel import Session

from api.db import make_engine
from dossiers import search
from dossiers.models import Dossier
from procedures.service import agency_tree
from sla.core.calendar import LOCAL_TZ


def samples(session: Session, count: int, rng: random.Random) -> list[Dossier]:
    """`count` dossiers spread over the table, found by id (no full scan)."""
    low, high = session.execute(select(func.min(Dossier.id), func.max(Dossier.id))).one()
    found: list[Dossier] = []
    while len(found) < count:
        dossier = session.get(Dossier, rng.randint(low, high))
        if dossier is not None and dossier.applicant_phone and dossier.applicant_id_number:
            found.append(dossier)
        session.expunge_all()
    return found


def shuffled_name(name: str, rng: random.Random) -> str:
    from unidecode import unidecode

    words = name.split()
    rng.shuffle(words)
    words = [unidecode(w) if rng.random() < 0.5 else w for w in words]
    return " ".join(w.upper() if rng.random() < 0.3 else w.lower() for w in words)


def _family_and_given(name: str) -> str:
    words = name.split()
    return f"{words[0]} {words[-1]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="the city's database URL")
    parser.add_argument("--calls", type=int, default=50, help="calls per kind of search (distinct values)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip", action="append", default=[], help="leave out the kinds whose label has this text")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    engine = make_engine(args.url)
    with Session(engine) as session:
        dossier_count = session.execute(text("SELECT count(*) FROM dossier")).scalar_one() if "sqlite" in args.url \
            else session.execute(text("SELECT reltuples::bigint FROM pg_class WHERE relname = 'dossier'")).scalar_one()
        tree = agency_tree(session)
        busiest = session.execute(
            select(Dossier.receiving_agency_id)
            .where(Dossier.id > select(func.max(Dossier.id)).scalar_subquery() - 20000)
            .group_by(Dossier.receiving_agency_id).order_by(func.count().desc()).limit(1)
        ).scalar_one()
        scope = tree.subtree_ids(tree.by_id[busiest].code)
        picked = samples(session, args.calls, rng)
        latest = session.execute(select(func.max(Dossier.received_at))).scalar_one().astimezone(LOCAL_TZ)
    print(f"{dossier_count:,} dossiers; scope: {tree.by_id[busiest].code} and {len(scope) - 1} agencies under it")

    def month_and_status(i: int) -> dict:
        start = (latest.replace(day=1, hour=0, minute=0, second=0, microsecond=0) - timedelta(days=31 * (i % 12)))
        start = start.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
        return {"received_from": start, "received_to": end, "status": (9, 4, 2, 5)[i % 4]}

    kinds = {
        "agency's newest": lambda i, d: {"within": scope, "page": 1 + i % 3},
        "name (within the scope)": lambda i, d: {"within": scope, "q": shuffled_name(d.applicant_name, rng)},
        "name (whole city)": lambda i, d: {"q": shuffled_name(d.applicant_name, rng)},
        "family + given (whole city)": lambda i, d: {"q": shuffled_name(_family_and_given(d.applicant_name), rng)},
        "family + given (scope)": lambda i, d: {
            "within": scope, "q": shuffled_name(_family_and_given(d.applicant_name), rng)
        },
        "given name alone (whole city)": lambda i, d: {"q": shuffled_name(d.applicant_name.split()[-1], rng)},
        "middle + given (whole city)": lambda i, d: {"q": shuffled_name(" ".join(d.applicant_name.split()[-2:]), rng)},
        "phone, first 7 digits": lambda i, d: {"within": None, "q": d.applicant_phone[:7]},
        "exact code (lower case)": lambda i, d: {"within": None, "q": d.code.lower()},
        "identity number": lambda i, d: {"within": None, "q": d.applicant_id_number},
        "month + status (scope)": lambda i, d: {"within": scope, **month_and_status(i)},
    }
    print(f"{'first page of':<30} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  found (median total)")
    for label, ask in kinds.items():
        if any(text in label for text in args.skip):
            continue
        times, totals = [], []
        with Session(engine) as session:
            search.search(session, **ask(0, picked[0]))  # warm-up: the agency tree, the plan
            for i, dossier in enumerate(picked):
                filters = ask(i, dossier)
                started = time.perf_counter()
                found = search.search(session, **filters)
                times.append((time.perf_counter() - started) * 1000)
                totals.append(found.total + (1 if found.capped else 0))
                if "code" in label or "identity" in label:
                    assert any(item.code == dossier.code for item in found.items), (label, filters)
                session.expunge_all()
        times.sort()
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        total = statistics.median(totals)
        shown = "more than 10,000" if total > search.SEARCH_TOTAL_CAP else f"{total:,.0f}"
        print(f"{label:<30} {statistics.median(times):8.1f} {p95:8.1f} {times[-1]:8.1f}  {shown}", flush=True)


if __name__ == "__main__":
    main()
