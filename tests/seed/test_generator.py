"""The synthetic city: deterministic, identical to the engine's replay, numbered like real intakes, realistic."""

import re
import shutil
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import func, select, text
from sqlmodel import Session

from api.db import make_engine, upgrade
from dossiers import derive, rebuild
from dossiers import intake as dossier_intake
from dossiers.models import Dossier, DossierCodeCounter, DossierEvent, Stage
from dossiers.schemas import ApplicantIn, DossierCreate
from procedures.models import Agency
from seed.generator import generate
from seed.generator.check import DOSSIER_COLUMNS, STAGE_COLUMNS, mismatches
from seed.generator.scenario import GroupInput, StepPlan, simulate
from seed.loader import load_catalogue
from sla.calendars import CalendarStore
from sla.core.batch import NONE, CalendarOps
from sla.core.calendar import DEFAULT_WORKING_HOURS, LOCAL_TZ, WorkingCalendar
from sla.core.lifecycle import EVENT_TYPES
from sla.core.replay import Event, ProcedureRule, StepRule, replay
from tests.conftest import _postgres_database

YEAR = 2025
DOSSIERS = 1500
LAND_OFFICE = "000.00.08.H26"  # land registration: a chain with the tax office's excluded step


def fresh_engine(url: str):
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as session:
        load_catalogue(session)
        session.commit()
    return engine


def calendars(engine):
    """The service's calendars; a short session per call, so that no transaction stays open."""
    store = CalendarStore(first_year=YEAR, last_year=YEAR + 2, working_hours=DEFAULT_WORKING_HOURS)

    def calendar_for(code: str):
        with Session(engine) as session:
            return store.get(session, code)

    return calendar_for


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def city(request, tmp_path_factory):
    """A fresh database per module and kind, with a small generated city."""
    if request.param == "sqlite":
        urls = iter([f"sqlite:///{tmp_path_factory.mktemp('city') / 'city.db'}"])
    else:
        urls = _postgres_database()
    url = next(urls)
    engine = fresh_engine(url)
    calendar_for = calendars(engine)
    report = generate(engine, dossiers=DOSSIERS, year=YEAR, seed=11, calendar_for=calendar_for, chunk_size=800)
    yield engine, calendar_for, report
    engine.dispose()
    next(urls, None)  # drops the PostgreSQL database


def rows(engine, table: str) -> list[tuple]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(f"SELECT * FROM {table} ORDER BY 1, 2"))]


DERIVED_AT = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)


def test_the_same_seed_writes_the_same_rows_and_another_seed_other_rows(tmp_path):
    tables = ("dossier", "dossier_event", "stage", "dossier_code_counter")
    template = fresh_engine(f"sqlite:///{tmp_path / 'template.db'}")
    with template.begin() as connection:  # each database draws its own calendar stamp: pin it
        connection.execute(text("UPDATE calendar_state SET version = 'pinned'"))
    template.dispose()

    def city_rows(name: str, seed: int) -> dict[str, list[tuple]]:
        shutil.copy(tmp_path / "template.db", tmp_path / name)
        engine = make_engine(f"sqlite:///{tmp_path / name}")
        generate(engine, dossiers=300, year=YEAR, seed=seed, chunk_size=200, derived_at=DERIVED_AT)  # own calendars
        result = {table: rows(engine, table) for table in tables}
        engine.dispose()
        return result

    first, again, other = city_rows("a.db", 5), city_rows("b.db", 5), city_rows("c.db", 6)
    assert len(first["dossier"]) == 300 and first["dossier_event"] and first["stage"]
    assert first == again
    assert first["dossier"] != other["dossier"]


def test_every_derived_column_and_stage_is_what_the_replay_gives(city):
    engine, calendar_for, report = city
    assert report.dossiers == DOSSIERS and report.checked > 0
    with Session(engine) as session:
        codes = dict(session.execute(select(Agency.id, Agency.code)).all())
        ids = [i for (i,) in session.execute(select(Dossier.id).order_by(func.random()).limit(300))]
        dossiers = list(session.execute(select(Dossier).where(Dossier.id.in_(ids))).scalars())
        events, stages = {i: [] for i in ids}, {i: [] for i in ids}
        for event in session.execute(
            select(DossierEvent).where(DossierEvent.dossier_id.in_(ids)).order_by(DossierEvent.seq)
        ).scalars():
            events[event.dossier_id].append(event)
        for stage in session.execute(select(Stage).where(Stage.dossier_id.in_(ids))).scalars():
            stages[stage.dossier_id].append(stage)
        rules = {}
        problems = []
        for dossier in dossiers:
            rule = rules.get(dossier.procedure_id) or rules.setdefault(
                dossier.procedure_id, derive.rule_of(session, dossier.procedure_id)
            )
            calendar = calendar_for(codes[dossier.receiving_agency_id])
            problems += mismatches(dossier, events[dossier.id], stages[dossier.id], calendar, rule=rule, codes=codes)
        assert problems == []
        assert [e.seq for e in events[ids[0]]] == list(range(1, len(events[ids[0]]) + 1))


