"""Queues, reports and scores over HTTP, with their CSV and XLSX downloads."""

import io

import pytest
from openpyxl import load_workbook

API = "/api/v1"
WARD = "000.01.01.H26"


@pytest.fixture
def dossiers(client):
    def receive(received_at=None, **extra):
        body = {"procedure_code": "1.004222", "agency_code": WARD, "applicant": {"name": "Lê Văn C"}, **extra}
        if received_at:
            body["received_at"] = body["backdate_reason"] = received_at
        response = client.post(f"{API}/dossiers", json=body)
        assert response.status_code == 201, response.text
        return response.json()["code"]

    late = receive("2025-06-02T09:00")
    fresh = receive()
    resolved = receive("2025-06-03T09:00")
    assert (
        client.post(
            f"{API}/dossiers/{resolved}/events",
            json={"type": "resolved", "at": "2025-06-05T09:00", "backdate_reason": "x"},
        ).status_code
        == 201
    )
    return {"late": late, "fresh": fresh, "resolved": resolved}


def test_overdue_queue_with_counts(client, dossiers):
    response = client.get(f"{API}/queues/overdue", params={"agency": WARD})
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 1 and response.headers["X-Total-Count"] == "1"
    row = body["rows"][0]
    assert row["code"] == dossiers["late"]
    assert row["working_days_overdue"] > 100
    assert row["current_stage"] and row["due_at"].endswith("+07:00")


def test_due_soon_queue(client, dossiers):
    soon = client.get(f"{API}/queues/due-soon", params={"agency": WARD, "within_working_days": 10}).json()
    assert [row["code"] for row in soon["rows"]] == [dossiers["fresh"]]
    assert client.get(f"{API}/queues/due-soon", params={"agency": WARD, "within_working_days": 1}).json()["total"] == 0


def test_queue_filters_and_bad_input(client, dossiers):
    assert client.get(f"{API}/queues/overdue", params={"agency": WARD, "field": "cu_tru"}).json()["total"] == 1
    assert client.get(f"{API}/queues/overdue", params={"agency": WARD, "procedure": "1.001193"}).json()["total"] == 0
    assert client.get(f"{API}/queues/overdue", params={"agency": "nope"}).status_code == 404
    assert client.get(f"{API}/queues/overdue", params={"agency": WARD, "field": "nope"}).status_code == 404
    assert client.get(f"{API}/queues/overdue").status_code == 422


def test_period_report_json_and_csv(client, dossiers):
    params = {"from": "2025-06-01", "to": "2025-06-30", "group_by": "agency"}
    body = client.get(f"{API}/reports/period", params=params).json()
    assert body["group_by"] == "agency"
    rows = {row["group"]: row for row in body["rows"]}
    assert rows[WARD]["received_new"] == 2 and rows[WARD]["early"] == 1 and rows[WARD]["open_overdue"] == 1
    assert rows["total"]["total"] == 2
    csv = client.get(f"{API}/reports/period", params={**params, "format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv")
    assert "Nhóm,Mã đơn vị,Tên đơn vị,Kỳ trước chuyển qua" in csv.content.decode("utf-8-sig").splitlines()[0]
    raw = client.get(f"{API}/reports/period", params={**params, "format": "csv", "raw": "true"})
    assert "group,agency_code,agency_name,carried_over" in raw.content.decode("utf-8-sig").splitlines()[0]


def test_period_report_xlsx_follows_the_national_form(client, dossiers):
    params = {"from": "2025-06-01", "to": "2025-06-30", "group_by": "agency", "format": "xlsx"}
    response = client.get(f"{API}/reports/period", params=params)
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet["A1"].value == "TÌNH HÌNH, KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH – TẤT CẢ CƠ QUAN, ĐƠN VỊ"
    headers = {cell.value for row in sheet.iter_rows(min_row=4, max_row=5) for cell in row if cell.value}
    assert {"Số hồ sơ nhận giải quyết", "Số hồ sơ đã giải quyết", "Trước hạn", "Đúng hạn", "Quá hạn"} <= headers
    merged = {str(r) for r in sheet.merged_cells.ranges}
    assert "C4:G4" in merged and "A4:A5" in merged
    last = next([cell.value for cell in row] for row in sheet.iter_rows() if row[1].value == "Tổng cộng")
    assert last[2] == 2 and not last[0]


def test_report_bad_input(client):
    assert client.get(f"{API}/reports/period", params={"from": "2025-06-30", "to": "2025-06-01"}).status_code == 422
    response = client.get(f"{API}/reports/period", params={"from": "2025-06-01", "to": "2025-06-30", "group_by": "x"})
    assert response.status_code == 422 and "'agency'" in response.json()["detail"]
    assert client.get(f"{API}/reports/period", params={"from": "2025-06-01"}).status_code == 422


def test_stage_report_and_xlsx(client, dossiers):
    body = client.get(f"{API}/reports/stages", params={"from": "2025-06-01", "to": "2025-06-30"}).json()
    rows = {row["group"]: row for row in body["rows"]}
    assert rows[WARD]["steps_on_time"] == 1 and rows["total"]["steps"] == 1
    xlsx = client.get(f"{API}/reports/stages", params={"from": "2025-06-01", "to": "2025-06-30", "format": "xlsx"})
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet["B3"].value == "Mã đơn vị" and "Tổng cộng" in [row[0].value for row in sheet.iter_rows()]


def test_index_scores_name_their_formulas(client, dossiers):
    body = client.get(f"{API}/index/scores", params={"period": "2025-06", "agency": WARD}).json()
    assert (body["from"], body["to"]) == ("2025-06-01", "2025-06-30")
    ward = next(row for row in body["agencies"] if row["agency_code"] == WARD)
    scores = {score["formula"]: score for score in ward["scores"]}
    assert set(scores) == {"on-time-rate-v1", "strict-on-time-rate-v1", "766-progress-v1", "par-on-time-v1"}
    assert scores["on-time-rate-v1"]["value"] == 1.0
    assert scores["strict-on-time-rate-v1"]["value"] == 0.5
    assert scores["766-progress-v1"]["value"] == 10.0
    assert scores["par-on-time-v1"]["value"] == 1.0 and "proportional" in scores["par-on-time-v1"]["scoring"]
    quarter = client.get(f"{API}/index/scores", params={"period": "2025-Q2"}).json()
    assert (quarter["from"], quarter["to"]) == ("2025-04-01", "2025-06-30")
    bad = client.get(f"{API}/index/scores", params={"period": "2025-13"})
    assert bad.status_code == 422 and "YYYY-MM" in bad.json()["detail"]
