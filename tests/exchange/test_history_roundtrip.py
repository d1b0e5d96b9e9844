"""The round trip: every dossier of a generated city exported as its national record (to_record) and imported into an
empty database gives the same period reports, queues and 766 scores, the same Decision 766 facts (fee lines and how
they were paid, component flags, VNeID, the population database link, electronic results), and counts as synced."""

import io
from datetime import UTC, datetime

import orjson
import pandas as pd
import pytest
from sqlalchemy import select, text
from sqlmodel import Session

from dossiers import events as dossier_events
from dossiers import intake
from dossiers.models import Dossier
from dossiers.schemas import ApplicantIn, DossierCreate, EventCreate, FeeIn, ReceivedComponent
from exchange.history import import_history
from exchange.record import from_record, plain_of, read_plain
from exchange.service import record_of
from exchange.status import sync_figures, sync_status
from procedures.service import agency_tree
from seed.generator import generate
from sla.core import index766
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
        DESK_CODES[request.param] = at_the_desk(session, source_calendars)
        session.commit()
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
    assert (imported.written, imported.problems, imported.findings) == (DOSSIERS + len(DESK), [], 0)
    EXPORTED[request.param] = records
    yield source, target
    source.dispose()
    target.dispose()
    for urls in (source_urls, target_urls):
        next(urls, None)


WARD, ONLINE_PROCEDURE = "000.01.01.H26", "1.004222"  # permanent residence at a ward: two listed components
DESK = [
    # online, VNeID verified, looked up in the population database, a digitised document and one from the citizen's
    # store, a fee paid through the national platform and one still unpaid; resolved with an electronic result
    ({"channel": "online", "vneid_verified": True, "population_ref": "DC-001190012345",
      "components": [ReceivedComponent(seq=1, digitised=True, from_citizen_store=True),
                     ReceivedComponent(seq=2, digitised=False, reused=None, from_national_db=True)],
      "fees": [FeeIn(name="Lệ phí", amount_vnd=20000, payment_channel="dvcqg", paid_at="2025-07-08T08:55"),
               FeeIn(name="Phí", amount_vnd=15000)]},
     [{"type": "resolved", "at": "2025-07-10T10:00", "electronic_result": True},
      {"type": "result_returned", "at": "2025-07-11T09:00"}]),
    # online, not verified; paid in cash at the desk; flags not recorded; open
    ({"channel": "online", "vneid_verified": False, "components": [ReceivedComponent(seq=1)],
      "fees": [FeeIn(name="Lệ phí", amount_vnd=20000, payment_channel="cash", paid_at="2025-07-08T09:05")]}, []),
    # at the counter, a paper result recorded as such
    ({"components": [ReceivedComponent(seq=2, reused=True)]},
     [{"type": "resolved", "at": "2025-07-09T15:00", "electronic_result": False}]),
]  # fmt: skip
"""Dossiers written through the desk (intake and events), with facts the generator draws too, and unpaid and
unrecorded ones."""


def at_the_desk(session, calendar_for) -> set[str]:
    codes = set()
    for fields, events in DESK:
        data = DossierCreate(procedure_code=ONLINE_PROCEDURE, agency_code=WARD, received_at="2025-07-08T09:00",
                             applicant=ApplicantIn(name="Lê Thị Hoa", phone="0912000222"), **fields)  # fmt: skip
        code = intake.receive(session, data=data, actor="clerk", calendar_for=calendar_for, now=NOW,
                              rules=intake.HISTORY).dossier.code  # fmt: skip
        codes.add(code)
        for event in events:
            dossier_events.record(session, code=code, data=EventCreate(**event), actor="clerk",
                                 calendar_for=calendar_for, now=NOW, rules=intake.HISTORY)  # fmt: skip
    return codes


EXPORTED: dict[str, list[bytes]] = {}
DESK_CODES: dict[str, set[str]] = {}


def test_the_bulk_reader_reads_every_exported_record_of_the_city_as_from_record_does(cities):
    """read_plain, the import's twin of from_record, on every record of a generated city (tests/exchange/
    test_record.py tries it on odd ones): the same reading, and it takes them all."""
    for records in EXPORTED.values():
        for line in records:
            record = orjson.loads(line)
            assert read_plain(record) == plain_of(from_record(record)), record["MaHoSo"]


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


FACTS = "electronic_result, vneid_verified, population_ref"
def test_the_766_facts_travel_fee_lines_component_flags_vneid_population_and_electronic_results(cities):
    def facts(session):
        dossiers = session.execute(text(f"SELECT code, {FACTS}, index_flags FROM dossier ORDER BY code")).all()
        fees = session.execute(text(
            "SELECT d.code, f.seq, f.name, f.amount_vnd, f.payment_channel, f.paid_at FROM dossier_fee f "
            "JOIN dossier d ON d.id = f.dossier_id ORDER BY d.code, f.seq"
        )).all()  # fmt: skip
        components = session.execute(text(
            "SELECT d.code, c.seq, c.component_seq, c.name, c.form, c.copies, c.digitised, c.reused, "
            "c.from_citizen_store, c.from_national_db FROM dossier_component c JOIN dossier d ON d.id = c.dossier_id "
            "ORDER BY d.code, c.seq"
        )).all()  # fmt: skip
        return dossiers, fees, components

    (source, source_fees, source_parts), (target, target_fees, target_parts) = both(cities, facts)
    assert source_fees == target_fees and len(source_fees) > 100
    assert source_parts == target_parts and len(source_parts) > DOSSIERS
    desk = set().union(*DESK_CODES.values()) & {row.code for row in source}
    assert len(desk) == len(DESK)
    generated = {row.code for row in source_fees} - desk
    assert len(generated) > 100
    assert {row.payment_channel for row in source_fees if row.code in generated} >= {"dvcqg", "gateway", "cash", "bank"}
    assert {(p.digitised, p.from_citizen_store, p.reused) for p in target_parts} >= {(True, True, None)}
    assert [row[:4] for row in source] == [row[:4] for row in target]
    assert sum(row.vneid_verified is not None for row in target) > 10 and sum(bool(row[3]) for row in target) > 10
    for ours, theirs in zip(source, target, strict=True):  # every bit, the result kind's too (the seed says it)
        assert ours.index_flags == theirs.index_flags, ours.code
    assert sum(bool(row.index_flags & index766.COMPONENT_BITS) for row in target) > DOSSIERS / 2
    assert sum(bool(row.index_flags & index766.PAID_ONLINE) for row in target) > 10
    paid = [row for row in target if row.code in desk and row.index_flags & index766.PAID_ONLINE]
    assert len(paid) == 1 and paid[0].vneid_verified and paid[0].electronic_result  # (SQLite: 1)


def test_imported_dossiers_count_as_synced_with_the_import_as_evidence(cities):
    _, target = cities
    period = Period(*_bounds("2025-Q3"))
    with Session(target) as session:
        status = sync_status(session, period=period)
        assert status.received > 100 and status.synced == status.received and status.pending == 0
        assert status.last_synced_at is None  # the gateway has accepted nothing yet
        # 1.4 stays missing data until motcua's own sync has had a dossier accepted
        assert sync_figures(session, None, period.start, period.end) is None
        evidence = session.execute(text("SELECT count(*), count(DISTINCT import_id) FROM exchange_dossier_sync "
                                        "WHERE state = 'synced' AND import_id IS NOT NULL")).one()  # fmt: skip
        assert tuple(evidence) == (DOSSIERS + len(DESK), 1)
