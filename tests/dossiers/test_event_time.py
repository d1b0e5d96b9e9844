"""The event time policy (docs/event-time.md): back-dating, apologies, and the integrity figures they feed."""

from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from accounts.models import AuditEntry
from api.web.auth import SESSION_COOKIE
from dossiers import events, intake
from dossiers.models import DossierEvent
from dossiers.schemas import ApplicantIn, DossierCreate, EventCreate
from kernel.errors import Forbidden, InvalidInput
from sla import reports
from sla.calendars import CalendarStore
from sla.core.calendar import DEFAULT_WORKING_HOURS, LOCAL_TZ
from tests.conftest import signed_in
from tests.dossiers.conftest import API, RESIDENCE, WARD


def local(instant: datetime) -> str:
    return instant.astimezone(LOCAL_TZ).strftime("%Y-%m-%dT%H:%M")


def this_month() -> reports.Period:
    today = datetime.now(LOCAL_TZ).date()
    return reports.Period(today.replace(day=1), today)


def integrity(session) -> dict:
    """The ward's integrity figures in this month's report (back-dated events are counted when recorded)."""
    rows = reports.period_report(session, period=this_month(), group_by="agency", agency=WARD).to_dict("records")
    ward = next((row for row in rows if row["group"] == WARD), {"events_recorded_late": 0, "apologies_late": 0})
    return {key: ward[key] for key in reports.INTEGRITY_COLUMNS}


@pytest.fixture
def received_days_ago(client):
    """A dossier the administrator received `days` ago (a back-dated intake, with its reason)."""

    def receive(days: float) -> dict:
        body = {
            "procedure_code": RESIDENCE,
            "agency_code": WARD,
            "received_at": local(datetime.now(UTC) - timedelta(days=days)),
            "backdate_reason": "Hồ sơ giấy nhận khi mất điện",
            "applicant": {"name": "Vũ Thị Hạnh"},
        }
        response = client.post(API, json=body)
        assert response.status_code == 201, response.text
        return response.json()

    return receive


def test_a_clerks_backdated_resolve_is_refused_and_a_managers_is_accepted_and_counted(
    client_as, received_days_ago, session
):
    code = received_days_ago(10)["code"]
    yesterday = local(datetime.now(UTC) - timedelta(days=1))
    before = integrity(session)

    refused = client_as("clerk").post(f"{API}/{code}/events", json={"type": "resolved", "at": yesterday})
    assert refused.status_code == 403, refused.text
    detail = refused.json()["detail"]
    assert "more than 30 minutes before now" in detail and "manager or admin" in detail and "backdate_reason" in detail
    with_reason = {"type": "resolved", "at": yesterday, "backdate_reason": "Quên ghi hôm qua"}
    assert (
        client_as("clerk").post(f"{API}/{code}/events", json=with_reason).status_code == 403
    )  # a reason is not a role

    manager = client_as("manager")
    no_reason = manager.post(f"{API}/{code}/events", json={"type": "resolved", "at": yesterday})
    assert no_reason.status_code == 422 and "give backdate_reason" in no_reason.json()["detail"]
    accepted = manager.post(f"{API}/{code}/events", json=with_reason)
    assert accepted.status_code == 201, accepted.text
    resolved = accepted.json()["timeline"][-1]
    assert resolved["backdated"] and resolved["backdate_reason"] == "Quên ghi hôm qua"
    assert resolved["at"] < resolved["recorded_at"]  # both instants kept
    assert integrity(session)["events_recorded_late"] == before["events_recorded_late"] + 1
    audit = session.execute(select(AuditEntry).order_by(AuditEntry.id.desc())).scalars().first()
    assert audit.username == "manager" and f"dossier {code}" in audit.detail
    assert "resolved back-dated to" in audit.detail and "Quên ghi hôm qua" in audit.detail


