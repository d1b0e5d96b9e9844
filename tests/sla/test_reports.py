"""Period report, queues and scores on a small hand-counted month, on both databases."""

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import event, text

from dossiers import events
from dossiers import intake as dossier_intake
from dossiers.schemas import ApplicantIn, DossierCreate, EventCreate
from sla import queues, reports
from sla.calendars import CalendarStore
from sla.core.calendar import DEFAULT_WORKING_HOURS

WARD = "000.01.01.H26"
RESIDENCE = "1.004222"  # 7 working days
JUNE = reports.Period(date(2025, 6, 1), date(2025, 6, 30))


@pytest.fixture
def june(session):
    """A: carried over, resolved late · B early · C on time (online) · D withdrawn (post) · E open within
    · F open overdue · G refused at intake (left out) · H finished in April (left out) · I resolved in July."""
    store = CalendarStore(first_year=2020, last_year=2030, working_hours=DEFAULT_WORKING_HOURS)
    calendar_for = lambda code: store.get(session, code)  # noqa: E731
    now = datetime.now(UTC)

    def intake(received: datetime, channel="counter", status="received"):
        data = DossierCreate(
            procedure_code=RESIDENCE,
            agency_code=WARD,
            channel=channel,
            received_at=received,
            status=status,
            reason="Không thuộc thẩm quyền" if status == "refused" else None,
            applicant=ApplicantIn(name="A"),
        )
        return dossier_intake.receive(
            session, data=data, actor="test", calendar_for=calendar_for, now=now, rules=dossier_intake.HISTORY
        ).dossier.code

    def record(code: str, type: str, at: datetime):
        data = EventCreate(type=type, at=at)
        events.record(
            session,
            code=code,
            data=data,
            actor="test",
            calendar_for=calendar_for,
            now=now,
            rules=dossier_intake.HISTORY,
        )

    a = intake(datetime(2025, 5, 20, 9))
    record(a, "resolved", datetime(2025, 6, 3, 10))
    b = intake(datetime(2025, 6, 2, 9))
    record(b, "resolved", datetime(2025, 6, 6, 10))
    c = intake(datetime(2025, 6, 3, 10), channel="online")
    record(c, "resolved", datetime(2025, 6, 12, 15))
    d = intake(datetime(2025, 6, 4, 9), channel="post")
    record(d, "withdrawn", datetime(2025, 6, 5, 9))
    intake(datetime(2025, 6, 25, 9))
    f = intake(datetime(2025, 6, 10, 9))
    intake(datetime(2025, 6, 16, 9), status="refused")
    h = intake(datetime(2025, 4, 1, 9))
    record(h, "resolved", datetime(2025, 4, 10, 9))
    i = intake(datetime(2025, 6, 20, 9))
    record(i, "resolved", datetime(2025, 7, 2, 9))
    session.flush()
    return {"store": store, "calendar_for": calendar_for, "overdue_code": f}


def test_hand_counted_month(session, june):
    report = reports.period_report(session, period=JUNE, group_by="agency", agency=WARD)
    rows = {row["group"]: row for row in report.to_dict("records")}
    assert set(rows) == {WARD, "total"}
    ward = rows[WARD]
    assert ward["agency_name"] == "Phường Hoàn Kiếm"
    expected = {
        "carried_over": 1, "received_new": 6, "received_counter": 4, "received_online": 1, "received_post": 1,
        "total": 7, "resolved": 3, "early": 1, "on_time": 1, "late": 1, "withdrawn": 1,
        "open": 3, "open_within": 2, "open_overdue": 1,
    }  # fmt: skip
    assert {key: ward[key] for key in expected} == expected
    assert ward["total"] == ward["resolved"] + ward["withdrawn"] + ward["open"]
    assert ward["on_time_rate"] == pytest.approx(2 / 3)
    assert ward["strict_on_time_rate"] == pytest.approx(5 / 7)
    assert ward["progress_score_766"] == pytest.approx(100 / 7)
    assert ward["avg_resolution_working_days"] == pytest.approx(7.25)
    assert {key: rows["total"][key] for key in expected} == expected


def test_month_grouping_carries_over(session, june):
    report = reports.period_report(
        session, period=reports.Period(date(2025, 5, 1), date(2025, 7, 31)), group_by="month", agency=WARD
    )
    months = {row["group"]: row for row in report.to_dict("records")}
    assert list(months) == ["2025-05", "2025-06", "2025-07", "total"]
    assert months["2025-05"]["received_new"] == 1 and months["2025-05"]["open"] == 1
    assert months["2025-06"]["carried_over"] == 1 and months["2025-06"]["total"] == 7
    assert months["2025-07"]["carried_over"] == 3  # E, F and I were open on 30/06
    assert months["total"]["received_new"] == 7 and months["total"]["carried_over"] == 0


def test_rates_are_null_when_nothing_to_rate(session, june):
    report = reports.period_report(session, period=reports.Period(date(2024, 1, 1), date(2024, 1, 31)))
    total = report.to_dict("records")[-1]
    assert total["group"] == "total" and total["total"] == 0
    assert total["on_time_rate"] is None and total["strict_on_time_rate"] is None
    assert total["progress_score_766"] is None and total["avg_resolution_working_days"] is None


