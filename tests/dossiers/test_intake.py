"""Intake: the code, the first event and the appointment at once; refusals write nothing."""

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select

from api.db import for_writes, session_scope
from dossiers import intake as dossier_intake
from dossiers.models import Dossier, DossierCodeCounter, DossierEvent, Stage
from dossiers.schemas import ApplicantIn, DossierCreate
from procedures.models import Agency
from sla.calendars import CalendarStore
from sla.core.calendar import DEFAULT_WORKING_HOURS
from tests.conftest import BACKDATE_REASON
from tests.dossiers.conftest import API, DEPARTMENT, RELIGION, WARD


def count(session, model) -> int:
    return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_intake_gives_code_status_and_appointment(receive):
    dossier = receive()
    assert re.fullmatch(rf"{re.escape(WARD)}-250602-\d{{4}}", dossier["code"])
    assert dossier["status"] == "received" and dossier["status_code"] == 2
    assert dossier["received_at"] == "2025-06-02T09:00:00+07:00"
    assert dossier["original_due_at"] == dossier["due_at"] == "2025-06-11T09:00:00+07:00"
    assert [s["agency_code"] for s in dossier["stages"]] == [WARD]
    assert dossier["timeline"][0]["type"] == "received"
    assert dossier["channel_code"] == 1


def test_codes_follow_the_daily_sequence_per_agency(receive):
    first = receive(received_at="2025-06-03T08:30")["code"]
    second = receive(received_at="2025-06-03T16:00")["code"]
    other_day = receive(received_at="2025-06-04T08:30")["code"]
    assert int(second[-4:]) == int(first[-4:]) + 1
    assert other_day.endswith("-250604-" + other_day[-4:]) and other_day[-4:] == "0001"


def test_received_out_of_hours_starts_the_clock_at_the_next_working_instant(receive):
    dossier = receive(received_at="2025-06-06T18:30")  # Friday evening
    assert dossier["clock_start_at"] == "2025-06-09T08:00:00+07:00"
    assert dossier["due_at"] == "2025-06-17T17:00:00+07:00"


def test_back_dated_entry_is_accepted_and_a_future_one_refused(client, receive, session):
    old = receive(received_at="2024-12-30T10:00")
    assert old["code"].split("-")[-2] == "241230"
    before = count(session, Dossier)
    future = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    response = client.post(
        API,
        json={"procedure_code": RELIGION, "agency_code": DEPARTMENT, "received_at": future, "applicant": {"name": "A"}},
    )
    assert response.status_code == 422
    assert "in the future" in response.json()["detail"]
    assert count(session, Dossier) == before


def test_intake_defaults_to_now(receive):
    dossier = receive(received_at=None)
    received = datetime.fromisoformat(dossier["received_at"])
    assert abs(datetime.now(UTC) - received) < timedelta(minutes=1)


def test_online_submission_starts_its_clock_when_received(receive, event):
    submitted = receive(received_at="2025-06-06T21:00", status="submitted", channel="online")
    assert submitted["status_code"] == 1
    assert submitted["due_at"] is None and submitted["received_at"] is None
    assert submitted["allowed_events"] == ["received", "refused", "withdrawn"]
    received = event(submitted["code"], "received", at="2025-06-09T10:00")
    assert received["status_code"] == 2
    assert received["received_at"] == "2025-06-09T10:00:00+07:00"
    assert received["due_at"] == "2025-06-18T10:00:00+07:00"


def test_refusal_at_intake_is_recorded_and_closed(receive, event):
    refused = receive(status="refused", reason="Hồ sơ không thuộc thẩm quyền")
    assert refused["status_code"] == 3 and refused["outcome"] == "refused"
    assert refused["allowed_events"] == []
    event(refused["code"], "resolved", expect=409)