def test_a_rebuild_through_the_service_changes_nothing(city):
    """`motcua dossiers rebuild --refreeze` re-derives with the service's own writer: same columns, same stages."""
    engine, calendar_for, _ = city

    def snapshot(session, agency_ids):
        dossiers = session.execute(
            select(*(getattr(Dossier, c) for c in ("id", *DOSSIER_COLUMNS))).where(
                Dossier.receiving_agency_id.in_(agency_ids)
            )
        ).all()
        stages = session.execute(
            select(Stage.dossier_id, *(getattr(Stage, c) for c in STAGE_COLUMNS))
            .join(Dossier, Dossier.id == Stage.dossier_id)
            .where(Dossier.receiving_agency_id.in_(agency_ids))
            .order_by(Stage.dossier_id, Stage.seq)
        ).all()
        return sorted(map(tuple, dossiers)), [tuple(s) for s in stages]

    with Session(engine) as session:
        smallest = session.execute(  # a commune: chains with parallel branches; the land office: excluded steps
            select(Agency.code)
            .join(Dossier, Dossier.receiving_agency_id == Agency.id)
            .where(Agency.level == "commune")
            .group_by(Agency.code)
            .order_by(func.count(), Agency.code)
            .limit(1)
        ).scalar_one()
        agency_codes = (smallest, LAND_OFFICE)
        agency_ids = [session.execute(select(Agency.id).where(Agency.code == c)).scalar_one() for c in agency_codes]
        before = snapshot(session, agency_ids)
        assert len(before[0]) > 30 and len(before[1]) > len(before[0])
        for code in agency_codes:
            rebuild.rebuild(session, calendar_for=calendar_for, agency=code, refreeze=True)
        session.flush()
        session.expire_all()
        after = snapshot(session, agency_ids)
        session.rollback()
    assert after == before


def test_codes_are_unique_per_agency_and_day_and_real_intakes_continue_them(city):
    engine, calendar_for, report = city
    with Session(engine) as session:
        pairs = session.execute(
            select(Dossier.code, Agency.code).join(Agency, Agency.id == Dossier.receiving_agency_id)
        ).all()
        assert len({code for code, _ in pairs}) == len(pairs) == DOSSIERS
        sequences = Counter()
        for code, agency in pairs:
            match = re.fullmatch(rf"{re.escape(agency)}-(\d{{6}})-(\d{{4,}})", code)
            assert match, code
            sequences[(agency, match[1])] = max(sequences[(agency, match[1])], int(match[2]))
        counters = {
            (agency, day.strftime("%y%m%d")): last
            for agency, day, last in session.execute(
                select(Agency.code, DossierCodeCounter.day, DossierCodeCounter.last_seq).join(
                    Agency, Agency.id == DossierCodeCounter.agency_id
                )
            )
        }
        assert counters == dict(sequences) and report.counters == len(counters)

        (agency, day), last = max(sequences.items(), key=lambda item: item[1])
        max_ids = {m: session.execute(select(func.max(m.id))).scalar_one() for m in (Dossier, DossierEvent, Stage)}
        received_at = datetime.strptime(day, "%y%m%d").replace(hour=10, tzinfo=LOCAL_TZ)
        dossier = dossier_intake.receive(
            session,
            data=DossierCreate(
                procedure_code="1.004222",
                agency_code=agency,
                received_at=received_at,
                applicant=ApplicantIn(name="Trần Văn An"),
            ),
            actor="test",
            calendar_for=calendar_for,
            now=datetime.now(UTC),
            rules=dossier_intake.HISTORY,
        ).dossier
        assert dossier.code == f"{agency}-{day}-{last + 1:04d}"
        # ids continue after the generated ones (sequences on PostgreSQL; earlier rolled-back tests may use some)
        event = session.execute(select(DossierEvent).where(DossierEvent.dossier_id == dossier.id)).scalar_one()
        stage = session.execute(select(Stage).where(Stage.dossier_id == dossier.id)).scalar_one()
        assert dossier.id > max_ids[Dossier] and event.id > max_ids[DossierEvent] and stage.id > max_ids[Stage]
        session.rollback()


