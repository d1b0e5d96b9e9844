"""The clock as shown (docs/event-time.md): a dossier's page and JSON show the figures the queues and the
period report compute for it — running, paused before and after its due, rescheduled, finished."""

import re
from datetime import date, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from api.web.auth import SESSION_COOKIE
from api.web.i18n import Formats
from dossiers import events as dossier_events
from dossiers import intake, reading
from dossiers.models import Dossier
from dossiers.schemas import ApplicantIn, DossierCreate, EventCreate
from sla import queues, reports
from sla.calendars import CalendarStore
from sla.core.calendar import DEFAULT_WORKING_HOURS, LOCAL_TZ
from tests.conftest import signed_in

WARD = "000.01.01.H26"
RESIDENCE = "1.004222"  # 7 working days
NOW = datetime(2025, 7, 10, 10, 0, tzinfo=LOCAL_TZ)


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=LOCAL_TZ)


# name → (received, [(event, at, fields)]); the ward holds them all; dues from the 7 working days
DOSSIERS = {
    "running overdue": (local(2025, 6, 2, 9), []),  # due 11/06
    "running within": (local(2025, 7, 8, 9), []),  # due 17/07
    "due today": (local(2025, 7, 1, 9), []),  # due 10/07 09:00: past the instant, not the date
    "supplement after its due": (local(2025, 6, 2, 9), [("supplement_requested", local(2025, 6, 20, 9), {})]),
    "supplement before its due": (local(2025, 6, 20, 9), [("supplement_requested", local(2025, 6, 23, 9), {})]),
    "obligation after its due": (local(2025, 6, 2, 9), [("paused", local(2025, 6, 16, 9), {})]),
    "obligation before its due": (local(2025, 6, 25, 9), [("paused", local(2025, 6, 27, 14), {})]),
    "rescheduled": (  # due 04/07, new appointment 14/07 (at most 7 working days later: 15/07)
        local(2025, 6, 25, 9),
        [("apology_issued", local(2025, 6, 30, 9), {"new_due_at": local(2025, 7, 14, 16), "reason": "Xác minh"})],
    ),
    "resumed": (
        local(2025, 6, 20, 9),
        [("paused", local(2025, 6, 23, 9), {}), ("resumed", local(2025, 7, 7, 9), {})],
    ),
    "finished late": (local(2025, 6, 2, 9), [("resolved", local(2025, 6, 20, 9), {})]),
}


@pytest.fixture
def city(session):
    store = CalendarStore(first_year=2024, last_year=2026, working_hours=DEFAULT_WORKING_HOURS)
    calendar_for = lambda code: store.get(session, code)  # noqa: E731
    codes = {}
    for name, (received, events) in DOSSIERS.items():
        data = DossierCreate(
            procedure_code=RESIDENCE, agency_code=WARD, received_at=received, applicant=ApplicantIn(name=name)
        )
        code = intake.receive(session, data=data, actor="t", calendar_for=calendar_for, now=received).dossier.code
        for event_type, at, fields in events:
            reason = {"reason": "Chờ"} if event_type in ("supplement_requested", "paused") else {}
            body = EventCreate(type=event_type, **{**reason, **fields})
            dossier_events.record(session, code=code, data=body, actor="t", calendar_for=calendar_for, now=at)
        codes[name] = code
    session.flush()
    return {"codes": codes, "calendar": calendar_for(WARD), "calendar_for": calendar_for}


def views(session, city, now=NOW) -> dict:
    return {
        name: reading.view(
            reading.load(session, reading.get_dossier(session, code), calendar_for=city["calendar_for"]), now=now
        )
        for name, code in city["codes"].items()
    }


def test_paused_dossiers_show_the_clock_at_their_pause(session, city):
    shown = views(session, city)
    early = shown["supplement before its due"]
    assert early.paused_since == local(2025, 6, 23, 9) and early.overdue is False
    assert early.elapsed_working_minutes == 480  # Fri 20/06 09:00 → Mon 23/06 09:00: one working day
    assert early.remaining_working_minutes == 6 * 480  # of the 7 days, 6 left when it stopped (not counted down)
    late = shown["supplement after its due"]
    assert late.paused_since == local(2025, 6, 20, 9) and late.overdue is True
    assert late.remaining_working_minutes == -late.overdue_working_minutes == -7 * 480  # 11/06 09:00 → 20/06 09:00
    assert shown["obligation before its due"].overdue is False
    assert shown["obligation after its due"].overdue is True
    later = views(session, city, now=local(2025, 12, 1, 9))  # months later the paused figures have not moved
    for name in ("supplement before its due", "supplement after its due"):
        assert later[name].remaining_working_minutes == shown[name].remaining_working_minutes
        assert later[name].elapsed_working_minutes == shown[name].elapsed_working_minutes
    resumed = shown["resumed"]
    assert resumed.paused_since is None and resumed.paused_minutes == 10 * 480
    assert shown["due today"].overdue is False and shown["due today"].remaining_working_minutes == -60
    assert shown["rescheduled"].overdue is True and shown["rescheduled"].remaining_working_minutes > 0


