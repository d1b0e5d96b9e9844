"""End to end in headless Chromium: a clerk's dossier from intake to returned result, a manager's
overdue queue and its XLSX, a citizen's lookup, the calendar; screenshots in test-artifacts/web/."""

import re
from datetime import datetime, timedelta

import pytest
from openpyxl import load_workbook

from sla.core.calendar import LOCAL_TZ
from tests.web.conftest import PHONE

WARD = "000.01.01.H26"
DEPARTMENT = "000.00.03.H26"
NAME, ID_NUMBER, PHONE_NUMBER = "Đặng Thị Mai", "001190055443", "0903112233"


def receive(desk, received_at: str = "") -> str:
    form = {
        "procedure_code": "1.004222",
        "agency_code": WARD,
        "name": NAME,
        "id_number": ID_NUMBER,
        "phone": PHONE_NUMBER,
        "received_at": received_at,
        "backdate_reason": "Ghi lại hồ sơ đã nhận" if received_at else "",
    }
    response = desk.post("/desk/dossiers", data=form)
    assert response.status_code == 303, response.text
    return response.headers["location"].split("/")[-2]


def post_event(desk, code: str, **fields) -> None:
    fields.setdefault("backdate_reason", "Ghi lại sự việc đã qua" if fields.get("at") else "")
    response = desk.post(f"/desk/dossiers/{code}/events", data=fields)
    assert response.status_code == 303, response.text


def record(page, event: str, **fields) -> None:
    """Open the event's form on the dossier page, fill it, send it (the confirmation is accepted)."""
    action = page.locator(f"#action-{event}")
    if action.get_attribute("open") is None:
        action.locator("summary").click()
    for name, value in fields.items():
        control = action.locator(f"[name={name}]")
        if control.evaluate("element => element.tagName") == "SELECT":
            control.select_option(value)
        else:
            control.fill(value)
    with page.expect_navigation():
        action.get_by_role("button").click()


@pytest.mark.user("clerk")
def test_clerk_receives_a_dossier_and_prints_the_receipt(page, shoot, artifacts):
    page.goto("/desk")
    page.get_by_label("Tìm thủ tục").fill("dang ky thuong tru")  # no accents: found as the clerk types
    choice = page.get_by_role("radio", name=re.compile("^Đăng ký thường trú"))
    choice.check()
    page.get_by_label("Cơ quan tiếp nhận").select_option(WARD)
    page.get_by_label("Họ và tên", exact=True).fill(NAME)
    page.get_by_label("Số điện thoại", exact=True).fill(PHONE_NUMBER)
    page.get_by_label("Số định danh").fill(ID_NUMBER)
    shoot(page, "desk-intake")
    with page.expect_navigation(url=re.compile(r"/receipt$")):
        page.get_by_role("button", name="Tiếp nhận và in giấy hẹn").click()
    code = page.locator("#dossier-code").inner_text()
    assert re.fullmatch(rf"{re.escape(WARD)}-\d{{6}}-\d{{4}}", code)
    assert re.fullmatch(
        r"\d\d giờ \d\d phút, ngày \d\d tháng \d\d năm \d{4}", page.locator("#appointment").inner_text()
    )
    assert page.locator("#applicant-name").inner_text() == NAME
    shoot(page, "receipt")
    page.emulate_media(media="print")
    assert not page.get_by_role("button", name="In / Print").is_visible()  # the print stylesheet hides it
    page.pdf(path=artifacts / "receipt.pdf", format="A4")
    assert (artifacts / "receipt.pdf").stat().st_size > 1000
    page.emulate_media(media="screen")
    page.get_by_role("link", name="Hồ sơ / Dossier").click()
    assert page.locator("#dossier-code").inner_text() == code
    page.goto("/desk")
    page.get_by_placeholder("Mã hồ sơ, tên người nộp").fill("dang thi mai")
    page.locator("#dossier-results").get_by_role("link", name=code).wait_for()


