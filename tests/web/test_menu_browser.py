"""The staff menu's group in headless Chromium: an administrator finds the national sync, the history import
and the reconciliation under 'Hệ thống' at 1366 and 390 px (screenshots menu-system-*)."""

import pytest

from tests.web.conftest import DESKTOP, PHONE


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_system_group_opens_closes_and_leads_to_its_pages(page, shoot, viewport):
    page.set_viewport_size(viewport)
    page.goto("/exchange")
    group = page.locator("header details.menu")
    summary = group.locator("summary")
    assert summary.inner_text() == "Hệ thống"
    assert summary.get_attribute("class") == "current"  # the page shown is one of the group's
    link = group.get_by_role("link", name="Nhập lịch sử hồ sơ")
    assert not link.is_visible()
    summary.click()
    assert group.locator("a").all_inner_texts() == [
        "Đồng bộ Cổng quốc gia", "Nhập lịch sử hồ sơ", "Đối chiếu số liệu với Cổng", "Lịch làm việc", "Mẫu tin nhắn",
        "Quy tắc cảnh báo",
    ]
    box = group.locator("ul").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]  # the entries stay on the screen
    shoot(page, "menu-system")
    page.keyboard.press("Escape")
    assert not link.is_visible()
    summary.click()
    page.locator("main h1").click()  # a click elsewhere closes it too
    assert not link.is_visible()
    summary.click()
    with page.expect_navigation():
        link.click()
    assert page.url.endswith("/exchange/imports")
    assert page.locator("header a[aria-current=page]").text_content() == "Nhập lịch sử hồ sơ"
    assert page.locator("header details.menu summary").get_attribute("class") == "current"
