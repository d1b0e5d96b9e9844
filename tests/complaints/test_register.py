"""The complaints register through the API: roles and scope as for dossiers, audited reads and writes,
events checked against the status; the queue of complaints due soon and overdue."""

from datetime import datetime

import pytest
from sqlalchemy import select

from accounts.models import AuditEntry
from complaints import service
from complaints.schemas import ComplaintCreate, ComplaintEventCreate
from sla.calendars import CalendarStore
from sla.core.calendar import DEFAULT_WORKING_HOURS, LOCAL_TZ

API = "/api/v1/complaints"
WARD, OTHER_WARD, DEPARTMENT = "000.01.01.H26", "000.02.01.H26", "000.00.03.H26"
CONTENT = "Ông Trần Văn Bình (0987654321) phản ánh cán bộ hẹn trả kết quả nhiều lần không đúng hẹn."


def body(agency_code=WARD, **extra):
    return {"agency_code": agency_code, "channel": "hotline", "category": "staff_conduct", "content": CONTENT, **extra}


def test_a_clerk_registers_a_complaint_and_follows_it(client_as, session):
    clerk = client_as("clerk")
    created = clerk.post(API, json=body())
    assert created.status_code == 201, created.text
    complaint = created.json()
    assert complaint["status"] == "received" and complaint["agency_code"] == WARD
    assert complaint["allowed_events"] == ["transferred", "supplement_requested", "refused", "answered"]
    assert complaint["late_clocks"] == [] and complaint["next_due_at"] == complaint["answer_due_at"]
    url = f"{API}/{complaint['id']}/events"
    assert clerk.post(url, json={"type": "published"}).status_code == 409  # not answered yet
    assert clerk.post(url, json={"type": "answered"}).status_code == 422  # an answer says something
    answered = clerk.post(url, json={"type": "answered", "note": "Đã kiểm điểm cán bộ, xin lỗi công dân."})
    assert answered.status_code == 201, answered.text
    assert answered.json()["publish_due_at"] is not None
    published = clerk.post(url, json={"type": "published"}).json()
    assert published["status"] == "published" and published["next_due_at"] is None
    liked = clerk.post(url, json={"type": "liked"}).json()
    assert liked["feedback"] == "liked" and liked["allowed_events"] == ["repeated"]
    assert [e["type"] for e in liked["timeline"]] == ["received", "answered", "published", "liked"]
    actions = session.execute(
        select(AuditEntry.action, AuditEntry.outcome).where(AuditEntry.action.like("POST /api/v1/complaints%"))
    ).all()
    assert ("POST /api/v1/complaints", "ok") in actions
    assert ("POST /api/v1/complaints/{complaint_id}/events", "refused 409") in actions


@pytest.mark.parametrize(
    "extra",
    [{"channel": "fax"}, {"category": "roads"}, {"content": "  "}, {"phone": "0987654321"}, {"dossier_code": "X-1"}],
)
def test_bad_input_is_refused_and_writes_nothing(client_as, session, extra):
    response = client_as("clerk").post(API, json=body(**extra))
    assert response.status_code == (404 if "dossier_code" in extra else 422), response.text
    assert session.execute(select(service.Complaint)).first() is None