@pytest.mark.user("clerk")
def test_clerk_forwards_supplements_resolves_and_returns(page, desk, shoot):
    code = receive(desk)
    page.goto(f"/desk/dossiers/{code}")
    assert page.locator("#dossier-status").inner_text() == "Đã tiếp nhận"
    shoot(page, "dossier-received")

    record(page, "forwarded", to_agency=DEPARTMENT)
    assert page.locator("#done").is_visible()
    assert page.locator("#dossier-status").inner_text() == "Đang xử lý"
    assert page.locator("#holding").inner_text() == "Sở Dân tộc và Tôn giáo"

    record(page, "supplement_requested", reason="Thiếu giấy tờ chứng minh chỗ ở hợp pháp", at="2020-01-01T09:00")
    problem = page.get_by_role("alert")  # refused: an event before the previous one
    assert "sớm hơn thao tác trước đó" in problem.inner_text() and "invalid_input" in problem.inner_text()
    assert page.locator("#dossier-status").inner_text() == "Đang xử lý"
    assert page.locator("#supplement_requested-reason").input_value().startswith("Thiếu giấy tờ")  # kept
    shoot(page, "dossier-refused-event")

    record(page, "supplement_requested", at="")  # the reason is still there; now, not 2020
    assert page.locator("#dossier-status").inner_text() == "Chờ bổ sung hồ sơ"
    assert page.locator("#clock-stopped").is_visible()
    assert page.locator("#action-forwarded").count() == 0  # only what the status allows
    record(page, "supplement_received")
    assert page.locator("#dossier-status").inner_text() == "Đang xử lý"
    record(page, "resolved", result="Đã đăng ký thường trú")
    assert page.locator("#dossier-status").inner_text() == "Đã có kết quả"
    # resolved at the department: the result travels back to the desk first (its step, not the clerk's)
    assert page.locator("[name=type]").count() == 0 and page.locator("#result-away").is_visible()
    post_event(desk, code, type="result_sent_to_desk")
    page.reload()
    assert [e for e in page.locator("[name=type]").evaluate_all("els => els.map(e => e.value)")] == ["result_returned"]
    record(page, "result_returned")
    assert page.locator("#dossier-status").inner_text() == "Đã trả kết quả"
    assert page.locator("#actions details").count() == 0
    timeline = page.locator("#timeline li strong").all_inner_texts()
    assert timeline == [
        "Tiếp nhận",
        "Chuyển xử lý",
        "Yêu cầu bổ sung",
        "Đã bổ sung",
        "Giải quyết xong",
        "Chuyển kết quả về Một cửa",
        "Đã trả kết quả",
    ]
    assert page.locator("#stages tbody tr").count() >= 2
    shoot(page, "dossier-returned")
    page.set_viewport_size(PHONE)
    shoot(page, "dossier-returned")


@pytest.mark.user("manager")
def test_manager_sees_the_overdue_dossier_and_downloads_the_xlsx(page, desk, shoot, artifacts):
    late = receive(desk, received_at="2025-06-02T09:00")
    days_ago = [(datetime.now(LOCAL_TZ) - timedelta(days=n)).strftime("%Y-%m-%dT09:00") for n in (3, 2)]
    post_event(desk, receive(desk, received_at=days_ago[0]), type="resolved", at=days_ago[1])  # for the ranking
    page.goto(f"/dashboard?agency={WARD}")
    assert int(page.locator("#overdue-count").inner_text()) >= 1
    row = page.locator("#overdue-table tbody tr", has=page.get_by_role("link", name=late))
    assert row.count() == 1
    page.locator("#monthly-chart").wait_for()
    assert page.evaluate("() => Object.keys(Chart.instances).length") == 2  # both charts were drawn
    shoot(page, "dashboard")
    with page.expect_download() as download_info:
        page.locator("#overdue .download-xlsx").click()
    download = download_info.value
    assert download.suggested_filename == "overdue.xlsx"
    saved = artifacts / "overdue.xlsx"
    download.save_as(saved)
    sheet = load_workbook(saved).active
    assert late in [cell.value for row in sheet.iter_rows() for cell in row]

    header = page.locator("#overdue-table thead th").nth(5)
    header.get_by_role("button").click()  # sort by working days overdue
    assert header.get_attribute("aria-sort") == "ascending"
    row.get_by_role("link", name=late).click()
    assert page.locator("#dossier-code").inner_text() == late
    page.set_viewport_size(PHONE)
    page.goto(f"/dashboard?agency={WARD}&lang=en")
    shoot(page, "dashboard-en")


