"""The warning rules page in headless Chromium: an administrator reaches it from the menu, sets a rule with two
escalation levels and reads it back in the table, at 1366 and 390 px (screenshots rules-*)."""

import pytest

from tests.web.conftest import DESKTOP, PHONE

WARD = "000.01.01.H26"


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_an_administrator_sets_a_rule_from_the_page(page, shoot, viewport):
    page.set_viewport_size(viewport)
    page.goto("/desk")
    page.locator("header details.menu summary").click()
    with page.expect_navigation():
        page.get_by_role("link", name="Quy tắc cảnh báo").click()
    assert page.locator("h1").inner_text() == "Quy tắc cảnh báo và leo thang"
    page.get_by_label("Đơn vị", exact=True).select_option(WARD)
    page.get_by_label("Cảnh báo khi đã dùng (% thời gian của bước)").fill("60")
    page.get_by_label("Leo thang", exact=True).select_option("levels")
    page.locator("#after-1").fill("1")
    page.locator("#every-1").fill("2")
    page.locator("#after-2").fill("3")
    page.locator("#every-2").fill("1")
    page.locator("#to-2").select_option("centre")
    shoot(page, "rules-form")
    with page.expect_navigation():
        page.locator("#save-rule").click()
    assert page.locator("#done").inner_text() == "Đã lưu quy tắc."
    row = page.locator("#rules tbody tr").nth(1)
    assert WARD in row.inner_text() and "60 %" in row.inner_text()
    assert row.locator("ol.ladder li").count() == 2
    table = page.locator("#rules").bounding_box()
    assert table["x"] >= 0
    shoot(page, "rules")
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        row.get_by_role("button", name="Xoá").click()
    assert page.locator("#no-rules").is_visible()
