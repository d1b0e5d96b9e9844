"""In Chromium: a clerk's desk and an officer's worklist offer what the role may use (1366 and 390 px)."""

import pytest

from tests.web.conftest import PHONE
from tests.web.test_browser import DEPARTMENT, WARD, post_event, receive


@pytest.mark.user("clerk")
def test_clerk_sees_its_agency_preselected_and_only_its_actions(page, desk, shoot):
    late = receive(desk, received_at="2025-06-02T09:00")
    page.goto("/desk")
    agency = page.get_by_label("Cơ quan tiếp nhận")
    assert agency.input_value() == WARD
    assert agency.locator("option").evaluate_all("options => options.map(o => o.value)") == ["", WARD, f"{WARD}.CA"]
    assert page.locator("header nav a").all_inner_texts() == [
        "Tiếp nhận", "Việc cần xử lý", "Thông báo", "Phản ánh", "Hài lòng", "Lịch làm việc", "Tra cứu hồ sơ"
    ]
    shoot(page, "roles-clerk-desk")
    page.goto(f"/desk/dossiers/{late}")
    summaries = page.locator("#actions summary").all_inner_texts()
    assert "Xin lỗi và hẹn lại ngày trả" not in summaries and "Chuyển hồ sơ đến…" in summaries
    assert page.locator("[name=backdate_reason]").count() == 0  # back-dating is the manager's
    page.locator("#action-paused summary").click()
    page.locator("#paused-at").fill("2025-06-03T09:00")
    with page.expect_navigation():
        page.locator("#action-paused").get_by_role("button").click()
    problem = page.get_by_role("alert").inner_text()
    assert "chỉ lãnh đạo hoặc quản trị viên được ghi lùi" in problem and "/api/" not in problem
    shoot(page, "roles-clerk-refused")
    page.goto("/desk/worklist")
    assert page.locator("#worklist tbody tr").first.get_attribute("class") == "late"
    shoot(page, "roles-clerk-worklist")
    page.set_viewport_size(PHONE)
    shoot(page, "roles-clerk-worklist")
    page.goto("/desk")
    shoot(page, "roles-clerk-desk")


@pytest.mark.user("officer")
def test_officer_works_from_the_worklist(page, desk, shoot):
    code = receive(desk)
    post_event(desk, code, type="forwarded", to_agency=DEPARTMENT)
    page.goto("/desk/worklist?lang=en")
    nav = ["Desk", "Worklist", "Notifications", "Complaints", "Calendar", "Dossier lookup"]
    assert page.locator("header nav a").all_inner_texts() == nav
    row = page.locator("#worklist tbody tr", has_text=code)
    assert row.locator("td.remaining").inner_text()  # the step's time left, e.g. "6 d 7 h"
    shoot(page, "roles-officer-worklist-en")
    page.goto("/desk/worklist?lang=vi")
    shoot(page, "roles-officer-worklist")
    with page.expect_navigation():
        page.get_by_role("link", name=code).click()
    summaries = page.locator("#actions summary").all_inner_texts()
    assert summaries == [
        "Chuyển hồ sơ đến…",
        "Yêu cầu bổ sung hồ sơ",
        "Tạm dừng (chờ nghĩa vụ tài chính)",
        "Giải quyết xong",
        "Người nộp rút hồ sơ",
        "Dừng xử lý",
    ]
    shoot(page, "roles-officer-dossier")
    page.set_viewport_size(PHONE)
    shoot(page, "roles-officer-dossier")
    page.goto("/desk/worklist")
    shoot(page, "roles-officer-worklist")
