"""In headless Chromium: a citizen rates a returned dossier from the lookup on a phone and at the kiosk;
a clerk registers a complaint and answers it; screenshots at 1366 and 390 px."""

import re

import pytest

from tests.web.conftest import DESKTOP, PHONE, focused
from tests.web.test_browser import NAME, PHONE_NUMBER, post_event, receive


def returned(desk) -> str:
    code = receive(desk)
    post_event(desk, code, type="resolved", result="Giấy xác nhận đăng ký thường trú")
    post_event(desk, code, type="result_returned")
    return code


@pytest.mark.user(None)
def test_a_citizen_rates_from_the_lookup_on_a_phone(page, desk, shoot):
    code = returned(desk)
    page.set_viewport_size(PHONE)
    page.goto(f"/lookup?code={code}")
    focused(page, "phone-last4")
    page.keyboard.type(PHONE_NUMBER[-4:])
    page.keyboard.press("Enter")
    page.locator("#rating").wait_for()
    page.locator("label.rating-choice.very_satisfied").click()
    page.locator("details.rating-indices summary").click()
    page.locator("input[name=index_1][value='2']").check()
    page.locator("input[name=index_7][value='1']").check()
    shoot(page, "rating-lookup")
    page.get_by_role("button", name="Gửi đánh giá").click()
    page.locator("#rated").wait_for()
    assert page.locator("#rating").count() == 0 and NAME not in page.content()
    shoot(page, "rating-lookup-thanks")


@pytest.mark.user(None)
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_kiosk(page, desk, shoot, viewport):
    code = returned(desk)
    page.set_viewport_size(viewport)
    page.goto(f"/kiosk?code={code}")
    focused(page, "phone-last4")
    page.keyboard.type(PHONE_NUMBER[-4:])
    page.locator("label.rating-choice.satisfied").click()
    shoot(page, "kiosk")
    page.get_by_role("button", name="Gửi đánh giá").click()
    page.locator("#rated").wait_for()
    shoot(page, "kiosk-thanks")
    page.goto(f"/kiosk?code={code}")
    page.locator("#phone-last4").fill(PHONE_NUMBER[-4:])
    page.locator("label.rating-choice.dissatisfied").click()
    page.get_by_role("button", name="Gửi đánh giá").click()
    assert "đã được đánh giá" in page.locator("#problem").inner_text()  # one rating per dossier


@pytest.mark.user("clerk")
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_clerk_registers_and_answers_a_complaint(page, desk, shoot, viewport):
    code = receive(desk)
    page.set_viewport_size(viewport)
    page.goto("/desk/complaints")
    page.get_by_label("Kênh tiếp nhận").select_option("hotline")
    page.get_by_label("Phân loại").select_option("staff_conduct")
    page.get_by_label("Nội dung").fill("Công dân phản ánh cán bộ một cửa hướng dẫn chưa đầy đủ giấy tờ cần nộp.")
    page.locator("#c-dossier").fill(code)
    shoot(page, "complaints")
    with page.expect_navigation(url=re.compile(r"/desk/complaints/\d+")):
        page.get_by_role("button", name="Tiếp nhận").click()
    assert page.locator("#complaint-status").inner_text() == "Đã tiếp nhận"
    page.get_by_label("Việc").select_option("answered")
    page.get_by_label("Nội dung (yêu cầu, lý do, trả lời)").fill("Đã hướng dẫn lại và chấn chỉnh cán bộ.")
    page.get_by_role("button", name="Ghi nhận diễn biến").click()
    page.locator("#done").wait_for()
    assert page.locator("#complaint-status").inner_text() == "Đã trả lời"
    assert page.locator("#timeline li").count() == 2
    shoot(page, "complaint")


@pytest.mark.user("admin")
def test_the_staff_ratings_page(page, desk, shoot):
    code = returned(desk)
    page.goto("/desk/ratings")
    page.locator("#paper-code").fill(code)
    page.locator("label.rating-choice.dissatisfied").click()
    page.get_by_role("button", name="Gửi đánh giá").click()
    page.locator("#recorded").wait_for()
    assert page.locator("#rating-counts").count() == 1 and code not in page.locator("#rating-counts").inner_text()
    shoot(page, "ratings-staff")
    page.set_viewport_size(PHONE)
    shoot(page, "ratings-staff")