@pytest.mark.user(None)
def test_citizen_looks_up_a_dossier_and_sees_no_personal_data(page, desk, shoot):
    code = receive(desk)
    page.set_viewport_size(PHONE)
    page.goto("/lookup")
    page.get_by_label("Mã hồ sơ").fill(code)
    page.get_by_label("4 số cuối số điện thoại").fill("0000")
    page.get_by_role("button", name="Tra cứu").click()
    not_found = page.locator("#not-found").inner_text()
    page.get_by_label("Mã hồ sơ").fill(code[:-1] + "9")
    page.get_by_label("4 số cuối số điện thoại").fill(PHONE_NUMBER[-4:])
    page.get_by_role("button", name="Tra cứu").click()
    assert page.locator("#not-found").inner_text() == not_found  # same answer: no oracle
    page.get_by_label("Mã hồ sơ").fill(code)
    page.get_by_label("4 số cuối số điện thoại").fill(PHONE_NUMBER[-4:])
    page.get_by_role("button", name="Tra cứu").click()
    assert page.locator("#result-status").inner_text() == "Đã tiếp nhận"
    assert page.locator("#appointment").inner_text() != "—"
    content = page.content()
    for private in (NAME, ID_NUMBER, PHONE_NUMBER):
        assert private not in content
    shoot(page, "lookup")


def test_calendar_year_view_and_an_override(page, shoot):
    page.goto("/calendar?year=2026")
    assert "Ngày làm bù" in page.locator('td[data-date="2026-01-10"]').get_attribute("title")
    assert page.locator('td[data-date="2026-02-17"]').get_attribute("class") == "off"
    shoot(page, "calendar")
    page.get_by_label("Ngày", exact=True).fill("2026-06-03")
    page.get_by_label("Lý do").fill("Bão số 1")
    page.locator("#override-scope").select_option(WARD)
    with page.expect_navigation():
        page.get_by_role("button", name="Thêm", exact=True).click()
    assert page.get_by_role("status").is_visible()
    page.goto(f"/calendar?year=2026&agency={WARD}")
    assert page.locator('td[data-date="2026-06-03"]').get_attribute("class") == "off"
    with page.expect_navigation():
        page.locator("#override-table tr", has_text="Bão số 1").get_by_role("button").click()
    assert page.locator('td[data-date="2026-06-03"]').get_attribute("class") == "working"
    page.set_viewport_size(PHONE)
    shoot(page, "calendar")


@pytest.mark.parametrize("path", ["/", "/desk", "/lookup"])
def test_language_switch_and_phone_layout(page, shoot, path):
    page.set_viewport_size(PHONE)
    page.goto(path)
    page.get_by_role("link", name="English").click()
    assert page.locator("html").get_attribute("lang") == "en"
    page.goto(path)
    assert page.locator("html").get_attribute("lang") == "en"  # remembered
    shoot(page, f"page-{path.strip('/') or 'home'}-en")
    page.get_by_role("link", name="Tiếng Việt").click()
    assert page.locator("html").get_attribute("lang") == "vi"


@pytest.mark.parametrize("page_locale", ["en-US"])
def test_desk_search_with_its_filters(page, desk, shoot, page_locale):
    """The desk's search box and its filters (status, received days typed day first on an en-US browser,
    field, procedure) narrow the list as the clerk types; at 1366 px and on a phone."""
    code = receive(desk)
    page.goto("/desk")
    page.click("summary:has-text('Lọc thêm')")
    page.select_option("#search-status", "2")
    today = datetime.now(LOCAL_TZ)
    page.locator("#search-from").press_sequentially(today.strftime("%d%m%Y"))  # the mask adds the slashes
    page.select_option("#search-field", "cu_tru")
    page.fill("#q", "dang thi mai")
    page.locator("#q").press("Enter")
    page.wait_for_url(re.compile(r"status=2"))
    assert page.input_value("#search-from") == today.strftime("%d/%m/%Y")
    assert code in page.locator("#dossier-results").inner_text()
    shoot(page, "desk-search-filters")
    page.set_viewport_size(PHONE)
    shoot(page, "desk-search-filters")
    page.select_option("#search-status", "9")
    page.locator("#q").press("Enter")
    page.wait_for_url(re.compile(r"status=9"))
    assert code not in page.locator("#dossier-results").inner_text()
