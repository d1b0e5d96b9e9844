"""In headless Chromium: the clerk ticks the documents received on the checklist (1366 and 390 px), and
form 01 lists them; screenshots in test-artifacts/web/."""

import re

import pytest

from tests.web.conftest import DESKTOP, PHONE

WARD = "000.01.01.H26"
HOME = "Giấy tờ chứng minh chỗ ở hợp pháp"


@pytest.mark.user("clerk")
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_clerk_ticks_the_checklist_and_form_01_lists_the_documents(page, shoot, lang):
    english = lang == "en"
    page.goto(f"/desk?lang={lang}")
    page.locator("#procedure-q").fill("dang ky thuong tru")
    page.get_by_role("radio", name=re.compile("^Permanent residence" if english else "^Đăng ký thường trú")).check()
    checklist = page.locator("#components")
    checklist.get_by_role("checkbox").first.wait_for()  # loaded when the procedure is picked
    assert checklist.get_by_role("checkbox").count() == 2
    checklist.get_by_role("checkbox", name=re.compile("^Tờ khai thay đổi")).check()
    checklist.get_by_role("checkbox", name=re.compile(f"^{HOME}")).check()
    checklist.locator("#copies-2").fill("2")
    page.locator("#agency").select_option(WARD)
    page.locator("#name").fill("Lý Thị Hoa")
    page.locator("#phone").fill("0904556677")
    checklist.scroll_into_view_if_needed()
    shoot(page, f"desk-checklist-{lang}")
    page.set_viewport_size(PHONE)
    checklist.scroll_into_view_if_needed()
    shoot(page, f"desk-checklist-{lang}")
    copies_box = checklist.locator("#copies-2").bounding_box()
    assert copies_box["x"] + copies_box["width"] <= PHONE["width"]  # the copies box stays on screen
    with page.expect_navigation(url=re.compile(r"/receipt(\?lang=en)?$")):  # the language kept (keep_lang)
        page.locator("#intake button.primary").click()
    rows = page.locator("#documents tbody tr")
    assert rows.count() == 2
    assert rows.nth(1).locator("td").all_inner_texts() == ["2", HOME, "Bản sao", "2"]
    # on a phone the table keeps within the screen (the form's own heading is the `forms` part's, an A4 page)
    assert page.evaluate("() => document.querySelector('#documents').getBoundingClientRect().right") <= PHONE["width"]
    page.set_viewport_size(DESKTOP)
    shoot(page, f"receipt-documents-{lang}")
    page.get_by_role("link", name="Hồ sơ / Dossier").click()
    assert page.locator("#components-received tbody tr").count() == 2
    assert page.locator("#components-missing").count() == 0
    shoot(page, f"dossier-components-{lang}")
