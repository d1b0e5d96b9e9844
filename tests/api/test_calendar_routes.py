"""Calendar routes: local time in and out, overrides applied at once, bad input named."""

import pytest

API = "/api/v1/calendar"


def due(client, **params):
    return client.get(f"{API}/due", params=params)


def test_due_over_a_make_up_saturday(client):
    response = due(client, start="2025-04-25T09:00", amount=3, unit="working_days")
    assert response.status_code == 200
    assert response.json() == {
        "start": "2025-04-25T09:00:00+07:00",
        "clock_start": "2025-04-25T09:00:00+07:00",
        "due_at": "2025-04-29T09:00:00+07:00",
        "amount": 3.0,
        "unit": "working_days",
    }


def test_instant_with_an_offset_is_read_as_given(client):
    body = due(client, start="2025-04-25T02:00:00Z", amount=3, unit="working_days").json()
    assert body["start"] == "2025-04-25T09:00:00+07:00"
    assert body["due_at"] == "2025-04-29T09:00:00+07:00"


def test_same_day_after_the_cutoff_is_due_next_working_day(client):
    body = due(client, start="2025-04-29T15:30", unit="same_day", cutoff="15:00").json()
    assert body["clock_start"] == "2025-05-05T08:00:00+07:00"  # 30/04–02/05 off, then the weekend
    assert body["due_at"] == "2025-05-05T17:00:00+07:00"


def test_calendar_days_ending_on_a_holiday_move_to_the_next_working_day(client):
    body = due(client, start="2025-04-25T09:00", amount=5, unit="calendar_days").json()
    assert body["due_at"] == "2025-05-05T17:00:00+07:00"  # 30/04 is a holiday, then 01–02/05 and a weekend


@pytest.mark.parametrize(
    "params, status, words",
    [
        ({"start": "2025-04-25T09:00", "amount": 3, "unit": "fortnights"}, 422, ["working_days", "same_day"]),
        ({"start": "2025-04-25T09:00", "amount": -1, "unit": "working_days"}, 422, ["greater than or equal to 0"]),
        ({"start": "2025-04-25T09:00", "amount": "three", "unit": "working_days"}, 422, ["amount"]),
        ({"start": "25/04/2025 9h", "amount": 3, "unit": "working_days"}, 422, ["start"]),
        ({"start": "2025-04-25T09:00", "unit": "working_days"}, 422, ["needs an amount"]),
        ({"start": "2025-04-25T09:00", "amount": 3, "agency": "nope"}, 404, ["nope"]),
        ({"start": "2099-04-25T09:00", "amount": 3}, 422, ["2015", "2035"]),
    ],
)
def test_bad_input_names_what_is_accepted(client, params, status, words):
    response = due(client, **params)
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= {"error", "detail"}
    for word in words:
        assert word in body["detail"]


def test_elapsed_counts_working_time_only(client):
    response = client.get(f"{API}/elapsed", params={"start": "2025-04-25T09:00", "end": "2025-04-29T09:00"})
    assert response.json() == {"working_minutes": 3 * 480, "working_days": 3.0}
    lunch = client.get(f"{API}/elapsed", params={"start": "2025-04-28T11:30", "end": "2025-04-28T13:30"}).json()
    assert lunch["working_minutes"] == 60


def test_elapsed_refuses_end_before_start(client):
    response = client.get(f"{API}/elapsed", params={"start": "2025-04-29T09:00", "end": "2025-04-25T09:00"})
    assert response.status_code == 422
    assert "before start" in response.json()["detail"]


def test_days_of_2026_list_package_days_and_seed_overrides(client):
    body = client.get(f"{API}/days", params={"year": 2026}).json()
    days = {d["date"]: d for d in body["days"]}
    assert days["2026-01-02"]["kind"] == "off" and days["2026-01-02"]["source"] == "override"
    assert days["2026-01-02"]["legal_ref"] == "Công văn 12729/VPCP-KGVX"
    assert days["2026-01-10"]["kind"] == "workday"
    assert days["2026-08-22"]["kind"] == "workday"
    assert days["2026-04-27"]["kind"] == "off"
    assert "2026-11-24" not in days or days["2026-11-24"]["kind"] == "workday"
    assert body["working_day_count"] == 250


def test_override_applies_at_once_and_can_be_removed(client):
    before = due(client, start="2025-06-02T09:00", amount=1).json()["due_at"]
    assert before == "2025-06-03T09:00:00+07:00"
    created = client.post(
        f"{API}/overrides",
        json={"date": "2025-06-03", "kind": "off", "reason": "Bão số 1", "legal_ref": "Công điện 01/CĐ-TTg"},
    )
    assert created.status_code == 201, created.text
    override_id = created.json()["id"]
    assert due(client, start="2025-06-02T09:00", amount=1).json()["due_at"] == "2025-06-04T09:00:00+07:00"
    listed = client.get(f"{API}/overrides", params={"year": 2025}).json()
    assert [o["id"] for o in listed if o["date"] == "2025-06-03"] == [override_id]
    assert client.delete(f"{API}/overrides/{override_id}").status_code == 204
    assert due(client, start="2025-06-02T09:00", amount=1).json()["due_at"] == before
    assert client.delete(f"{API}/overrides/{override_id}").status_code == 404


def test_agency_closure_moves_only_that_agency(client):
    closure = {"date": "2025-06-03", "kind": "off", "reason": "Ngập lụt trụ sở", "agency_code": "000.07.01.H26"}
    assert client.post(f"{API}/overrides", json=closure).status_code == 201
    here = due(client, start="2025-06-02T09:00", amount=1, agency="000.07.01.H26").json()
    elsewhere = due(client, start="2025-06-02T09:00", amount=1, agency="000.01.01.H26").json()
    assert here["due_at"] == "2025-06-04T09:00:00+07:00"
    assert elsewhere["due_at"] == "2025-06-03T09:00:00+07:00"


def test_agency_working_hours_are_its_own(client):
    body = due(client, start="2025-06-02T07:00", amount=0.5, agency="000.07.02.H26").json()
    assert body["clock_start"] == "2025-06-02T07:00:00+07:00"
    assert body["due_at"] == "2025-06-02T11:00:00+07:00"


def test_second_override_on_a_date_is_refused(client):
    body = {"date": "2026-01-02", "kind": "workday", "reason": "thử"}
    response = client.post(f"{API}/overrides", json=body)
    assert response.status_code == 422
    assert "already has an override" in response.json()["detail"]


def test_override_with_bad_kind_or_unknown_agency(client):
    response = client.post(f"{API}/overrides", json={"date": "2025-06-03", "kind": "holiday", "reason": "x"})
    assert response.status_code == 422
    assert "'off'" in response.json()["detail"] and "'workday'" in response.json()["detail"]
    response = client.post(
        f"{API}/overrides", json={"date": "2025-06-03", "kind": "off", "reason": "x", "agency_code": "nope"}
    )
    assert response.status_code == 404
