"""The dashboard over a period against a year earlier, its filters, its figures (those of the report routes),
the dossiers behind a report cell, its charts' scale, and the exports for people (both languages)."""

import csv
import html
import io
import json
import re

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from api.web.auth import SESSION_COOKIE
from sla import reports
from tests.conftest import BACKDATE_REASON, WARD

API = "/api/v1"
RESIDENCE, BIRTH = "1.004222", "1.001193"  # Đăng ký thường trú (cư trú), Đăng ký khai sinh (hộ tịch)
COUNTED = ["total", "carried_over", "received_new", "resolved", "early", "on_time", "late", "withdrawn", "open"]


def receive(client, procedure: str, received_at: str) -> str:
    body = {
        "procedure_code": procedure,
        "agency_code": WARD,
        "applicant": {"name": "Trần Văn Minh", "phone": "0912000111"},
        "received_at": received_at,
        "backdate_reason": BACKDATE_REASON,
    }
    response = client.post(f"{API}/dossiers", json=body)
    assert response.status_code == 201, response.text
    return response.json()["code"]


def resolve(client, code: str, at: str) -> None:
    event = {"type": "resolved", "at": at, "backdate_reason": BACKDATE_REASON}
    response = client.post(f"{API}/dossiers/{code}/events", json=event)
    assert response.status_code == 201, response.text


@pytest.fixture
def history(client) -> dict[str, str]:
    """Q1 2025: a residence dossier resolved early, a birth registration resolved late, one birth still open;
    Q1 2024: a birth registration resolved on its day."""
    codes = {
        "residence": receive(client, RESIDENCE, "2025-02-03T09:00"),
        "birth_late": receive(client, BIRTH, "2025-02-10T09:00"),
        "birth_open": receive(client, BIRTH, "2025-03-03T09:00"),
        "birth_2024": receive(client, BIRTH, "2024-02-05T09:00"),
    }
    resolve(client, codes["residence"], "2025-02-05T10:00")
    resolve(client, codes["birth_late"], "2025-02-20T10:00")
    resolve(client, codes["birth_2024"], "2024-02-05T10:00")
    return codes


def total_row(response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()["rows"][-1]


def row_cells(page_text: str, row_id: str) -> list[str]:
    row = re.search(rf'<tr id="{row_id}"[^>]*>(.*?)</tr>', page_text, re.S).group(1)
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]


def test_period_names_and_from_to_give_the_same_report(client, history):
    by_name = client.get(f"{API}/reports/period", params={"period": "2025-Q1", "agency": WARD})
    by_days = client.get(f"{API}/reports/period", params={"from": "2025-01-01", "to": "2025-03-31", "agency": WARD})
    assert by_name.json()["rows"] == by_days.json()["rows"]
    assert by_name.json()["period"] == "2025-Q1" and "period" not in by_days.json()
    assert set(by_days.json()) == {"from", "to", "group_by", "agency", "rows"}  # the answer scripts know
    total = total_row(by_name)
    assert (total["resolved"], total["early"], total["late"], total["open"]) == (2, 1, 1, 1)
    half = total_row(client.get(f"{API}/reports/period", params={"period": "2025-H1", "agency": WARD}))
    month = total_row(client.get(f"{API}/reports/period", params={"period": "2025-02", "agency": WARD}))
    year = total_row(client.get(f"{API}/reports/period", params={"period": "2024", "agency": WARD}))
    assert (half["resolved"], month["resolved"], month["received_new"], year["resolved"]) == (2, 2, 2, 1)
    bad = client.get(f"{API}/reports/period", params={"period": "2025-Q5"})
    assert bad.status_code == 422 and "YYYY-Hn" in bad.json()["detail"]
    both = client.get(f"{API}/reports/period", params={"period": "2025", "from": "2025-01-01", "to": "2025-02-01"})
    assert both.status_code == 422 and "not both" in both.json()["detail"]
    assert client.get(f"{API}/reports/period").status_code == 422