def test_roles_and_scope_as_for_dossiers(client_as, session):
    other = client_as("other-clerk").post(API, json=body(OTHER_WARD)).json()
    clerk, manager = client_as("clerk"), client_as("manager")
    assert clerk.post(API, json=body(OTHER_WARD)).status_code == 403  # receives at its own ward only
    assert client_as("officer").post(API, json=body(DEPARTMENT)).status_code == 403  # officers do not receive
    assert manager.post(API, json=body()).status_code == 403
    assert client_as("viewer").get(API).status_code == 403  # viewers read reports, not complaints
    # another ward's complaint is unknown: not listed, 404 to read and to record on, as an unknown id
    assert clerk.get(API).json()["total"] == 0
    assert clerk.get(f"{API}/{other['id']}").status_code == 404
    assert clerk.get(f"{API}/{other['id'] + 1000}").json() == {
        "error": "not_found",
        "detail": f"no complaint with id {other['id'] + 1000}; GET /api/v1/complaints lists those of your scope",
    }
    refused = manager.post(f"{API}/{other['id']}/events", json={"type": "published"})
    assert refused.status_code == 404
    # transferred to the department: its officer records there; the ward's clerk keeps seeing it
    own = clerk.post(API, json=body()).json()
    officer = client_as("officer")
    early = officer.post(f"{API}/{own['id']}/events", json={"type": "supplement_requested", "note": "x"})
    assert early.status_code == 404
    moved = clerk.post(f"{API}/{own['id']}/events", json={"type": "transferred", "to_agency": DEPARTMENT})
    assert moved.status_code == 201 and moved.json()["agency_code"] == DEPARTMENT
    asked = officer.post(f"{API}/{own['id']}/events", json={"type": "supplement_requested", "note": "Ngày, giờ cụ thể"})
    assert asked.status_code == 201, asked.text
    assert clerk.get(f"{API}/{own['id']}").status_code == 200
    assert client_as("city-manager").get(API).json()["total"] == 2
    reads = session.execute(
        select(AuditEntry.username, AuditEntry.personal_data, AuditEntry.detail).where(
            AuditEntry.action == "GET /api/v1/complaints/{complaint_id}"
        )
    ).all()
    assert ("clerk", "unmasked", f"complaint {own['id']}") in reads
    assert CONTENT not in str(session.execute(select(AuditEntry.detail)).all())  # the content is never logged


def local(*args) -> datetime:
    return datetime(*args, tzinfo=LOCAL_TZ)


@pytest.fixture
def calendars():
    store = CalendarStore(first_year=2015, last_year=2035, working_hours=DEFAULT_WORKING_HOURS)
    return lambda session: (lambda code: store.get(session, code))


def _received(session, calendar_for, at, agency=WARD):
    data = ComplaintCreate(**body(agency))
    return service.receive(session, data=data, actor="clerk", calendar_for=calendar_for, now=at)


def test_the_queue_holds_complaints_due_soon_and_overdue(session, calendars):
    calendar_for = calendars(session)
    overdue = _received(session, calendar_for, local(2026, 1, 5, 10))  # answer due Fri 23/01 10:00
    soon = _received(session, calendar_for, local(2026, 1, 8, 10))  # answer due Wed 28/01 10:00
    later = _received(session, calendar_for, local(2026, 1, 20, 10))  # due in February
    publish = _received(session, calendar_for, local(2026, 1, 20, 11))
    answered = ComplaintEventCreate(type="answered", note="Trả lời")
    service.record(session, complaint_id=publish.id, data=answered, actor="clerk", calendar_for=calendar_for,
                   now=local(2026, 1, 26, 10))  # fmt: skip  # publish due Wed 28/01 10:00
    other = _received(session, calendar_for, local(2026, 1, 5, 10), agency=OTHER_WARD)
    now = local(2026, 1, 27, 9)  # due soon: by the end of the day 2 working days on (Thu 29/01)
    queue = service.queue(session, within=None, now=now, calendar=calendar_for(WARD))
    assert [c.id for c in queue.overdue] == [overdue.id, other.id]
    assert [c.id for c in queue.due_soon] == [soon.id, publish.id]
    assert queue.overdue[0].late_clocks == ["answer"]
    ward = service.queue(session, within=[soon.agency_id], now=now, calendar=calendar_for(WARD))
    assert [c.id for c in ward.overdue] == [overdue.id] and later.id not in [c.id for c in ward.due_soon]


def test_the_queue_api_and_the_list(client_as):
    clerk = client_as("clerk")
    created = clerk.post(API, json=body()).json()
    queue = clerk.get(f"{API}/queue").json()
    assert queue["overdue"] == [] and queue["due_soon"] == []  # received now: due in 15 working days
    listed = clerk.get(API, params={"status": "received"}).json()
    assert [c["id"] for c in listed["items"]] == [created["id"]] and "content" not in listed["items"][0]
