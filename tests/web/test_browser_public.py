"""In headless Chromium: a date typed day first on an en-US browser is stored as that day; a citizen
scans the receipt's QR code into the lookup on a phone; a browser lost on an unknown page gets a page."""

import re

import pytest

from tests.web.conftest import PHONE, focused
from tests.web.test_browser import NAME, PHONE_NUMBER, WARD, post_event, receive


@pytest.mark.parametrize("page_locale", ["en-US"])
def test_a_date_typed_on_an_english_locale_browser_is_the_day_typed(page, shoot):
    assert page.evaluate("() => navigator.language") == "en-US"
    page.goto("/desk")
    page.get_by_label("Tìm thủ tục").fill("dang ky thuong tru")
    page.get_by_role("radio", name=re.compile("^Đăng ký thường trú")).check()
    page.get_by_label("Cơ quan tiếp nhận").select_option(WARD)
    page.get_by_label("Họ và tên", exact=True).fill(NAME)
    page.get_by_label("Số điện thoại", exact=True).fill(PHONE_NUMBER)
    page.locator("details", has=page.locator("#received-at")).locator("summary").click()
    when = page.locator("#received-at")
    assert when.get_attribute("type") == "text" and when.get_attribute("placeholder") == "dd/mm/yyyy hh:mm"
    when.press_sequentially("021220260930")  # digits only: the separators come by themselves
    assert when.input_value() == "02/12/2026 09:30"
    page.locator("#backdate-reason").fill("Ghi lại hồ sơ giấy đã nhận")
    shoot(page, "desk-date-en-US")
    with page.expect_navigation(url=re.compile(r"/receipt$")):
        page.get_by_role("button", name="Tiếp nhận và in giấy hẹn").click()
    code = page.locator("#dossier-code").inner_text()
    page.goto(f"/desk/dossiers/{code}")
    received = page.locator("time", has_text="02/12/2026 09:30").first
    assert received.get_attribute("datetime") == "2026-12-02T09:30:00+07:00"  # 2 December, not 12 February


@pytest.mark.user(None)
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_citizen_scans_the_qr_code_into_the_lookup_on_a_phone(page, desk, shoot, lang):
    code = receive(desk)
    post_event(desk, code, type="supplement_requested", reason=f"Bản sao giấy khai sinh (chứng thực) của {NAME}")
    page.set_viewport_size(PHONE)
    page.goto(f"/lookup?code={code.lower()}&lang={lang}")  # as a phone's camera opens the QR code
    assert page.locator("#code").input_value() == code
    assert page.locator("header.site nav").count() == 0  # no staff menu on a phone's first screen
    assert page.locator("a.lang").is_visible()
    focused(page, "phone-last4")
    page.keyboard.type(PHONE_NUMBER[-4:])
    page.keyboard.press("Enter")
    page.locator("#result").wait_for()
    assert page.locator("#supplement-reason").inner_text() == "Bản sao giấy khai sinh (chứng thực) của …"
    assert page.locator("#clock-stopped").is_visible()
    assert not re.search(r"\d\d/\d\d/\d{4}", page.locator("#appointment").inner_text())  # no past appointment
    content = page.content()
    assert NAME not in content and PHONE_NUMBER not in content
    shoot(page, f"lookup-qr-{lang}")


@pytest.mark.user(None)
def test_an_unknown_page_is_a_page_with_the_icon(page, shoot):
    response = page.goto("/khong-co-trang-nay")
    assert response.status == 404
    assert page.locator("#problem").inner_text().count("Không có trang này") == 1
    assert page.locator('link[rel="icon"]').get_attribute("href") == "/favicon.ico"
    assert page.request.get("/favicon.ico").headers["content-type"] == "image/svg+xml"
    shoot(page, "error-404")