def test_filters_apply_to_the_report_routes(client, history):
    params = {"period": "2025-Q1", "agency": WARD}
    birth = total_row(client.get(f"{API}/reports/period", params={**params, "procedure": "khai sinh"}))
    assert (birth["resolved"], birth["late"], birth["open"]) == (1, 1, 1)
    accents = total_row(client.get(f"{API}/reports/period", params={**params, "procedure": "Đăng ký KHAI SINH"}))
    assert accents == birth
    by_code = total_row(client.get(f"{API}/reports/period", params={**params, "procedure": RESIDENCE}))
    assert (by_code["resolved"], by_code["early"], by_code["open"]) == (1, 1, 0)
    field = total_row(client.get(f"{API}/reports/period", params={**params, "field": "cu_tru"}))
    assert field == by_code
    nothing = total_row(client.get(f"{API}/reports/period", params={**params, "procedure": "khong co thu tuc nay"}))
    assert nothing["total"] == 0
    stages = client.get(f"{API}/reports/stages", params={**params, "procedure": "khai sinh"})
    assert stages.status_code == 200 and stages.json()["procedure"] == "khai sinh"
    assert client.get(f"{API}/reports/period", params={**params, "field": "nope"}).status_code == 404


def test_from_and_to_are_typed_day_first_on_the_dashboard(client, history):
    typed = client.get("/dashboard", params={"from": "01/01/2025", "to": "31/03/2025", "agency": WARD})
    iso = client.get("/dashboard", params={"from": "2025-01-01", "to": "2025-03-31", "agency": WARD})
    assert typed.status_code == iso.status_code == 200
    assert row_cells(html.unescape(typed.text), "period-total") == row_cells(html.unescape(iso.text), "period-total")
    assert 'value="01/01/2025"' in iso.text and 'value="31/03/2025"' in iso.text  # shown day first
    assert 'type="date"' not in iso.text  # the browser's locale decides nothing
    wrong = client.get("/dashboard", params={"from": "03/31/2025", "to": "2025-03-31", "agency": WARD})
    assert wrong.status_code == 422 and "dd/mm/yyyy" in wrong.text


def test_the_dashboard_shows_the_report_routes_figures_and_the_year_before(client, history):
    params = {"period": "2025-Q1", "agency": WARD, "procedure": "khai sinh"}
    page = client.get("/dashboard", params=params)
    assert page.status_code == 200, page.text
    text = html.unescape(page.text)
    route = total_row(client.get(f"{API}/reports/period", params=params))
    before = total_row(client.get(f"{API}/reports/period", params={**params, "period": "2024-Q1"}))
    shown, shown_before = row_cells(text, "period-total"), row_cells(text, "period-year-before")
    assert shown[: len(COUNTED)] == [str(route[key]) for key in COUNTED]
    assert shown_before[: len(COUNTED)] == [str(before[key]) for key in COUNTED]
    assert shown[-2] == "0 %" and shown_before[-2] == "100 %"  # on-time rate: the late one, the 2024 one on time
    assert "Cùng kỳ năm trước (01/01/2024 – 31/03/2024)" in text
    assert "Báo cáo kỳ 01/01/2025 – 31/03/2025" in text
    assert "Tỷ lệ đúng hạn (chặt) = 1 − (giải quyết quá hạn" in text  # the formula, where the rate is shown
    # the queues follow the same filter: the open birth registration is overdue, and not a residence dossier
    assert f'href="/desk/dossiers/{history["birth_open"]}"' in text
    residence = client.get("/dashboard", params={**params, "procedure": "thuong tru"})
    assert f'href="/desk/dossiers/{history["birth_open"]}"' not in residence.text
    assert row_cells(html.unescape(residence.text), "period-total")[3] == "1"
    unfiltered = client.get("/dashboard", params={"period": "2025-Q1", "agency": WARD})
    assert row_cells(html.unescape(unfiltered.text), "period-total")[3] == "2"