def test_the_year_looks_like_a_city(city):
    engine, _, report = city
    with Session(engine) as session:
        dossiers = session.execute(
            select(
                Dossier.status_code, Dossier.outcome, Dossier.channel, Dossier.received_at, Dossier.submitted_at,
                Dossier.finished_at, Dossier.due_at, Dossier.supplement_count, Dossier.rescheduled_due_at,
            )
        ).all()  # fmt: skip
        late_stages = session.execute(select(func.count()).where(Stage.outcome == "late")).scalar_one()
        forwards = session.execute(select(func.count()).where(DossierEvent.type == "forwarded")).scalar_one()
    end = datetime(YEAR + 1, 1, 1, tzinfo=LOCAL_TZ)
    intake = [(d.submitted_at or d.received_at).astimezone(LOCAL_TZ).date() for d in dossiers]
    assert all(date(YEAR, 1, 1) <= day <= date(YEAR, 12, 31) for day in intake)
    for d in dossiers:
        for instant in (d.received_at, d.submitted_at, d.finished_at):
            assert instant is None or instant < end  # nothing in the future

    # Tết 2025 (27–31/01) and the slow weeks after it against the year's average
    per_day = len(intake) / 365
    tet = sum(date(YEAR, 1, 25) <= day <= date(YEAR, 2, 14) for day in intake) / 21
    assert tet < 0.7 * per_day

    outcomes = Counter(d.outcome for d in dossiers)
    resolved = outcomes["early"] + outcomes["on_time"] + outcomes["late"]
    assert 0.02 <= outcomes["late"] / resolved <= 0.10
    assert outcomes["early"] > 0 and outcomes["on_time"] > 0
    refused = [d for d in dossiers if d.outcome == "refused"]
    assert refused and all(d.status_code == 3 for d in refused)
    assert outcomes["withdrawn"] > 0

    still_open = [d for d in dossiers if d.finished_at is None and d.status_code != 3]
    assert 0 < len(still_open) < 0.1 * len(dossiers)
    assert any(d.due_at is not None and d.due_at < end - timedelta(days=1) for d in still_open)  # overdue ones

    channels = Counter(d.channel for d in dossiers)
    assert 0.1 < channels["online"] / len(dossiers) < 0.5 and channels["post"] > 0
    assert sum(d.supplement_count > 0 for d in dossiers) > 0
    assert late_stages > outcomes["late"] * 0.5 and forwards > 0
    assert report.late_share == pytest.approx(outcomes["late"] / resolved)


WINDOW_NOW = datetime(2026, 6, 9, 14, 37, tzinfo=LOCAL_TZ)  # a Tuesday afternoon


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_city(request, tmp_path):
    urls = iter([f"sqlite:///{tmp_path / 'window.db'}"]) if request.param == "sqlite" else _postgres_database()
    engine = fresh_engine(next(urls))
    yield engine
    engine.dispose()
    next(urls, None)


def test_a_window_of_months_runs_up_to_now_with_open_dossiers_and_nothing_after(empty_city):
    engine = empty_city
    store = CalendarStore(first_year=2025, last_year=2028, working_hours=DEFAULT_WORKING_HOURS)

    def calendar_for(code: str):
        with Session(engine) as session:
            return store.get(session, code)

    report = generate(engine, dossiers=3000, months=12, now=WINDOW_NOW, seed=2, calendar_for=calendar_for)
    assert report.year is None and report.first_day == date(2025, 6, 9) and report.last_day == date(2026, 6, 9)
    assert "09/06/2025 to 09/06/2026 14:37" in report.summary()
    assert 2900 <= report.dossiers <= 3000 and report.checked > 0  # today's after 14:37 are not there
    now = WINDOW_NOW.astimezone(UTC)
    with Session(engine) as session:
        dossiers = list(session.execute(select(Dossier)).scalars())
        latest = session.execute(select(func.max(DossierEvent.at))).scalar_one()
    assert len(dossiers) == report.dossiers
    assert aware(latest) <= now
    received = [aware(d.received_at or d.submitted_at) for d in dossiers]
    assert min(received) >= datetime(2025, 6, 9, tzinfo=LOCAL_TZ)
    today = [at for at in received if at.astimezone(LOCAL_TZ).date() == date(2026, 6, 9)]
    assert today and max(today) <= now
    recent = [d for d, at in zip(dossiers, received, strict=True) if at > now - timedelta(days=3)]
    assert sum(d.finished_at is None for d in recent) > len(recent) / 2  # the last days' dossiers are running
    open_ = [d for d in dossiers if d.finished_at is None and d.clock_start_at is not None]
    assert any(aware(d.due_at) < now for d in open_) and any(aware(d.due_at) >= now for d in open_)
    assert any(aware(d.finished_at) > now - timedelta(days=7) for d in dossiers if d.finished_at)
    with pytest.raises(ValueError, match="either a year or a number of months"):
        generate(engine, dossiers=10, year=2025, months=12, calendar_for=calendar_for)
    with pytest.raises(ValueError, match="months must be from 1 to 60"):
        generate(engine, dossiers=10, months=0, calendar_for=calendar_for)


def aware(instant: datetime) -> datetime:
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


