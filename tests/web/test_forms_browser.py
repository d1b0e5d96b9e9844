"""The printable forms in headless Chromium: a clerk receives and prints form 01 (its QR code read back),
refuses another dossier at the counter and prints form 03; at 1366 px and 390 px, screenshots in
test-artifacts/web/ (forms-01-*.png, forms-03-*.png) and A4 PDFs."""

import re

import httpx
import pytest

from tests.qr import decode_data_uri
from tests.web.conftest import PHONE, sign_in

WARD = "000.01.01.H26"
CLERK_NAME = "Lê Thị Thu Trang"


@pytest.fixture(scope="module")
def clerk_named(live_server):
    """The clerk's full name, set by the administrator (PATCH /api/v1/users/clerk)."""
    token = sign_in(live_server, "admin")
    with httpx.Client(base_url=live_server, headers={"Authorization": f"Bearer {token}"}) as admin:
        response = admin.patch("/api/v1/users/clerk", json={"full_name": CLERK_NAME})
    assert response.status_code == 200, response.text


def fill_intake(page, name: str) -> None:
    page.goto("/desk")
    page.get_by_label("Tìm thủ tục").fill("dang ky thuong tru")
    page.get_by_role("radio", name=re.compile("^Đăng ký thường trú")).check()
    page.get_by_label("Cơ quan tiếp nhận").select_option(WARD)
    page.get_by_label("Họ và tên", exact=True).fill(name)
    page.get_by_label("Số điện thoại", exact=True).fill("0903112299")


@pytest.mark.user("clerk")
def test_clerk_prints_form_01_with_its_qr_code(page, shoot, artifacts, live_server, clerk_named):
    fill_intake(page, "Vũ Thị Hạnh")
    with page.expect_navigation(url=re.compile(r"/receipt$")):
        page.get_by_role("button", name="Tiếp nhận và in giấy hẹn").click()
    code = page.locator("#dossier-code").inner_text()
    assert page.locator("#form-number").inner_text() == "Mẫu số 01"
    number = int(code.rsplit("-", 1)[1])
    assert page.locator("#doc-number").inner_text() == f"Số: {number:04d}/TNHS"
    assert page.locator("#governing").inner_text() == "UBND THÀNH PHỐ HÀ NỘI"  # upper case by the stylesheet
    assert page.locator("#agency-line").inner_text() == "UBND PHƯỜNG HOÀN KIẾM"
    assert re.fullmatch(r"Hà Nội, ngày \d\d tháng \d\d năm \d{4}", page.locator("#place-date").inner_text())
    assert page.locator("#clerk").inner_text() == CLERK_NAME
    qr = page.locator("#qr")
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")  # drawn: the CSP lets data: images in
    assert decode_data_uri(qr.get_attribute("src")) == f"{live_server}/lookup?code={code}"
    shoot(page, "forms-01")
    page.set_viewport_size(PHONE)
    shoot(page, "forms-01")
    page.emulate_media(media="print")
    assert not page.get_by_role("button", name="In / Print").is_visible()
    page.pdf(path=artifacts / "forms-01.pdf", format="A4")
    assert (artifacts / "forms-01.pdf").stat().st_size > 1000
    assert page.csp_violations == []


@pytest.mark.user("clerk")
def test_clerk_refuses_at_the_counter_and_prints_form_03(page, shoot, artifacts, clerk_named):
    fill_intake(page, "Bùi Văn Toàn")
    refusal = page.locator("details.refusal")
    refusal.locator("summary").click()
    page.get_by_label("Lý do từ chối").fill("Hồ sơ không thuộc thẩm quyền giải quyết của phường")
    shoot(page, "forms-03-desk")
    with page.expect_navigation(url=re.compile(r"/forms/03$")):
        page.get_by_role("button", name="Từ chối tiếp nhận", exact=True).click()
    assert page.locator("#form-number").inner_text() == "Mẫu số 03"
    assert page.locator("#reason").inner_text() == "Hồ sơ không thuộc thẩm quyền giải quyết của phường"
    assert page.locator("#clerk").inner_text() == CLERK_NAME
    shoot(page, "forms-03")
    page.set_viewport_size(PHONE)
    shoot(page, "forms-03")
    page.emulate_media(media="print")
    page.pdf(path=artifacts / "forms-03.pdf", format="A4")
    page.emulate_media(media="screen")
    page.get_by_role("link", name="Hồ sơ / Dossier").click()
    assert page.locator("#dossier-status").inner_text() == "Từ chối tiếp nhận"
    assert page.locator(".timeline .actor").first.inner_text() == CLERK_NAME
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto("/desk")
    page.locator("#register-link").click()
    rows = page.locator("#register tbody tr")
    assert rows.count() >= 1 and "Từ chối tiếp nhận" in rows.last.inner_text() and CLERK_NAME in rows.last.inner_text()
    shoot(page, "forms-register")
    page.set_viewport_size(PHONE)
    shoot(page, "forms-register")
    with page.expect_download() as download:
        page.locator("#register-xlsx").click()
    assert download.value.suggested_filename.startswith(f"so-theo-doi-{WARD}-")
    assert page.csp_violations == []
