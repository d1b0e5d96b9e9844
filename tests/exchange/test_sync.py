"""Sync out (exchange/sync.py) against a real HTTP gateway double on loopback (tests/exchange/gateway.py): the
outbox written with every change, the watermark, create then update on "exists", steps in chunks of 10,
retries and backoff, a crash between send and mark, and the sync rate against what the gateway received."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlmodel import Session
from typer.testing import CliRunner

from api.cli import cli
from api.scheduler import build_scheduler
from api.settings import Settings
from dossiers import events, intake, rebuild
from dossiers.models import DossierChange
from dossiers.schemas import ApplicantIn, DossierCreate, EventCreate
from exchange import sync
from exchange.models import DossierSync, StepSync
from exchange.service import changed_since, stamp_changes
from exchange.status import sync_status
from sla import scorecard
from sla.calendars import CalendarStore
from sla.core.calendar import DEFAULT_WORKING_HOURS
from sla.reports import period_of
from tests.exchange.gateway import TOKEN, Served

NOW = datetime(2025, 12, 20, 9, tzinfo=UTC)
RESIDENCE, WARD, OTHER_WARD = "1.004222", "000.01.01.H26", "000.02.01.H26"
STORE = CalendarStore(first_year=2024, last_year=2026, working_hours=DEFAULT_WORKING_HOURS)


def calendars(session):
    return lambda code: STORE.get(session, code)


def receive(session, agency=WARD, at="2025-06-02T09:00:00", status="received") -> str:
    applicant = ApplicantIn(name="Lê Thị Hoa", id_number="001190012345", phone="0912345678")
    data = DossierCreate(
        procedure_code=RESIDENCE, agency_code=agency, received_at=at, status=status, applicant=applicant
    )
    return intake.receive(
        session, data=data, actor="clerk", calendar_for=calendars(session), now=NOW, rules=intake.HISTORY
    ).dossier.code


def event(session, code, **fields) -> None:
    events.record(session, code=code, data=EventCreate(**fields), actor="officer",
                         calendar_for=calendars(session), now=NOW, rules=intake.HISTORY)  # fmt: skip


def pauses(session, code, pairs: int, day: int = 3) -> None:
    for n in range(pairs):
        event(session, code, type="paused", at=f"2025-06-{day + n:02d}T09:00:00", reason="Chờ nghĩa vụ tài chính")
        event(session, code, type="resumed", at=f"2025-06-{day + n:02d}T10:00:00")


def committed(engine, build) -> list[str]:
    with Session(engine, expire_on_commit=False) as session:
        codes = build(session)
        session.commit()
    return codes


@pytest.fixture
def served():
    with Served() as served:
        yield served
    assert served.gateway.invalid == []  # every record and step it received matched the documented schema


def gateway_at(served, **changes) -> sync.Gateway:
    return sync.Gateway(url=served.url, token=TOKEN, **{"retries": 2, "retry_seconds": 0.01, **changes})


def run(engine, gateway, **keywords) -> sync.SyncReport:
    return sync.run_sync(engine, gateway=gateway, calendar_for=calendars, **keywords)


# --- the outbox and the watermark ----------------------------------------------------------------


def test_every_change_writes_an_outbox_row_in_its_own_transaction(session):
    before = session.execute(select(func.count()).select_from(DossierChange)).scalar_one()
    code = receive(session)
    event(session, code, type="supplement_requested", at="2025-06-03T09:00:00", reason="Thiếu tờ khai")
    kinds = session.execute(select(DossierChange.kind).order_by(DossierChange.id).offset(before)).scalars().all()
    assert kinds == ["intake", "event"]
    savepoint = session.begin_nested()
    event(session, code, type="supplement_received", at="2025-06-05T09:00:00")
    savepoint.rollback()  # a write rolled back leaves no change behind
    assert session.execute(select(func.count()).select_from(DossierChange)).scalar_one() == before + 2
    report = rebuild.rebuild(session, calendar_for=calendars(session), refreeze=True)
    rebuilt = session.execute(select(func.count()).where(DossierChange.kind == "rebuild")).scalar_one()
    assert rebuilt == report.dossiers >= 1


def test_a_change_committed_late_gets_a_higher_id_than_every_id_already_read(fresh_engine):
    """The watermark misses nothing: a transaction that began first but commits after a reader has read gets a
    change id above what that reader saw."""
    if fresh_engine.dialect.name != "postgresql":
        pytest.skip("two writers at once: PostgreSQL (SQLite lets one writer in at a time)")
    slow = Session(fresh_engine)
    slow_code = receive(slow)  # written, not committed
    [fast_code] = committed(fresh_engine, lambda s: [receive(s, agency=OTHER_WARD)])
    with Session(fresh_engine) as reader:
        seen = stamp_changes(reader)
        reader.commit()
        assert [c.change_id for c in changed_since(reader, 0, limit=100)] == [seen]
    slow.commit()
    slow.close()
    with Session(fresh_engine) as reader:
        stamp_changes(reader)
        reader.commit()
        later = changed_since(reader, seen, limit=100)
        codes = reader.execute(text("SELECT code FROM dossier WHERE id = :id"), {"id": later[0].dossier_id}).scalar()
    assert len(later) == 1 and later[0].change_id > seen and codes == slow_code != fast_code


# --- sync ----------------------------------------------------------------------------------------


def test_create_then_steps_in_chunks_of_10_then_update_on_exists_and_only_new_steps(fresh_engine, served):
    def build(session):
        code = receive(session)
        pauses(session, code, 5)  # 11 events
        event(session, code, type="resolved", at="2025-06-10T09:00:00", result="Đã đăng ký thường trú")
        return [code]

    [code] = committed(fresh_engine, build)
    gateway = gateway_at(served)
    report = run(fresh_engine, gateway)
    double = served.gateway
    assert (report.created, report.updated, report.steps_sent, report.failed) == (1, 0, 12, {})
    assert double.calls["/CapNhatTienDoHoSoMC"] == 2  # 10 + 2
    assert len(double.steps[code]) == 12 and double.records[code]["TrangThaiHoSo"] == 9
    assert "QuaTrinhXuLy" not in double.records[code]
    assert run(fresh_engine, gateway).synced == 0  # nothing changed: nothing sent

    committed(fresh_engine, lambda s: event(s, code, type="result_returned", at="2025-06-11T09:00:00"))
    report = run(fresh_engine, gateway)
    assert (report.created, report.updated, report.steps_sent) == (0, 1, 1)
    assert double.calls["/DongBoHoSoMC/create"] == 2 and double.calls["/DongBoHoSoMC/update"] == 1
    assert double.records[code]["TrangThaiHoSo"] == 10 and len(double.steps[code]) == 13
    with Session(fresh_engine) as session:
        state = session.execute(select(DossierSync)).scalar_one()
        assert state.state == "synced" and state.synced_change_id == stamp_changes(session)
        assert session.execute(select(func.count()).select_from(StepSync)).scalar_one() == 13


def test_a_crash_between_send_and_mark_sends_again_and_the_gateway_holds_one_record(fresh_engine, served, monkeypatch):
    codes = committed(fresh_engine, lambda s: [receive(s, at=f"2025-06-0{d}T09:00:00") for d in (2, 3, 4)])
    real_mark = sync._mark_synced
    crashes = iter([True])

    def crash_once(*args):
        if next(crashes, False):
            raise KeyboardInterrupt("the process died between the send and its mark")
        real_mark(*args)

    monkeypatch.setattr(sync, "_mark_synced", crash_once)
    with pytest.raises(KeyboardInterrupt):
        run(fresh_engine, gateway_at(served))
    double = served.gateway
    assert list(double.records) == codes[:1]
    report = run(fresh_engine, gateway_at(served))
    assert (report.created, report.updated) == (2, 1)  # the first again: create answered "exists", then update
    assert sorted(double.records) == sorted(codes)  # exactly one record each
    assert {code: len(steps) for code, steps in double.steps.items()} == dict.fromkeys(codes, 1)
    assert double.calls["/DongBoHoSoMC/create"] == 4 and double.calls["/DongBoHoSoMC/update"] == 1


def test_failures_are_retried_with_backoff_listed_with_the_answer_and_tried_again_later(fresh_engine, served):
    [code] = committed(fresh_engine, lambda s: [receive(s)])
    double = served.gateway
    gateway = gateway_at(served, interval_minutes=10)
    double.fail_next(3, status=503, body="Hệ thống đang bảo trì")  # the first try and both retries
    start = datetime.now(UTC)
    report = run(fresh_engine, gateway)
    assert code in report.failed and "503" in report.failed[code] and "bảo trì" in report.failed[code]
    with Session(fresh_engine) as session:
        state = session.get(DossierSync, 1) or session.execute(select(DossierSync)).scalar_one()
        assert (state.state, state.attempts, state.last_http_status) == ("failed", 1, 503)
        assert state.next_attempt_at >= start + timedelta(minutes=10)
        status = sync_status(session, period=period_of("2025", None, None))
        assert status.pending == 0 and status.failed_total == 1
        assert status.failed[0].code == code and "bảo trì" in status.failed[0].answer
        assert (status.received, status.synced) == (1, 0)
    assert run(fresh_engine, gateway).synced == 0  # not due again yet
    later = datetime.now(UTC) + timedelta(minutes=11)
    report = run(fresh_engine, gateway, now=lambda: later)
    assert report.created == 1 and list(double.records) == [code]

    committed(fresh_engine, lambda s: event(s, code, type="withdrawn", at="2025-06-03T09:00:00"))
    double.fail_next(1, status=422, body="Trường không hợp lệ")  # a refusal is not retried at once
    report = run(fresh_engine, gateway)
    assert "422" in report.failed[code]
    with Session(fresh_engine) as session:
        state = session.execute(select(DossierSync)).scalar_one()
        assert (state.attempts, state.synced_change_id > 0) == (1, True)
        assert sync_status(session, period=period_of("2025", None, None)).synced == 1  # synced once before


def test_a_timeout_is_tried_again(fresh_engine, served):
    [code] = committed(fresh_engine, lambda s: [receive(s)])
    served.gateway.time_out_next(1, delay=1.5)
    report = run(fresh_engine, gateway_at(served, timeout_seconds=0.5))
    assert report.created == 1 and list(served.gateway.records) == [code]
    served.gateway.time_out_next(3, delay=1.5)
    committed(fresh_engine, lambda s: event(s, code, type="withdrawn", at="2025-06-03T09:00:00"))
    report = run(fresh_engine, gateway_at(served, timeout_seconds=0.5))
    assert "no answer within 0.5 s" in report.failed[code]


def test_the_sync_rate_per_unit_matches_what_the_gateway_received(fresh_engine, served):
    def build(session):
        ward = [receive(session, at=f"2025-07-{d:02d}T09:00:00") for d in (1, 2, 3)]
        other = [receive(session, agency=OTHER_WARD, at=f"2025-07-{d:02d}T09:00:00") for d in (1, 2)]
        refused = receive(session, at="2025-07-04T09:00:00", status="refused")
        earlier = receive(session, at="2025-06-30T09:00:00")  # another period
        return ward + other + [refused, earlier]

    codes = committed(fresh_engine, build)
    double = served.gateway
    double.fail_next(3)  # the oldest change fails all its tries: not synced
    run(fresh_engine, gateway_at(served))
    with Session(fresh_engine) as session:
        status = sync_status(session, period=period_of("2025-Q3", None, None))
    received = double.received_per_unit("20250701", "20250930")
    assert {u.agency_code: (u.received, u.synced) for u in status.units} == {
        WARD: (3, received[WARD]), OTHER_WARD: (2, received[OTHER_WARD]),
    }  # fmt: skip
    assert received == {WARD: 2, OTHER_WARD: 2} and status.synced == 4 and status.rate == 4 / 5
    assert codes[0] not in double.records and codes[5] in double.records  # refused: synced, not counted
    with Session(fresh_engine) as session:  # the scorecard's 1.4 is the same count: synced ÷ received, × 6
        calendar = STORE.get(session, None)
        quarter = period_of("2025-Q3", None, None)
        card = scorecard.scorecard(session, period=quarter, period_key="2025-Q3", agency=WARD, calendar=calendar)
    line = next(line for line in card["indicators"] if line["id"] == "1.4")
    assert (line["numerator"], line["denominator"]) == (received[WARD], 3)
    assert line["points"] == pytest.approx(6 * 2 / 3, abs=1e-4)
    assert "1.4" not in [m["id"] for m in card["missing_data"]]


def test_the_scheduler_runs_the_sync_every_interval_when_a_gateway_is_set(fresh_engine):
    url = fresh_engine.url.render_as_string(hide_password=False)
    quiet = build_scheduler(Settings(database_url=url), blocking=False)
    assert quiet.get_job("exchange") is None
    scheduler = build_scheduler(
        Settings(database_url=url, exchange_url="https://gateway.example", exchange_interval_minutes=15),
        blocking=False,
    )
    job = scheduler.get_job("exchange")
    assert job.func_ref == "api.scheduler:exchange_job" and job.trigger.interval == timedelta(minutes=15)


def test_the_commands_export_and_sync(fresh_engine, served, tmp_path, monkeypatch):
    if fresh_engine.dialect.name != "sqlite":
        pytest.skip("the command on one database is enough")
    codes = committed(fresh_engine, lambda s: [receive(s), receive(s, agency=OTHER_WARD)])
    monkeypatch.setenv("MOTCUA_DATABASE_URL", fresh_engine.url.render_as_string(hide_password=False))
    runner = CliRunner()
    refused = runner.invoke(cli, ["exchange", "sync"])
    assert refused.exit_code == 2 and "MOTCUA_EXCHANGE_URL" in refused.output
    out = tmp_path / "records.jsonl"
    exported = runner.invoke(cli, ["exchange", "export", "--since", "0", "--batch", "1", str(out)])
    assert exported.exit_code == 0, exported.output
    assert "2 records written" in exported.output and "next --since 2" in exported.output
    assert [line.split('"MaHoSo":"')[1].split('"')[0] for line in out.read_text().splitlines()] == codes
    again = runner.invoke(cli, ["exchange", "export", "--since", "2", str(out)])
    assert "0 records written" in again.output and out.read_text() == ""
    monkeypatch.setenv("MOTCUA_EXCHANGE_URL", served.url)
    monkeypatch.setenv("MOTCUA_EXCHANGE_TOKEN", TOKEN)
    synced = runner.invoke(cli, ["exchange", "sync"])
    assert synced.exit_code == 0, synced.output
    assert "2 dossiers synced (2 created, 0 updated), 2 steps sent, 0 failed" in synced.output
    assert sorted(served.gateway.records) == sorted(codes)