def test_every_report_cell_opens_as_many_dossiers_as_it_counts(client, history):
    page = client.get("/dashboard", params={"period": "2025-Q1", "agency": WARD})
    text = html.unescape(page.text)
    row = re.search(r'<tr id="period-total"[^>]*>(.*?)</tr>', text, re.S).group(1)
    links = re.findall(r'<a href="(/dashboard/dossiers\?[^"]+)">([\d.]+)</a>', row)
    columns = {re.search(r"column=(\w+)", link).group(1) for link, _ in links}
    assert {"total", "resolved", "late", "early", "open", "received_new"} <= columns
    for link, figure in links:
        listed = client.get(link)
        assert listed.status_code == 200, link
        assert re.search(rf'id="cell-count">[^<]*{figure.replace(".", "")}\D', listed.text), link
    late = next(link for link, _ in links if "column=late" in link)
    assert history["birth_late"] in client.get(late).text and history["residence"] not in client.get(late).text
    assert columns == set(reports.CELL_COLUMNS) - {"withdrawn", "open_within", "carried_over", "on_time"}
    unknown = client.get("/dashboard/dossiers", params={"from": "2025-01-01", "to": "2025-03-31", "column": "x"})
    assert unknown.status_code == 422


def test_charts_are_fitted_titled_targeted_and_compared(client, history):
    text = client.get("/dashboard", params={"period": "2025", "agency": WARD}).text
    monthly = json.loads(html.unescape(re.search(r'id="monthly-chart-data">(.*?)</script>', text, re.S).group(1)))
    assert len(monthly["labels"]) == 12 and monthly["labels"][0] == "01/2025"
    assert [dataset["label"] for dataset in monthly["datasets"]][2] == "Tỷ lệ đúng hạn cùng kỳ năm trước"
    assert monthly["datasets"][2]["data"][1] == 100.0  # February 2024's birth registration, on time
    assert monthly["target"]["value"] == 95.0 and monthly["target"]["label"] == "Mục tiêu 95 %"
    assert monthly["axis"] == {"value": "Tỷ lệ (%)", "category": "Tháng"}
    assert monthly["locale"] == "vi-VN" and monthly["unit"] == " %"
    assert monthly["scale"]["min"] == 0  # the data go down to 0 %
    month = client.get("/dashboard", params={"period": "2025-03", "agency": WARD}).text
    spec = json.loads(html.unescape(re.search(r'id="monthly-chart-data">(.*?)</script>', month, re.S).group(1)))
    assert spec["labels"][-1] == "03/2025" and len(spec["labels"]) == 12  # a month: the twelve up to it
    from api.web.dashboard import _scale

    assert _scale([92.5, 98.0, None], 95.0) == {"min": 90, "max": 100}
    assert _scale([97.0], 95.0) == {"min": 90, "max": 100}


def test_queues_show_durations_not_decimal_days(client):
    receive(client, RESIDENCE, "2025-06-02T09:00")
    page = html.unescape(client.get("/dashboard", params={"agency": WARD}).text)
    table = re.search(r'<table[^>]*id="overdue-table".*?</table>', page, re.S).group(0)
    cells = re.findall(r'<td data-sort="[\d.]+" class="num">([^<]*)</td>', table)
    assert cells and all(re.fullmatch(r"[\d.]+ ngày( \d+ giờ)?( \d+ phút)?", cell) for cell in cells), cells


