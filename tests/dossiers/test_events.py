"""Events: the state machine, the clock policies, the apology, hand-offs and blame, idempotent retries."""

from sqlalchemy import func, select

from dossiers.models import DossierEvent
from tests.dossiers.conftest import API, CITY_OFFICE, DEPARTMENT, RELIGION, RESIDENCE


def event_count(session) -> int:
    return session.execute(select(func.count()).select_from(DossierEvent)).scalar_one()


def test_illegal_event_is_409_naming_the_allowed_ones(receive, event):
    code = receive()["code"]
    refused = event(code, "result_returned", expect=409)
    assert refused["error"] == "invalid_transition"
    assert "allowed events: forwarded, supplement_requested, paused, apology_issued, resolved" in refused["detail"]


def test_full_life_resolved_early_and_returned(receive, event):
    code = receive()["code"]
    resolved = event(code, "resolved", at="2025-06-05T10:00", result="Đã đăng ký thường trú")
    assert resolved["status_code"] == 9 and resolved["outcome"] == "early"
    assert resolved["allowed_events"] == ["result_returned"]
    returned = event(code, "result_returned", at="2025-06-06T09:00")
    assert returned["status_code"] == 10 and returned["outcome"] == "early"
    assert returned["finished_at"] == "2025-06-05T10:00:00+07:00"
    assert returned["allowed_events"] == []
    assert [e["type"] for e in returned["timeline"]] == ["received", "resolved", "result_returned"]


def test_resolved_on_the_due_date_is_on_time_and_after_is_late(receive, event):
    on_time = receive()["code"]
    assert event(on_time, "resolved", at="2025-06-11T16:00")["outcome"] == "on_time"
    late = receive()["code"]
    assert event(late, "resolved", at="2025-06-12T08:30")["outcome"] == "late"


def test_supplement_restart_counts_the_full_time_again(receive, event):
    code = receive()["code"]  # due 11/06 09:00
    waiting = event(code, "supplement_requested", at="2025-06-03T10:00", reason="Thiếu giấy tờ chứng minh chỗ ở")
    assert waiting["status_code"] == 5 and waiting["supplement_count"] == 1
    back = event(code, "supplement_received", at="2025-06-05T14:00")
    assert back["status_code"] == 4
    assert back["clock_start_at"] == "2025-06-05T14:00:00+07:00"
    assert back["original_due_at"] == back["due_at"] == "2025-06-16T14:00:00+07:00"


def test_supplement_resume_moves_the_due_by_the_time_waited(client, receive, event):
    assert client.patch(f"/api/v1/procedures/{RESIDENCE}", json={"supplement_policy": "resume"}).status_code == 200
    code = receive()["code"]
    event(code, "supplement_requested", at="2025-06-03T10:00", reason="Thiếu giấy tờ")
    back = event(code, "supplement_received", at="2025-06-05T14:00")
    assert back["paused_minutes"] == 19 * 60
    assert back["due_at"] == "2025-06-13T12:00:00+07:00"


def test_second_supplement_request_is_counted(receive, event):
    code = receive()["code"]
    event(code, "supplement_requested", at="2025-06-03T10:00", reason="Thiếu giấy tờ")
    event(code, "supplement_received", at="2025-06-04T10:00")
    again = event(code, "supplement_requested", at="2025-06-05T10:00", reason="Thiếu bản sao")
    assert again["supplement_count"] == 2


def test_supplement_request_needs_its_reason(receive, event):
    code = receive()["code"]
    assert "needs a reason" in event(code, "supplement_requested", at="2025-06-03T10:00", expect=422)["detail"]


def test_pause_and_resume_move_the_due(receive, event):
    code = receive()["code"]
    paused = event(code, "paused", at="2025-06-03T10:00", reason="Chờ nộp lệ phí")
    assert paused["status_code"] == 6
    resumed = event(code, "resumed", at="2025-06-04T10:00")
    assert resumed["paused_minutes"] == 480
    assert resumed["due_at"] == "2025-06-12T09:00:00+07:00"


def test_one_apology_and_statistics_against_the_original_due(client, receive, event, session):
    code = receive()["code"]
    apology = event(
        code, "apology_issued", at="2025-06-05T10:00", new_due_at="2025-06-19T17:00", reason="Cần xác minh thêm"
    )
    assert apology["original_due_at"] == "2025-06-11T09:00:00+07:00"
    assert apology["rescheduled_due_at"] == apology["due_at"] == "2025-06-19T17:00:00+07:00"
    assert apology["apology_issued"] and "apology_issued" not in apology["allowed_events"]
    before = event_count(session)
    second = event(code, "apology_issued", at="2025-06-06T10:00", new_due_at="2025-06-25T17:00", reason="x", expect=409)
    assert "at most once" in second["detail"]
    assert event_count(session) == before
    resolved = event(code, "resolved", at="2025-06-13T10:00")
    assert resolved["outcome"] == "late"  # within the new date, but late against the original
    letter = client.get(f"{API}/{code}/apology")
    assert letter.status_code == 200
    assert "Phiếu xin lỗi" in letter.text and "Cần xác minh thêm" in letter.text
    assert "17 giờ 00 phút, ngày 19 tháng 06 năm 2025" in letter.text