def test_within_the_grace_anyone_may_date_an_event_and_no_reason_is_taken(client_as, received_days_ago, session):
    code = received_days_ago(3)["code"]
    clerk = client_as("clerk")
    recent = local(datetime.now(UTC) - timedelta(minutes=20))
    stray = clerk.post(
        f"{API}/{code}/events", json={"type": "paused", "at": recent, "reason": "x", "backdate_reason": "y"}
    )
    assert stray.status_code == 422 and "within that grace" in stray.json()["detail"]
    paused = clerk.post(f"{API}/{code}/events", json={"type": "paused", "at": recent, "reason": "Chờ nộp phí"})
    assert paused.status_code == 201, paused.text
    assert paused.json()["timeline"][-1]["backdated"] is False
    future = local(datetime.now(UTC) + timedelta(minutes=20))
    ahead = clerk.post(f"{API}/{code}/events", json={"type": "resumed", "at": future})
    assert ahead.status_code == 422 and "at most 5 minutes ahead" in ahead.json()["detail"]
    stored = session.execute(select(DossierEvent).where(DossierEvent.type == "paused")).scalars().all()
    assert [event.backdate_reason for event in stored] == [None]


def test_a_backdated_intake_needs_an_administrator_and_a_reason(client, client_as, session):
    body = {
        "procedure_code": RESIDENCE,
        "agency_code": WARD,
        "received_at": local(datetime.now(UTC) - timedelta(hours=3)),
        "applicant": {"name": "Đỗ Văn Long"},
    }
    refused = client_as("clerk").post(API, json={**body, "backdate_reason": "Nhận lúc sáng"})
    assert refused.status_code == 403 and "received_at" in refused.json()["detail"]
    assert client.post(API, json=body).status_code == 422  # the administrator, without a reason
    before = integrity(session)
    accepted = client.post(API, json={**body, "backdate_reason": "Nhận lúc sáng, mất mạng"})
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["timeline"][0]["backdate_reason"] == "Nhận lúc sáng, mất mạng"
    assert integrity(session)["events_recorded_late"] == before["events_recorded_late"] + 1
    now = client_as("clerk").post(API, json={**body, "received_at": None})
    assert now.status_code == 201 and now.json()["timeline"][0]["backdated"] is False


def _page_client(app, tokens, username: str) -> TestClient:
    token = tokens[username]
    return TestClient(app, raise_server_exceptions=False, headers=signed_in(token), cookies={SESSION_COOKIE: token})


def test_the_desk_pages_follow_the_same_policy(app, tokens, received_days_ago):
    code = received_days_ago(5)["code"]
    yesterday = local(datetime.now(UTC) - timedelta(days=1))
    with _page_client(app, tokens, "clerk") as clerk, _page_client(app, tokens, "manager") as manager:
        page = clerk.get(f"/desk/dossiers/{code}")
        assert page.status_code == 200 and 'name="backdate_reason"' not in page.text  # not offered to clerks
        assert 'name="backdate_reason"' in manager.get(f"/desk/dossiers/{code}").text
        assert 'name="backdate_reason"' not in clerk.get("/desk").text
        form = {"type": "paused", "reason": "Chờ nộp phí", "at": yesterday, "backdate_reason": "Quên ghi"}
        refused = clerk.post(f"/desk/dossiers/{code}/events", data=form)  # the field sent by hand
        assert refused.status_code == 403 and "chỉ lãnh đạo hoặc quản trị viên được ghi lùi" in refused.text
        refused = clerk.post("/desk/dossiers", data={
            "procedure_code": RESIDENCE, "agency_code": WARD, "name": "A", "received_at": yesterday,
            "backdate_reason": "Quên ghi",
        })  # fmt: skip
        assert refused.status_code == 403 and "chỉ lãnh đạo hoặc quản trị viên được ghi lùi" in refused.text
        accepted = manager.post(f"/desk/dossiers/{code}/events", data=form, follow_redirects=False)
        assert accepted.status_code == 303, accepted.text
        page = manager.get(f"/desk/dossiers/{code}")
        assert 'class="event-paused backdated"' in page.text and "Lý do ghi lùi: Quên ghi" in page.text


