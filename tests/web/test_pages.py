"""The web pages without a browser: they render in both languages, post to the same services as the
API and show its errors as it words them."""

import html
import io
import re

import pytest
from openpyxl import load_workbook

from api.web.i18n import LABELS, LANGUAGES, Formats
from sla.core.lifecycle import EVENT_TYPES, STATUS_NAMES
from tests.conftest import BACKDATE_REASON

API = "/api/v1"
WARD = "000.01.01.H26"
DEPARTMENT = "000.00.03.H26"
PAGES = ["/", "/desk", "/dashboard", "/calendar?year=2026", "/lookup"]


def receive_by_api(client, received_at=None, **applicant):
    body = {
        "procedure_code": "1.004222",
        "agency_code": WARD,
        "applicant": {"name": "Nguyễn Thị Lan", "phone": "0912345678", **applicant},
    }
    if received_at:
        body["received_at"] = received_at
        body["backdate_reason"] = BACKDATE_REASON
    response = client.post(f"{API}/dossiers", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def text(response) -> str:
    return html.unescape(response.text)


@pytest.mark.parametrize("path", PAGES)
def test_pages_render_in_vietnamese_by_default(client, path):
    response = client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="vi">' in response.text
    if path == "/lookup":  # the public layout: no staff menu
        assert "Tra cứu tình trạng hồ sơ" in text(response) and "Lịch làm việc" not in text(response)
    else:
        assert "Tra cứu hồ sơ" in text(response) and "Lịch làm việc" in text(response)


@pytest.mark.parametrize("path", PAGES)
def test_lang_switch_is_remembered_in_a_cookie(client, path):
    english = client.get(path + ("&" if "?" in path else "?") + "lang=en")
    assert english.status_code == 200
    assert '<html lang="en">' in english.text
    assert ("Look up your dossier" if path == "/lookup" else "Dossier lookup") in english.text
    assert client.cookies.get("lang") == "en"
    remembered = client.get(path)
    assert '<html lang="en">' in remembered.text
    assert re.search(r'<a class="lang" href="/[^"]*lang=vi"', remembered.text)  # the switch back
    back = client.get("/", params={"lang": "vi"})
    assert '<html lang="vi">' in back.text and client.cookies.get("lang") == "vi"


def test_unknown_language_falls_back_to_vietnamese(client):
    assert '<html lang="vi">' in client.get("/", params={"lang": "fr"}).text


def test_every_event_and_status_has_labels():
    for event in EVENT_TYPES:
        assert f"event.{event}" in LABELS
        if event != "submitted":
            assert f"action.{event}" in LABELS and f"confirm.{event}" in LABELS
    for status in STATUS_NAMES.values():
        assert f"status.{status}" in LABELS
    assert all(len(pair) == len(LANGUAGES) and all(pair) for pair in LABELS.values())


def test_formats():
    vi, en = Formats("vi"), Formats("en")
    assert vi.duration(480 * 2 + 75) == "2 ngày 1 giờ 15 phút" and en.duration(-30) == "30 min"
    assert vi.duration(0) == "0 phút" and vi.duration(None) == "—"
    assert vi.percent(0.9523) == "95,2 %" and en.percent(0.9523) == "95.2%" and en.percent(1.0) == "100%"
    assert vi.number(1234) == "1.234" and en.number(1234.5, 1) == "1,234.5"


def test_procedure_picker_is_accent_insensitive(client):
    response = client.get("/desk/procedures", params={"procedure_q": "dang ky thuong tru"})
    assert response.status_code == 200
    assert "Đăng ký thường trú" in text(response)
    assert 'value="1.004222"' in response.text
    assert "<html" not in response.text  # a fragment for the page to swap in
    without_script = client.get("/desk", params={"procedure_q": "dang ky thuong tru"})  # the Search button
    assert 'name="procedure_code" value="1.004222"' in without_script.text
    one = client.get("/desk/procedures", params={"procedure_q": "1.004222"})
    assert re.search(r'value="1\.004222"[^>]*checked', one.text)


def test_desk_search_finds_by_name_phone_and_code(client):
    code = receive_by_api(client, name="Trần Văn Bình", phone="0987654321")["code"]
    for q in ("tran van binh", "0987654321", code):
        assert code in client.get("/desk", params={"q": q}).text
    assert code not in client.get("/desk", params={"q": "khong co ai"}).text


def test_desk_search_filters_by_status_received_days_field_and_procedure(client):
    june = receive_by_api(client, received_at="2025-06-02T09:00", name="Trần Văn Bình")["code"]
    july = receive_by_api(client, received_at="2025-07-01T09:00", name="Trần Văn Bình")["code"]
    search = lambda **params: client.get("/desk", params={"q": "tran van binh", **params})  # noqa: E731
    only_june = search(received_from="02/06/2025", received_to="2/6/2025")  # whole days, day first
    assert june in only_june.text and july not in only_june.text
    assert '<details class="more-filters" open>' in only_june.text and 'value="02/06/2025"' in only_june.text
    assert 'href="/desk/dossiers.xlsx?q=tran+van+binh&amp;received_from=02%2F06%2F2025' in only_june.text
    assert july in search(received_from="01/07/2025").text and june not in search(received_from="01/07/2025").text
    received = search(status="2")  # both received (2), neither resolved (9)
    assert june in received.text and july in received.text and '<option value="2" selected>' in received.text
    assert june not in search(status="9").text
    assert june in search(procedure="thuong tru").text and june not in search(procedure="khai sinh").text
    assert june in search(field="cu_tru").text and june not in search(field="ho_tich").text
    sheet = client.get("/desk/dossiers.xlsx", params={"q": "tran van binh", "received_to": "02/06/2025"})
    rows = [row for row in load_workbook(io.BytesIO(sheet.content)).active.iter_rows(values_only=True)]
    assert any(june in row for row in rows) and not any(july in row for row in rows)
    wrong = search(received_from="31/02/2025")
    assert wrong.status_code == 422 and "Tiếp nhận từ ngày" in text(wrong), wrong.text
    desk = text(client.get("/desk"))  # the intake's legend and the search's filter each keep their own words
    assert "<legend>Thủ tục hành chính</legend>" in desk and "Thủ tục (mã hoặc tên)</label>" in desk
    wrong = client.get("/desk", params={"status": "42", "lang": "en"})
    assert wrong.status_code == 422 and "There is no status “42”" in text(wrong)


def test_receiving_at_the_desk_leads_to_the_printable_receipt(client):
    form = {
        "procedure_code": "1.004222",
        "agency_code": WARD,
        "channel": "counter",
        "name": "Hoàng Văn Nam",
        "phone": "0911222333",
        "id_number": "",
        "address": "",
        "received_at": "2025-06-02T09:00",
        "backdate_reason": BACKDATE_REASON,
        "key": "desk-test-key-1",
    }
    response = client.post("/desk/dossiers", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text
    receipt_url = response.headers["location"]
    assert re.fullmatch(rf"/desk/dossiers/{re.escape(WARD)}-250602-\d{{4}}/receipt", receipt_url)
    assert client.cookies.get("desk_agency") == WARD
    receipt = client.get(receipt_url)
    assert 'id="appointment"' in receipt.text and "11 tháng 06 năm 2025" in receipt.text
    again = client.post("/desk/dossiers", data=form, follow_redirects=False)  # a double click
    assert again.headers["location"] == receipt_url
    code = receipt_url.split("/")[-2]
    assert client.get(f"{API}/dossiers", params={"q": "hoang van nam"}).json()["total"] == 1
    assert f'value="{WARD}" selected' in client.get("/desk").text  # the desk's agency is remembered
    assert code in client.get("/desk").text


def test_intake_errors_keep_the_form_and_say_them_in_vietnamese(client):
    form = {"procedure_code": "1.004222", "agency_code": "nope", "name": "Hoàng Văn Nam", "phone": "0911222333"}
    response = client.post("/desk/dossiers", data=form)
    assert response.status_code == 404
    api = client.post(
        f"{API}/dossiers",
        json={"procedure_code": "1.004222", "agency_code": "nope", "applicant": {"name": "Hoàng Văn Nam"}},
    ).json()
    assert "/api/" in api["detail"] and api["detail"] not in text(response)  # the API's words stay the API's
    assert "Không có cơ quan nào có mã nope" in text(response) and "not_found" in response.text
    assert 'value="Hoàng Văn Nam"' in response.text and 'value="0911222333"' in response.text
    bad_phone = client.post("/desk/dossiers", data={**form, "agency_code": WARD, "phone": "12"})
    assert bad_phone.status_code == 422 and "Số điện thoại: " in text(bad_phone)
    no_procedure = client.post("/desk/dossiers", data={**form, "agency_code": WARD, "procedure_code": ""})
    assert no_procedure.status_code == 422 and "Chọn thủ tục" in text(no_procedure)


def test_dossier_page_offers_exactly_the_allowed_events(client):
    dossier = receive_by_api(client, received_at="2025-06-02T09:00")
    page = client.get(f"/desk/dossiers/{dossier['code']}")
    assert page.status_code == 200
    offered = re.findall(r'name="type" value="([a-z_]+)"', page.text)
    assert offered == dossier["allowed_events"]
    assert "Nguyễn Thị Lan" in text(page) and "Đã tiếp nhận" in text(page)
    assert f'href="/desk/dossiers/{dossier["code"]}/receipt"' in page.text
    assert "/apology" not in page.text  # no apology issued


def test_printable_forms_from_the_desk(client):
    code = receive_by_api(client, received_at="2025-06-02T09:00")["code"]
    receipt = client.get(f"/desk/dossiers/{code}/receipt")
    assert receipt.status_code == 200 and "Giấy tiếp nhận hồ sơ và hẹn trả kết quả" in text(receipt)
    assert "09 giờ 00 phút, ngày 11 tháng 06 năm 2025" in text(receipt)
    assert client.get(f"/desk/dossiers/{code}/apology").status_code == 404
    apology = {
        "type": "apology_issued",
        "at": "2025-06-09T10:00",
        "reason": "Cần xác minh",
        "new_due_at": "2025-06-19T16:00",
        "backdate_reason": BACKDATE_REASON,
    }
    assert client.post(f"{API}/dossiers/{code}/events", json=apology).status_code == 201
    letter = client.get(f"/desk/dossiers/{code}/apology")
    assert letter.status_code == 200 and "16 giờ 00 phút, ngày 19 tháng 06 năm 2025" in text(letter)
    assert f'href="/desk/dossiers/{code}/apology"' in client.get(f"/desk/dossiers/{code}").text


def test_events_posted_from_the_dossier_page(client):
    code = receive_by_api(client, received_at="2025-06-02T09:00")["code"]
    url = f"/desk/dossiers/{code}/events"
    steps = [
        ({"type": "forwarded", "to_agency": DEPARTMENT, "at": "2025-06-03T09:00"}, "Đang xử lý"),
        ({"type": "supplement_requested", "reason": "Thiếu giấy tờ chỗ ở", "at": "2025-06-03T10:00"}, "Chờ bổ sung"),
        ({"type": "supplement_received", "at": "2025-06-04T09:00"}, "Đang xử lý"),
        ({"type": "resolved", "result": "Đã đăng ký", "at": "2025-06-05T09:00"}, "Đã có kết quả"),
        ({"type": "result_sent_to_desk", "at": "2025-06-05T15:00"}, "Kết quả đã chuyển về Bộ phận Một cửa"),
        ({"type": "result_returned", "at": "2025-06-06T09:00"}, "Đã trả kết quả"),
    ]
    for number, (fields, status) in enumerate(steps):
        form = {**fields, "backdate_reason": BACKDATE_REASON, "key": f"{code}-{number}"}
        response = client.post(url, data=form, follow_redirects=False)
        assert response.status_code == 303, text(response)
        assert response.headers["location"] == f"/desk/dossiers/{code}?done={fields['type']}"
        page = client.get(response.headers["location"])
        assert status in text(page) and 'id="done"' in page.text
    read = client.get(f"{API}/dossiers/{code}").json()
    assert [e["type"] for e in read["timeline"]] == ["received"] + [fields["type"] for fields, _ in steps]
    assert read["allowed_events"] == [] and "Hồ sơ đã kết thúc" in text(client.get(f"/desk/dossiers/{code}"))


def test_a_refused_event_is_told_in_the_page_language(client):
    code = receive_by_api(client, received_at="2025-06-02T09:00")["code"]
    api = client.post(f"{API}/dossiers/{code}/events", json={"type": "result_returned"})
    assert api.status_code == 409
    page = client.post(f"/desk/dossiers/{code}/events", data={"type": "result_returned"})
    assert page.status_code == 409
    assert api.json()["detail"] not in text(page) and "invalid_transition" in page.text
    assert "Không thể «Trả kết quả cho người dân» khi hồ sơ đang ở trạng thái «Đã tiếp nhận»" in text(page)
    assert "Chuyển hồ sơ đến…, Yêu cầu bổ sung hồ sơ" in text(page)  # the allowed events, named
    assert 'role="alert"' in page.text and 'name="type" value="forwarded"' in page.text
    missing = client.post(f"/desk/dossiers/{code}/events", data={"type": "supplement_requested", "reason": " "})
    assert missing.status_code == 422 and "Ghi rõ giấy tờ cần bổ sung" in text(missing)
    assert f'<a class="lang" href="/desk/dossiers/{code}?lang=en"' in missing.text  # a page, not the post
    unknown = client.post(f"/desk/dossiers/{code}/events", data={"type": "teleported"})
    assert unknown.status_code == 422 and "Thao tác: không phải một giá trị được chấp nhận" in text(unknown)
    assert client.get(f"{API}/dossiers/{code}").json()["timeline"][-1]["type"] == "received"  # nothing written


def test_unknown_dossier_is_an_html_404(client):
    response = client.get("/desk/dossiers/000.01.01.H26-250602-9999")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Không tìm thấy hồ sơ" in text(response)


def test_dashboard_lists_the_overdue_dossier_and_links_downloads(client):
    late = receive_by_api(client, received_at="2025-06-02T09:00")["code"]
    page = client.get("/dashboard", params={"agency": WARD})
    assert page.status_code == 200
    assert f'href="/desk/dossiers/{late}"' in page.text
    assert re.search(r'id="overdue-count">\s*1\s*<', page.text)
    links = re.findall(r'href="(/dashboard/download/[^"]+format=xlsx)"', html.unescape(page.text))
    assert len(links) == 6
    overdue_xlsx = next(link for link in links if "/overdue?" in link)
    download = client.get(overdue_xlsx)
    assert download.status_code == 200
    assert download.headers["content-disposition"] == 'attachment; filename="overdue.xlsx"'
    sheet = load_workbook(io.BytesIO(download.content)).active
    assert late in [cell.value for row in sheet.iter_rows() for cell in row]
    for link in links:
        assert client.get(link).status_code == 200, link
        assert client.get(link.replace("format=xlsx", "format=csv")).status_code == 200, link
    filtered = client.get("/dashboard", params={"agency": WARD, "procedure": "1.001193"})
    assert late not in filtered.text
    english = client.get("/dashboard", params={"agency": WARD, "lang": "en"})
    assert "Overdue dossiers" in english.text


def test_downloads_have_the_api_layout(client):
    receive_by_api(client, received_at="2025-06-02T09:00")
    pairs = [
        (
            "/dashboard/download/overdue",
            {"agency": WARD},
            "/queues/overdue",
            {"agency": WARD, "include_children": True},
        ),
        (
            "/dashboard/download/period",
            {"from": "2025-06-01", "to": "2025-06-30", "agency": WARD},
            "/reports/period",
            {"from": "2025-06-01", "to": "2025-06-30", "agency": WARD},
        ),
        (
            "/dashboard/download/stages",
            {"from": "2025-06-01", "to": "2025-06-30"},
            "/reports/stages",
            {"from": "2025-06-01", "to": "2025-06-30"},
        ),
    ]
    for page_path, page_params, api_path, api_params in pairs:
        page = client.get(page_path, params={**page_params, "format": "csv"})
        api = client.get(f"{API}{api_path}", params={**api_params, "format": "csv"})
        assert page.status_code == api.status_code == 200
        assert page.content == api.content, page_path
    bad = client.get("/dashboard/download/period", params={"from": "2025-06-30", "to": "2025-06-01", "format": "csv"})
    assert bad.status_code == 422 and "Kỳ báo cáo kết thúc (01/06/2025) trước khi bắt đầu" in text(bad)


def test_calendar_override_added_and_deleted_from_the_page(client):
    form = {"date": "2031-06-03", "kind": "off", "reason": "Bão số 1", "agency_code": WARD, "year": "2031"}
    response = client.post("/calendar/overrides", data=form, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/calendar?year=2031&done=added"
    page = client.get("/calendar", params={"year": 2031, "agency": WARD})
    assert "Bão số 1" in text(page) and 'data-date="2031-06-03"' in page.text
    assert re.search(r'<td class="off" title="Bão số 1" data-date="2031-06-03">', page.text)
    again = client.post("/calendar/overrides", data=form)
    assert again.status_code == 422 and "Ngày 03/06/2031 đã có điều chỉnh lịch" in text(again)
    assert 'value="Bão số 1"' in again.text
    override_id = re.search(r"/calendar/overrides/(\d+)/delete", page.text).group(1)
    deleted = client.post(f"/calendar/overrides/{override_id}/delete", data={"year": "2031"}, follow_redirects=False)
    assert deleted.status_code == 303
    assert "Bão số 1" not in text(client.get("/calendar", params={"year": 2031, "agency": WARD}))


def test_calendar_marks_holidays_and_make_up_saturdays(client):
    page = client.get("/calendar", params={"year": 2026})
    assert re.search(r'<td class="workday"[^>]*data-date="2026-01-10"', page.text)  # make-up Saturday
    assert re.search(r'<td class="off"[^>]*data-date="2026-01-02"', page.text)  # the swap
    assert re.search(r'<td class="weekend"[^>]*data-date="2026-01-03"', page.text)  # a Saturday
    assert re.search(r'<td class="working"[^>]*data-date="2026-01-05"', page.text)
    assert client.get("/calendar", params={"year": 3000}).status_code == 422


def test_lookup_page_shows_no_personal_data_and_no_oracle(client):
    code = receive_by_api(client, name="Phạm Thị Hoa", id_number="001190099887", phone="0912345678")["code"]
    found = client.post("/lookup", data={"code": code, "phone_last4": "5678"})
    assert found.status_code == 200 and found.headers["cache-control"] == "no-store"
    assert 'id="appointment"' in found.text and "Đã tiếp nhận" in text(found)
    for private in ("Phạm Thị Hoa", "001190099887", "0912345678"):
        assert private not in text(found)
    wrong_digits = client.post("/lookup", data={"code": code, "phone_last4": "0000"})
    wrong_code = client.post("/lookup", data={"code": code[:-1] + "9", "phone_last4": "5678"})
    assert wrong_digits.status_code == wrong_code.status_code == 404
    box = re.compile(r'<div class="problem" role="alert" id="not-found">.*?</div>', re.S)
    assert box.search(wrong_digits.text).group(0) == box.search(wrong_code.text).group(0)
    assert client.post("/lookup", data={"code": code, "phone_last4": "56a8"}).status_code == 422