def test_every_figure_shown_is_the_figure_the_queues_and_the_report_compute(session, city):
    shown = views(session, city)
    calendar = city["calendar"]
    where = queues.QueueFilter(agency=WARD)
    overdue, total = queues.overdue(session, where=where, calendar=calendar, now=NOW, page_size=100)
    queued = {row["code"]: row for row in overdue.to_dict("records")}
    running = {name for name, view in shown.items() if view.status_code in (2, 4)}
    by_code = {city["codes"][name]: name for name in shown}
    assert {by_code[code] for code in queued} == {name for name in running if shown[name].overdue}
    assert total == len(queued) == 2  # running overdue; rescheduled (past its original due, before its new one)
    per_day = calendar.minutes_per_day
    for code, row in queued.items():
        view = shown[by_code[code]]
        assert row["working_days_overdue"] == round(view.overdue_working_minutes / per_day, 2)
        assert row["working_days_left"] == round(max(view.remaining_working_minutes, 0) / per_day, 2)
        assert row["rescheduled"] is (view.rescheduled_due_at is not None)
        assert row["original_due_at"] == view.original_due_at
    assert queued[city["codes"]["rescheduled"]]["rescheduled"] is True
    soon, _ = queues.due_soon(session, where=where, calendar=calendar, now=NOW, within_working_days=30, page_size=100)
    for row in soon.to_dict("records"):
        assert row["working_days_left"] == round(shown[by_code[row["code"]]].remaining_working_minutes / per_day, 2)

    report = reports.period_report(session, period=reports.Period(date(2025, 7, 1), NOW.date()), agency=WARD)
    ward = report.iloc[-1]
    still_open = [view for view in shown.values() if view.finished_at is None]
    assert ward["open"] == len(still_open) == 9
    assert ward["open_overdue"] == sum(view.overdue for view in still_open) == 4  # and the two paused after their due
    assert ward["open_within"] == sum(not view.overdue for view in still_open)


def _page(app, tokens) -> TestClient:
    token = tokens["admin"]
    return TestClient(app, raise_server_exceptions=False, headers=signed_in(token), cookies={SESSION_COOKIE: token})


def test_the_page_and_the_json_show_the_paused_clock(app, tokens, session, city):
    """Paused figures do not move with today, so the page (read now) shows what the view computed for NOW."""
    shown = views(session, city)
    fmt = Formats("vi")
    with _page(app, tokens) as client:
        for name in ("supplement before its due", "supplement after its due", "obligation before its due"):
            code, view = city["codes"][name], shown[name]
            body = client.get(f"/api/v1/dossiers/{code}").json()
            assert body["paused_since"] == view.paused_since.astimezone(LOCAL_TZ).isoformat()
            assert body["overdue"] is view.overdue
            assert body["remaining_working_minutes"] == view.remaining_working_minutes
            page = client.get(f"/desk/dossiers/{code}").text
            assert re.search(r'id="clock-stopped">[^<]*tạm dừng từ <span id="paused-since"><time[^>]*>', page)
            assert f'id="elapsed">{fmt.duration(view.elapsed_working_minutes)}<' in page
            assert ('id="overdue"' in page) is view.overdue
            if not view.overdue:
                assert f'id="remaining">{fmt.duration(view.remaining_working_minutes)}<' in page
            assert "Quá hạn" not in page or view.overdue


def test_a_paused_row_loaded_without_its_stop_is_shown_and_counted_alike(session, city):
    """A bulk-loaded row may lack `clock_stopped_since`: its latest stopping event stands in, never overdue."""
    code = city["codes"]["supplement after its due"]
    session.execute(update(Dossier).where(Dossier.code == code).values(clock_stopped_since=None))
    session.expire_all()
    view = views(session, city)["supplement after its due"]
    assert view.paused_since == local(2025, 6, 20, 9) and view.overdue is False
    report = reports.period_report(session, period=reports.Period(date(2025, 7, 1), NOW.date()), agency=WARD)
    assert report.iloc[-1]["open_overdue"] == 3  # the two running past their due and the obligation