def test_an_apology_moves_the_due_at_most_the_procedures_own_time(client_as, received_days_ago):
    dossier = received_days_ago(1)  # residence: 7 working days
    manager = client_as("manager")
    far = {"type": "apology_issued", "new_due_at": "2035-01-01T09:00", "reason": "Cần xác minh"}
    refused = manager.post(f"{API}/{dossier['code']}/events", json=far)
    assert refused.status_code == 422, refused.text
    assert "at most 7 working days (the procedure's own time) after the original due" in refused.json()["detail"]
    due = datetime.fromisoformat(dossier["original_due_at"])
    near = {**far, "new_due_at": (due + timedelta(days=1)).isoformat()}
    accepted = manager.post(f"{API}/{dossier['code']}/events", json=near)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["timeline"][-1]["apology_late"] is False


def test_a_backdated_apology_recorded_after_the_due_is_counted_late(client_as, received_days_ago, session):
    dossier = received_days_ago(20)  # due some 10 days ago
    received = datetime.fromisoformat(dossier["received_at"])
    before = integrity(session)
    apology = {
        "type": "apology_issued",
        "at": local(received + timedelta(days=1)),
        "new_due_at": (datetime.fromisoformat(dossier["original_due_at"]) + timedelta(days=2)).isoformat(),
        "reason": "Cần xác minh",
        "backdate_reason": "Phiếu giấy đã gửi, ghi bổ sung",
    }
    accepted = client_as("manager").post(f"{API}/{dossier['code']}/events", json=apology)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["timeline"][-1]["apology_late"] is True
    after = integrity(session)
    assert after["apologies_late"] == before["apologies_late"] + 1
    assert after["events_recorded_late"] == before["events_recorded_late"] + 1


# --- the service: its defaults are the strict policy; history is written only on purpose ----------

NOW = datetime(2025, 7, 10, 10, 0, tzinfo=LOCAL_TZ)


@pytest.fixture
def calendar_for(session):
    store = CalendarStore(first_year=2024, last_year=2026, working_hours=DEFAULT_WORKING_HOURS)
    return lambda code: store.get(session, code)


def test_the_service_refuses_backdating_unless_told_who_may(session, calendar_for):
    data = DossierCreate(
        procedure_code=RESIDENCE, agency_code=WARD, received_at=datetime(2025, 7, 1, 9), applicant=ApplicantIn(name="A")
    )
    with pytest.raises(Forbidden):
        intake.receive(session, data=data, actor="t", calendar_for=calendar_for, now=NOW)
    with pytest.raises(InvalidInput, match="give backdate_reason"):
        intake.receive(session, data=data, actor="t", calendar_for=calendar_for, now=NOW, may_backdate=True)
    longer = intake.TimeRules(backdate_grace=timedelta(days=30))
    written = intake.receive(session, data=data, actor="t", calendar_for=calendar_for, now=NOW, rules=longer)
    assert written.events[0].backdate_reason is None  # within a grace of 30 days


def test_apology_max_extension_is_a_multiple_of_the_allotment(session, calendar_for):
    data = DossierCreate(procedure_code=RESIDENCE, agency_code=WARD, applicant=ApplicantIn(name="A"))
    received = datetime(2025, 7, 1, 9, tzinfo=LOCAL_TZ)
    code = intake.receive(session, data=data, actor="t", calendar_for=calendar_for, now=received).dossier.code
    # due 10/07 09:00; 7 working days later: 21/07 09:00; twice that: 30/07 09:00
    apology = EventCreate(type="apology_issued", reason="x", new_due_at=datetime(2025, 7, 25, 9, tzinfo=LOCAL_TZ))
    at = datetime(2025, 7, 2, 9, tzinfo=LOCAL_TZ)
    with pytest.raises(InvalidInput, match="at the latest 21/07/2025 09:00"):
        events.record(session, code=code, data=apology, actor="t", calendar_for=calendar_for, now=at)
    twice = intake.TimeRules(apology_max_extension=2.0)
    written = events.record(
        session, code=code, data=apology, actor="t", calendar_for=calendar_for, now=at, rules=twice
    )
    assert written.dossier.rescheduled_due_at == datetime(2025, 7, 25, 9, tzinfo=LOCAL_TZ)
    july = reports.period_report(session, period=reports.Period(date(2025, 7, 1), date(2025, 7, 31)), agency=WARD)
    assert july.iloc[-1]["apologies_late"] == 0  # recorded a week before its due
