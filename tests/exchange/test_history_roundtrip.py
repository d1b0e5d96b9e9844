"""The round trip: every dossier of a generated city exported as its national record (to_record) and imported into an
empty database gives the same period reports, queues and 766 scores."""

import io
from datetime import UTC, datetime

import orjson
import pandas as pd
import pytest
from sqlalchemy import select, text
from sqlmodel import Session

from dossiers.models import Dossier
from exchange.history import import_history
from exchange.service import record_of
from procedures.service import agency_tree
from seed.generator import generate
from sla.core.rates import ParScoring
from sla.queues import QueueFilter, due_soon, overdue
from sla.reports import Period, period_report
from sla.scores import agency_scores
from tests.conftest import _postgres_database
from tests.seed.test_generator import calendars, fresh_engine

NOW = datetime(2025, 10, 15, 3, tzinfo=UTC)  # mid-October: a quarter closed, many dossiers still open
DOSSIERS = 2000


def database_urls(kind: str, tmp_path_factory):
    if kind == "sqlite":
        folder = tmp_path_factory.mktemp("roundtrip")
        return iter([f"sqlite:///{folder / 'source.db'}"]), iter([f"sqlite:///{folder / 'target.db'}"])
    return _postgres_database(), _postgres_database()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def cities(request, tmp_path_factory):
    source_urls, target_urls = database_urls(request.param, tmp_path_factory)
    source, target = fresh_engine(next(source_urls)), fresh_engine(next(target_urls))
    report = generate(source, dossiers=DOSSIERS, year=2025, seed=5, calendar_for=calendars(source), now=NOW,
                      chunk_size=1000)  # fmt: skip
    assert report.dossiers == DOSSIERS
    source_calendars = calendars(source)
    with Session(source) as session:
        records = [
            orjson.dumps(record_of(session, dossier, calendar_for=source_calendars))
            for dossier in session.execute(select(Dossier).order_by(Dossier.id)).scalars()
        ]
    target_calendars = calendars(target)
    with Session(target) as session:
        imported = import_history(session, io.BytesIO(b"\n".join(records)), file_name="city.jsonl", actor="test",
                                  calendar_for=target_calendars, chunk_size=700)  # fmt: skip
        session.commit()
    assert (imported.written, imported.problems, imported.findings) == (DOSSIERS, [], 0)
    yield source, target
    source.dispose()
    target.dispose()
    for urls in (source_urls, target_urls):
        next(urls, None)


def both(cities, read):
    answers = []
    for engine in cities:
        with Session(engine) as session:
            answers.append(read(session))
    return answers


@pytest.mark.parametrize("group_by", ["agency", "procedure", "field", "channel", "month"])
@pytest.mark.parametrize("period", ["2025-Q3", "2025"])
def test_every_period_report_is_identical(cities, group_by, period):
    source, target = both(cities, lambda s: period_report(s, period=Period(*_bounds(period)), group_by=group_by))
    assert source["total"].sum() > 0 if "total" in source else True
    pd.testing.assert_frame_equal(source, target)


def test_the_766_scores_are_identical(cities):
    source, target = both(cities, lambda s: agency_scores(s, period="2025-Q3", agency=None, par=ParScoring()))
    assert source == target and len(source["agencies"]) > 5


def test_the_queues_are_identical(cities):
    def queues(session):
        tree = agency_tree(session)
        roots = sorted(a.code for a in tree.by_id.values() if a.parent_id is None)
        out = {}
        for code in roots:
            where = QueueFilter(agency=code, include_children=True)
            calendar = calendars_of(session)(code)
            late, late_total = overdue(session, where=where, calendar=calendar, now=NOW, page_size=500)
            soon, soon_total = due_soon(session, where=where, calendar=calendar, now=NOW, within_working_days=5,
                                        page_size=500)  # fmt: skip
            out[code] = (late.drop(columns=["id"], errors="ignore").to_dict("records"), late_total,
                         soon.drop(columns=["id"], errors="ignore").to_dict("records"), soon_total)  # fmt: skip
        return out

    source, target = both(cities, queues)
    assert sum(v[1] for v in source.values()) > 0 and sum(v[3] for v in source.values()) > 5  # non-empty queues
    assert source == target


def test_the_derived_columns_and_counters_are_the_sources(cities):
    columns = ("code, procedure_id, receiving_agency_id, current_agency_id, status_code, submitted_at, received_at, "
               "original_due_at, rescheduled_due_at, due_at, finished_at, outcome, paused_minutes, "
               "clock_stopped_since, resolution_working_minutes, event_count")  # fmt: skip
    source, target = both(cities, lambda s: s.execute(text(f"SELECT {columns} FROM dossier ORDER BY code")).all())
    assert source == target
    counters = both(cities, lambda s: s.execute(text("SELECT agency_id, day, last_seq FROM dossier_code_counter "
                                                     "ORDER BY 1, 2")).all())  # fmt: skip
    assert counters[0] == counters[1]


def _bounds(period: str):
    from sla.core.rates import period_bounds

    return period_bounds(period)


def calendars_of(session):
    from sla.calendars import CalendarStore
    from sla.core.calendar import DEFAULT_WORKING_HOURS

    store = CalendarStore(first_year=2025, last_year=2027, working_hours=DEFAULT_WORKING_HOURS)
    return lambda code: store.get(session, code)