def test_apology_less_than_a_working_day_ahead_is_refused(client, receive, event):
    code = receive()["code"]
    refused = event(
        code, "apology_issued", at="2025-06-10T15:00", new_due_at="2025-06-20T17:00", reason="x", expect=422
    )
    assert "at least 1 working day before" in refused["detail"]
    assert client.get(f"{API}/{code}/apology").status_code == 404


def test_three_step_chain_blames_the_late_step(receive, event):
    dossier = receive(procedure_code=RELIGION, agency_code=DEPARTMENT, received_at="2025-09-03T09:00")
    code = dossier["code"]
    assert dossier["stages"][0]["due_at"] == "2025-10-02T09:00:00+07:00"
    event(code, "forwarded", at="2025-10-06T10:00", to_agency=CITY_OFFICE)  # the department is late
    back = event(code, "forwarded", at="2025-10-10T10:00", from_agency=CITY_OFFICE, to_agency=DEPARTMENT)
    assert back["current_agency_code"] == DEPARTMENT
    done = event(code, "resolved", at="2025-10-13T15:00")
    stages = [(s["agency_code"], s["outcome"]) for s in done["stages"]]
    assert stages == [(DEPARTMENT, "late"), (CITY_OFFICE, "early"), (DEPARTMENT, "early")]
    assert done["late_stages"] == [1]
    assert done["outcome"] == "early"
    assert done["stages"][0]["overrun_minutes"] > 0


def test_forward_needs_a_known_destination_and_writes_nothing_otherwise(receive, event, session):
    code = receive()["code"]
    before = event_count(session)
    assert "needs to_agency" in event(code, "forwarded", at="2025-06-03T10:00", expect=422)["detail"]
    assert event(code, "forwarded", at="2025-06-03T10:00", to_agency="nope", expect=404)["error"] == "not_found"
    assert event_count(session) == before


def test_events_must_be_in_time_order_and_not_in_the_future(receive, event):
    code = receive()["code"]
    assert "before the previous event" in event(code, "resolved", at="2025-06-01T10:00", expect=422)["detail"]
    assert "in the future" in event(code, "resolved", at="2099-01-01T10:00", expect=422)["detail"]


def test_withdrawal_is_counted_apart(receive, event):
    code = receive()["code"]
    withdrawn = event(code, "withdrawn", at="2025-06-04T10:00", reason="Công dân rút hồ sơ")
    assert withdrawn["status_code"] == 7 and withdrawn["outcome"] == "withdrawn"


def test_abandoned_after_a_supplement_request(receive, event):
    code = receive()["code"]
    event(code, "supplement_requested", at="2025-06-03T10:00", reason="Thiếu giấy tờ")
    abandoned = event(code, "abandoned", at="2025-06-25T10:00")
    assert abandoned["status_code"] == 8 and abandoned["outcome"] == "withdrawn"


def test_idempotent_event_retry_writes_nothing(client, receive, session):
    code = receive()["code"]
    body = {"type": "paused", "at": "2025-06-03T10:00", "reason": "Chờ nghĩa vụ tài chính", "backdate_reason": "x"}
    first = client.post(f"{API}/{code}/events", json=body, headers={"Idempotency-Key": "evt-1"})
    assert first.status_code == 201
    before = event_count(session)
    again = client.post(f"{API}/{code}/events", json=body, headers={"Idempotency-Key": "evt-1"})
    assert again.status_code == 201 and again.json() == first.json()
    assert event_count(session) == before
    other = client.post(f"{API}/{code}/events", json={**body, "reason": "khác"}, headers={"Idempotency-Key": "evt-1"})
    assert other.status_code == 409
    assert event_count(session) == before


def test_reading_a_dossier_shows_its_clock(client, receive, event):
    code = receive()["code"]
    event(code, "paused", at="2025-06-03T10:00", reason="Chờ")
    event(code, "resumed", at="2025-06-04T10:00")
    body = client.get(f"{API}/{code}").json()
    assert body["paused_minutes"] == 480
    assert body["remaining_working_minutes"] < 0  # long past its due today
    assert body["elapsed_working_minutes"] > 0
    assert body["applicant"]["id_number"] == "001190012345"
    assert [e["seq"] for e in body["timeline"]] == [1, 2, 3]


def test_instants_out_of_range_are_a_422_naming_the_range(receive, event):
    """Year 1 at +14:00 lies before year 1 in UTC: refused by validation, not a 500 in the arithmetic."""
    for instant in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"):
        refused = receive(received_at=instant, expect=422)
        assert "out of range: dates and instants lie in 1900–2200" in str(refused["detail"]), refused
    code = receive()["code"]
    for field, fields in (
        ("at", {"at": "0001-01-01T00:00:00+14:00"}),
        ("new_due_at", {"at": "2025-06-03T10:00", "reason": "x", "new_due_at": "0001-01-01T00:00:00+14:00"}),
    ):
        refused = event(code, "apology_issued" if field == "new_due_at" else "resolved", expect=422, **fields)
        assert "year 1 is out of range" in str(refused["detail"]), (field, refused)
