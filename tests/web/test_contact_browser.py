"""In headless Chromium: a clerk turns the applicant's messages on from the dossier page, and the citizen stops
them from the lookup on a phone (screenshots contact-desk-*, contact-lookup-*)."""

import pytest

from tests.web.conftest import DESKTOP, PHONE, focused
from tests.web.test_browser import PHONE_NUMBER, receive


@pytest.mark.user("clerk")
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_clerk_turns_the_messages_on_and_the_citizen_stops_them(page, desk, shoot, viewport, browser, live_server):
    code = receive(desk)
    page.set_viewport_size(viewport)
    page.goto(f"/desk/dossiers/{code}")
    assert page.locator("#contact").inner_text() == "Không đồng ý nhận thông báo"
    page.locator("#contact-change summary").click()
    page.get_by_label("Người nộp đồng ý nhận thông báo về hồ sơ").check()
    page.get_by_label("Kênh nhận").select_option("sms")
    shoot(page, "contact-desk")
    with page.expect_navigation():
        page.locator("#contact-save").click()
    assert page.locator("#done").inner_text() == "Đã lưu cách thông báo cho người nộp."
    assert page.locator("#contact").inner_text() == "Đồng ý, qua SMS"
    citizen = browser.new_page(base_url=live_server, viewport=PHONE)
    try:
        citizen.goto(f"/lookup?code={code}")
        focused(citizen, "phone-last4")
        citizen.keyboard.type(PHONE_NUMBER[-4:])
        citizen.keyboard.press("Enter")
        citizen.locator("#stop-messages-button").wait_for()
        shoot(citizen, "contact-lookup")
        with citizen.expect_navigation():
            citizen.locator("#stop-messages-button").click()
        assert citizen.locator("#messages-stopped").inner_text() == "Đã ngừng gửi thông báo về hồ sơ này."
        shoot(citizen, "contact-lookup-stopped")
    finally:
        citizen.close()
    page.reload()
    assert page.locator("#contact").inner_text() == "Không đồng ý nhận thông báo"