def _csv_rows(response) -> list[dict]:
    assert response.status_code == 200, response.text
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_csv_for_people_in_both_languages_and_raw_for_scripts(client, history):
    params = {"period": "2025-Q1", "agency": WARD, "format": "csv"}
    vi = _csv_rows(client.get(f"{API}/reports/period", params=params))
    assert vi[-1]["Nhóm"] == "Tổng cộng" and vi[-1]["Tỷ lệ đúng hạn (%)"] == "50,0"
    assert vi[-1]["Điểm tiến độ (QĐ 766)"] == "6,67"  # 20 × (1 early) / 3, two decimals
    en = _csv_rows(client.get(f"{API}/reports/period", params={**params, "lang": "en"}))
    assert en[-1]["Group"] == "Total" and en[-1]["On-time rate (%)"] == "50.0" and en[-1]["Resolved"] == "2"
    raw = _csv_rows(client.get(f"{API}/reports/period", params={**params, "raw": "true"}))
    assert raw[-1]["group"] == "total" and float(raw[-1]["on_time_rate"]) == 0.5
    assert float(raw[-1]["progress_score_766"]) == pytest.approx(20 / 3)
    receive(client, RESIDENCE, "2025-06-02T09:00")
    queue = _csv_rows(client.get(f"{API}/queues/overdue", params={"agency": WARD, "format": "csv"}))
    assert re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d", queue[0]["Ngày tiếp nhận"])
    assert queue[0]["Trạng thái"] == "Đã tiếp nhận"
    queue_en = _csv_rows(client.get(f"{API}/queues/overdue", params={"agency": WARD, "format": "csv", "lang": "en"}))
    assert queue_en[0]["Status"] == "Received" and "Received" in queue_en[0]
    json_answer = client.get(f"{API}/queues/overdue", params={"agency": WARD}).json()
    assert json_answer["rows"][0]["status"] == "received"  # JSON is unchanged


def _sheet(response):
    assert response.status_code == 200, response.text
    return load_workbook(io.BytesIO(response.content)).active


def _texts(sheet) -> list[str]:
    return [str(cell.value) for row in sheet.iter_rows() for cell in row if cell.value is not None]


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_xlsx_has_title_print_setup_and_signatures(client, history, lang):
    params = {"period": "2025-Q1", "agency": WARD, "format": "xlsx", "lang": lang}
    sheet = _sheet(client.get(f"{API}/reports/period", params=params))
    texts = _texts(sheet)
    assert "PHƯỜNG HOÀN KIẾM" in sheet["A1"].value.upper() and "01/01/2025" in sheet["A2"].value
    assert sheet.page_setup.orientation == "landscape" and int(sheet.page_setup.paperSize) == 9  # A4
    assert sheet.print_title_rows == "$4:$5"
    signatures = ("NGƯỜI LẬP BIỂU", "THỦ TRƯỞNG ĐƠN VỊ") if lang == "vi" else ("PREPARED BY", "HEAD OF UNIT")
    assert all(signature in texts for signature in signatures)
    total = next(row for row in sheet.iter_rows() if row[1].value in ("Tổng cộng", "Total"))
    rates = [cell for cell in total if cell.number_format == "0.0%"]
    assert rates and rates[0].value == 0.5
    stages = _sheet(client.get(f"{API}/reports/stages", params=params))
    assert stages.print_title_rows == "$3:$3" and signatures[0] in _texts(stages)
    header = [cell.value for cell in stages[3]]
    assert ("Tên đơn vị" if lang == "vi" else "Agency") in header
    receive(client, RESIDENCE, "2025-06-02T09:00")
    queue = _sheet(client.get(f"{API}/queues/overdue", params={"agency": WARD, "format": "xlsx", "lang": lang}))
    received = next(cell for cell in queue[4] if cell.number_format == "dd/mm/yyyy hh:mm")
    assert received.value.year == 2025 and signatures[1] in _texts(queue)
    raw = _sheet(client.get(f"{API}/queues/overdue", params={"agency": WARD, "format": "xlsx", "raw": "true"}))
    assert signatures[0] not in _texts(raw)


def test_a_cells_dossiers_keep_to_the_managers_scope(app, tokens, history):
    def signed_in_as(username: str) -> TestClient:
        return TestClient(app, raise_server_exceptions=False, cookies={SESSION_COOKIE: tokens[username]})

    params = {"from": "2025-01-01", "to": "2025-03-31", "column": "total"}
    with signed_in_as("other-manager") as other, signed_in_as("clerk") as clerk:
        assert other.get("/dashboard/dossiers", params={**params, "agency": WARD}).status_code == 403
        own = other.get("/dashboard/dossiers", params=params)  # its own ward by default: none of these
        assert own.status_code == 200 and 'id="cell-count"' in own.text and history["residence"] not in own.text
        assert clerk.get("/dashboard/dossiers", params=params).status_code == 403