def test_bad_intakes_are_refused_with_what_is_accepted(client):
    cases = [
        ({"procedure_code": "9.999999", "agency_code": WARD}, 404, "no procedure"),
        ({"procedure_code": RELIGION, "agency_code": "nope"}, 404, "no agency"),
        ({"procedure_code": RELIGION, "agency_code": WARD, "channel": "fax"}, 422, "'counter'"),
        (
            {
                "procedure_code": RELIGION,
                "agency_code": WARD,
                "received_at": "2020-01-01T09:00",
                "backdate_reason": "x",
            },
            404,
            "no version in force",
        ),
    ]
    for body, status, words in cases:
        response = client.post(API, json={**body, "applicant": {"name": "A"}})
        assert response.status_code == status, (body, response.text)
        assert words in response.json()["detail"]
    response = client.post(
        API, json={"procedure_code": RELIGION, "agency_code": WARD, "applicant": {"name": "A", "phone": "abc"}}
    )
    assert response.status_code == 422 and "phone" in response.json()["detail"]


def test_idempotent_intake_writes_once(client, session):
    body = {
        "procedure_code": RELIGION,
        "agency_code": DEPARTMENT,
        "received_at": "2025-06-02T09:00",
        "backdate_reason": BACKDATE_REASON,
        "applicant": {"name": "A"},
    }
    first = client.post(API, json=body, headers={"Idempotency-Key": "intake-1"})
    before = count(session, Dossier)
    again = client.post(API, json=body, headers={"Idempotency-Key": "intake-1"})
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert count(session, Dossier) == before
    other = client.post(API, json={**body, "channel": "post"}, headers={"Idempotency-Key": "intake-1"})
    assert other.status_code == 409
    assert count(session, Dossier) == before


def test_receipt_is_printable_form_01(client, receive):
    dossier = receive()
    response = client.get(f"{API}/{dossier['code']}/receipt")
    assert response.status_code == 200
    html = response.text
    assert "Giấy tiếp nhận hồ sơ và hẹn trả kết quả" in html
    assert dossier["code"] in html and "Nguyễn Thị Lan" in html and "Đăng ký thường trú" in html
    assert "09 giờ 00 phút, ngày 11 tháng 06 năm 2025" in html
    assert '<link rel="stylesheet" href="/static/form.css">' in html  # the CSP allows no inline style
    assert "@media print" in client.get("/static/form.css").text


def test_list_and_search(client, receive):
    mine = receive(applicant={"name": "Trần Văn Bình", "phone": "0987654321"})
    by_name = client.get(API, params={"q": "tran van binh", "agency": WARD}).json()
    assert [d["code"] for d in by_name["items"]] == [mine["code"]]
    by_phone = client.get(API, params={"q": "0987654321"}).json()
    assert by_phone["total"] == 1
    by_status = client.get(API, params={"status": 2, "procedure": "1.004222", "received_from": "2025-06-02"}).json()
    assert mine["code"] in [d["code"] for d in by_status["items"]]
    assert client.get(f"{API}/nope").status_code == 404


def test_fifty_parallel_intakes_get_fifty_distinct_codes(engine):
    store = CalendarStore(first_year=2020, last_year=2030, working_hours=DEFAULT_WORKING_HOURS)
    agency_code = "000.06.02.H26"

    def intake(number: int) -> str:
        with session_scope(for_writes(engine)) as session:
            dossier = dossier_intake.receive(
                session,
                data=DossierCreate(
                    procedure_code=RELIGION,
                    agency_code=agency_code,
                    received_at=datetime(2025, 3, 3, 9),
                    applicant=ApplicantIn(name=f"Người nộp {number}"),
                ),
                actor="test",
                calendar_for=lambda code: store.get(session, code),
                now=datetime.now(UTC),
                rules=dossier_intake.HISTORY,
            ).dossier
            return dossier.code

    try:
        with ThreadPoolExecutor(max_workers=16) as pool:
            codes = list(pool.map(intake, range(50)))
        assert len(set(codes)) == 50
        assert sorted(int(c[-4:]) for c in codes) == list(range(1, 51))
    finally:
        with session_scope(engine) as session:
            agency_id = session.execute(select(Agency.id).where(Agency.code == agency_code)).scalar_one()
            ids = select(Dossier.id).where(Dossier.receiving_agency_id == agency_id)
            session.execute(delete(Stage).where(Stage.dossier_id.in_(ids)))
            session.execute(delete(DossierEvent).where(DossierEvent.dossier_id.in_(ids)))
            session.execute(delete(Dossier).where(Dossier.receiving_agency_id == agency_id))
            session.execute(delete(DossierCodeCounter).where(DossierCodeCounter.agency_id == agency_id))
