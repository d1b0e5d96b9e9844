"""In Chromium: the processing agency sends a resolved result back to the desk, which returns it (1366, 390 px)."""

import pytest

from tests.web.conftest import PHONE
from tests.web.test_browser import DEPARTMENT, post_event, receive, record


@pytest.mark.user("officer")
def test_the_department_sends_the_result_back_to_the_desk(page, desk, shoot):
    code = receive(desk)
    post_event(desk, code, type="forwarded", to_agency=DEPARTMENT)
    post_event(desk, code, type="resolved", result="Đã đăng ký thường trú")
    page.goto(f"/desk/dossiers/{code}")
    assert page.locator("#actions summary").all_inner_texts() == ["Chuyển kết quả về Bộ phận Một cửa"]
    assert "Kết quả đang ở Sở Dân tộc và Tôn giáo" in page.locator("#result-away").inner_text()
    record(page, "result_sent_to_desk", reason="Gửi kèm 02 bản chính quyết định")
    assert page.locator("#done").inner_text().endswith("Chuyển kết quả về Một cửa")
    assert page.locator("#holding").inner_text() == "Phường Hoàn Kiếm"
    stage = page.locator("#stages tbody tr").last.inner_text()
    assert "Kết quả chuyển về Bộ phận Một cửa" in stage and "không tính vào đánh giá đúng hạn" in stage
    assert page.locator("#no-actions-for-role").count() == 1  # now the desk's to return
    assert "Ghi chú: Gửi kèm 02 bản chính quyết định" in page.locator("#timeline li").last.inner_text()
    shoot(page, "hand-back-dossier")
    page.set_viewport_size(PHONE)
    shoot(page, "hand-back-dossier")


@pytest.mark.user("clerk")
def test_the_desk_returns_the_result_sent_back(page, desk, shoot):
    code = receive(desk)
    post_event(desk, code, type="forwarded", to_agency=DEPARTMENT)
    post_event(desk, code, type="resolved")
    page.goto(f"/desk/dossiers/{code}")
    assert page.locator("#actions summary").count() == 0 and page.locator("#result-away").count() == 1
    post_event(desk, code, type="result_sent_to_desk")
    page.goto("/desk/worklist")
    row = page.locator("#results tbody tr", has_text=code)
    assert "Trả kết quả cho người dân" in row.inner_text()
    shoot(page, "hand-back-worklist")
    with page.expect_navigation():
        row.get_by_role("link", name=code).click()
    assert page.locator("#actions summary").all_inner_texts() == ["Trả kết quả cho người dân"]
    assert page.locator("#result-at-desk").count() == 1
    shoot(page, "hand-back-at-desk")
    page.set_viewport_size(PHONE)
    shoot(page, "hand-back-at-desk")
    record(page, "result_returned")
    assert page.locator("#dossier-status").inner_text() == "Đã trả kết quả"
    page.goto(f"/desk/dossiers/{code}/forms/06")
    hand_back = page.locator("tr.hand-back").inner_text()
    assert "Chuyển kết quả về Bộ phận Một cửa" in hand_back and "Nhận: Phường Hoàn Kiếm" in hand_back
    shoot(page, "hand-back-form-06")