def test_other_groupings_add_up(session, june):
    for group_by in ("procedure", "field", "channel"):
        report = reports.period_report(session, period=JUNE, group_by=group_by, agency=WARD)
        groups, total = report.iloc[:-1], report.iloc[-1]
        assert groups["total"].sum() == total["total"] == 7, group_by
    channels = reports.period_report(session, period=JUNE, group_by="channel", agency=WARD)
    assert dict(zip(channels["group"], channels["received_new"], strict=True)) == {
        "counter": 4, "online": 1, "post": 1, "total": 6,
    }  # fmt: skip


def test_overdue_queue_lists_the_late_open_dossier(session, june):
    calendar = june["calendar_for"](WARD)
    frame, total = queues.overdue(
        session,
        where=queues.QueueFilter(agency=WARD),
        calendar=calendar,
        now=datetime.now(UTC),
        as_of=date(2025, 6, 30),
    )
    assert total == 1
    row = frame.to_dict("records")[0]
    assert row["code"] == june["overdue_code"]
    assert row["working_days_overdue"] == 6.88  # due Thu 19/06 09:00 to Mon 30/06 00:00: 7 h + 8 h + 5 × 8 h
    assert row["holding_agency_code"] == WARD
    today, _ = queues.overdue(session, where=queues.QueueFilter(agency=WARD), calendar=calendar, now=datetime.now(UTC))
    assert len(today) == 2  # E (due 04/07/2025) is overdue by now too


# --- the report reads the covering index `ix_dossier_report`, never the wide dossier rows --------
# At 11 million dossiers that is what keeps a year report to one narrow scan (bench/README.md); a
# column added to the report but not to the index would send both databases back to the table.


@pytest.fixture
def statements(session):
    """The SQL and parameters of every statement the session runs, captured as they run."""
    captured = []
    connection = session.connection()

    def capture(conn, cursor, statement, parameters, context, executemany):
        captured.append((statement, parameters))

    event.listen(connection, "before_cursor_execute", capture)
    yield captured
    event.remove(connection, "before_cursor_execute", capture)


def _plan(session, statement: str, parameters) -> str:
    cursor = session.connection().connection.driver_connection.cursor()
    if session.get_bind().dialect.name == "postgresql":
        for name in reports._PLAN_SETTINGS:  # as the report sets them around its scan
            cursor.execute(f"SET LOCAL {name} = off")
        cursor.execute("EXPLAIN " + statement, parameters)
    else:
        cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
    return "\n".join(str(row[-1]) for row in cursor.fetchall())


@pytest.mark.parametrize("group_by", ["agency", "procedure", "month"])
@pytest.mark.parametrize("agency", [None, "000.01.01.H26"])
def test_the_report_scans_the_covering_index_only(session, june, statements, group_by, agency):
    period = reports.Period(date(2025, 1, 1), date(2025, 12, 31))
    reports.period_report(session, period=period, group_by=group_by, agency=agency)
    grouped = [(sql, parameters) for sql, parameters in statements if "GROUP BY" in sql and "FROM dossier" in sql]
    tally = [(sql, parameters) for sql, parameters in grouped if "dossier_event" not in sql]
    assert len(tally) == 1, "one scan a report"
    plan = _plan(session, *tally[0])
    if session.get_bind().dialect.name == "postgresql":
        assert "Index Only Scan using ix_dossier_report" in plan, plan
        assert "HashAggregate" in plan and "Sort" not in plan, plan
    else:
        assert "USING COVERING INDEX ix_dossier_report" in plan, plan
    # the integrity figures: only the flagged events, off their partial index, never the whole event log
    integrity = [(sql, parameters) for sql, parameters in grouped if "FROM dossier_event" in sql]
    assert len(integrity) == 1
    if session.get_bind().dialect.name == "sqlite":
        plan = _plan(session, *integrity[0])
        assert "ix_dossier_event_flagged" in plan, plan


def test_the_plan_settings_end_with_the_scan(session, june):
    reports.period_report(session, period=JUNE)
    if session.get_bind().dialect.name == "postgresql":
        settings = session.execute(text("SELECT current_setting('enable_seqscan'), current_setting('enable_sort')"))
        assert settings.one() == ("on", "on")


def test_a_queue_page_is_read_off_the_running_index(session, june, statements):
    """One agency's overdue page: its first entries of ix_dossier_running_original in due order, no sort.

    (On a table this small PostgreSQL may rightly prefer to read the rows; it is checked on
    SQLite, whose planner takes the index for the equality and the order.)"""
    if session.get_bind().dialect.name == "postgresql":
        pytest.skip("the planner's choice on a small table")
    calendar = june["calendar_for"](WARD)
    queues.overdue(session, where=queues.QueueFilter(agency=WARD), calendar=calendar, now=datetime.now(UTC))
    page = [(sql, parameters) for sql, parameters in statements if "ORDER BY dossier.original_due_at" in sql]
    plan = _plan(session, *page[0])
    assert "INDEX ix_dossier_running_original (current_agency_id=? AND original_due_at<?)" in plan, plan
    assert "TEMP B-TREE" not in plan, plan