GENERATED = "('dossier', 'dossier_event', 'stage', 'dossier_component', 'dossier_fee')"


def schema_of(engine) -> list[tuple]:
    """Indexes and foreign keys of the generated tables, as the database describes them."""
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            query = (
                f"SELECT indexdef FROM pg_indexes WHERE tablename IN {GENERATED} UNION ALL "
                "SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'f' "
                f"AND conrelid::regclass::text IN {GENERATED} ORDER BY 1"
            )
        else:
            query = (
                "SELECT name || ' ' || coalesce(sql, '') FROM sqlite_master WHERE type = 'index' "
                f"AND tbl_name IN {GENERATED} ORDER BY 1"
            )
        return [tuple(row) for row in connection.execute(text(query))]


def test_a_large_load_sets_indexes_aside_and_puts_them_back(city):
    """Runs last in the module: a second run over the same year, whose codes continue the first's."""
    engine, calendar_for, _ = city
    before = schema_of(engine)
    report = generate(engine, dossiers=200, year=YEAR, seed=3, calendar_for=calendar_for, set_aside_indexes=True)
    assert report.dossiers == 200 and report.checked > 0
    assert schema_of(engine) == before  # the unique code index was rebuilt: no code was given twice
    with Session(engine) as session:
        total = session.execute(select(func.count()).select_from(Dossier)).scalar_one()
        last = session.execute(select(func.sum(DossierCodeCounter.last_seq))).scalar_one()
    assert total == last == DOSSIERS + 200



def test_no_result_is_returned_away_from_its_desk(city):
    """The seed catalogue's chains end at the receiving agency (their last step is the desk's): a generated result
    is returned where the dossier was received, never at another agency."""
    engine, _, _ = city
    with Session(engine) as session:
        returned_away = session.execute(
            select(func.count()).where(
                Dossier.status_code == 10, Dossier.current_agency_id != Dossier.receiving_agency_id
            )
        ).scalar_one()
    assert returned_away == 0


def test_results_resolved_away_travel_back_to_the_desk():
    """A chain whose last step is at another agency: its resolved results are sent back to the desk
    (result_sent_to_desk) before they are returned, and the lives are what the replay derives from their events."""
    calendar = WorkingCalendar(first_year=YEAR, last_year=YEAR + 1)
    ops = CalendarOps(calendar)
    steps = (
        StepRule(1, "Tiếp nhận", None, None, 1, "working_days"),
        StepRule(2, "Thẩm định", "X", None, 8, "working_days"),
    )
    rule = ProcedureRule(10, "working_days", steps=steps)
    n = 400
    rng = np.random.default_rng(5)
    receiving = np.where(rng.random(n) < 0.5, 1, 2).astype(np.int32)
    start = np.datetime64("2025-02-03T02:00").astype("datetime64[m]").view(np.int64)
    group = GroupInput(
        rule=rule,
        steps=[StepPlan(0, rule.steps[0], receiving.copy()), StepPlan(1, rule.steps[1], np.full(n, 3, dtype=np.int32))],
        field_code="G01",
        level="commune",
        has_fee=False,
        receiving=receiving,
        channel=np.full(n, 1, dtype=np.int8),
        intake_at=start + rng.integers(0, 200 * 1440, n),
    )
    out = simulate(ops, group, rng, now=int(start + 230 * 1440))
    codes = {1: "R1", 2: "R2", 3: "X"}
    ev = out.events
    types = [EVENT_TYPES[t] for t in ev["type"].tolist()]
    sent = [k for k, t in enumerate(types) if t == "result_sent_to_desk"]
    assert len(sent) > 50
    assert all(ev["source"][k] == ev["agency"][k] == 3 and ev["target"][k] == receiving[ev["row"][k]] for k in sent)
    returned = np.flatnonzero(out.result.status == 10)
    assert returned.size and (out.result.holder[returned] == receiving[returned]).all()
    def instant(minutes) -> datetime | None:
        return None if minutes == NONE else datetime(1970, 1, 1, tzinfo=UTC) + timedelta(minutes=int(minutes))

    for row in range(n):
        events = [
            Event(types[k], instant(ev["at"][k]), codes.get(int(ev["source"][k])), codes.get(int(ev["target"][k])),
                  new_due_at=instant(ev["new_due"][k]))
            for k in np.flatnonzero(ev["row"] == row).tolist()
        ]  # fmt: skip
        if not events:
            continue
        # checked_from 0: every rule of recording holds, the return at the desk included
        expected = replay(rule, calendar, events, receiving_agency_code=codes[int(receiving[row])])
        state = out.result.clock_state(row, codes, unit="m")
        assert [s.name for s in state.stages] == [
            out.stage_names[slot] for slot in range(len(state.stages))
        ] == [s.name for s in expected.stages]
        assert state == expected
