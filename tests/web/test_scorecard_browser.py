"""The scorecard page and its drill-downs in headless Chromium at 1366 px and 390 px; screenshots in
test-artifacts/web/ (scorecard-*)."""

from datetime import datetime

import pytest

from api.web.auth import SESSION_COOKIE
from kernel.localtime import LOCAL_TZ
from tests.web.conftest import PHONE

WARD = "000.01.01.H26"
RESIDENCE = "1.004222"


@pytest.fixture(scope="module")
def quarter(desk) -> None:
    """Q3 2025 at the ward: four residence dossiers with their 766 facts, one resolved late."""
    facts = [
        ("2025-07-07T09:00", {"components": [{"seq": 1, "digitised": True, "reused": True}], "population_ref": "DC1"}),
        (
            "2025-07-08T09:00",
            {"channel": "online", "vneid_verified": True, "components": [{"seq": 1, "digitised": True}]},
        ),
        ("2025-07-09T09:00", {"components": [{"seq": 1, "digitised": False}]}),
        ("2025-08-04T09:00", {"channel": "online", "vneid_verified": False}),
    ]  # fmt: skip
    bearer = {"Authorization": f"Bearer {desk.cookies[SESSION_COOKIE]}"}
    for number, (received_at, extra) in enumerate(facts):
        body = {"procedure_code": RESIDENCE, "agency_code": WARD, "received_at": received_at,
                "backdate_reason": "Ghi lại hồ sơ đã nhận", "applicant": {"name": "Lê Thị Hoa"}, **extra}  # fmt: skip
        response = desk.post("/api/v1/dossiers", json=body, headers=bearer)
        assert response.status_code == 201, response.text
        code = response.json()["code"]
        resolved = "2025-08-29T10:00" if number == 2 else received_at[:10] + "T15:00"
        event = {"type": "resolved", "at": resolved, "backdate_reason": "Ghi lại", "result": "Đã đăng ký",
                 "electronic_result": number != 0}  # fmt: skip
        response = desk.post(f"/api/v1/dossiers/{code}/events", json=event, headers=bearer)
        assert response.status_code == 201, response.text


def test_scorecard_page_with_points_lost_and_drill_down(page, quarter, shoot):
    page.goto(f"/dashboard/scorecard?period=2025-Q3&agency={WARD}")
    assert page.locator("#scorecard-total").inner_text().startswith("Tổng điểm")
    assert page.locator("#line-2\\.1").count() == 1
    assert "1.4" in page.locator("#scorecard-missing").inner_text()
    shoot(page, "scorecard")
    page.set_viewport_size(PHONE)
    shoot(page, "scorecard")
    page.set_viewport_size({"width": 1366, "height": 900})
    page.locator("#line-2\\.1 a").click()
    shown, total = page.locator("#costly-count").inner_text().split(" / ")
    assert shown == total and int(total) >= 1  # the late one above (and other browser tests' at the ward)
    shoot(page, "scorecard-costly")
    page.goto(f"/dashboard/scorecard?period=2025-Q9&agency={WARD}")
    assert "invalid_input" in page.locator("#problem").inner_text() and page.locator("#scorecard-lines").count() == 0


def _current_quarter() -> str:
    today = datetime.now(LOCAL_TZ).date()
    return f"{today.year}-Q{(today.month - 1) // 3 + 1}"


@pytest.fixture(scope="module")
def feedback(desk) -> dict:
    """This quarter at the ward (the API receives complaints and ratings now): a dossier returned and rated
    dissatisfied, another named by a complaint; a complaint answered, published and disliked; the ward does not
    offer electronic certified copies."""
    bearer = {"Authorization": f"Bearer {desk.cookies[SESSION_COOKIE]}"}

    def post(path, body, status=201):
        response = desk.post(f"/api/v1{path}", json=body, headers=bearer)
        assert response.status_code == status, response.text
        return response.json()

    codes = []
    for _ in range(2):
        body = {"procedure_code": RESIDENCE, "agency_code": WARD, "applicant": {"name": "Lê Thị Hoa"}}
        code = post("/dossiers", body)["code"]
        post(f"/dossiers/{code}/events", {"type": "resolved", "result": "Đã đăng ký"})
        post(f"/dossiers/{code}/events", {"type": "result_returned"})
        codes.append(code)
    post(f"/dossiers/{codes[0]}/rating", {"rating": "dissatisfied"})
    disliked = post("/complaints", {"agency_code": WARD, "channel": "hotline", "category": "staff_conduct",
                                    "content": "Nội dung phản ánh riêng"})["id"]  # fmt: skip
    for event in ({"type": "answered", "note": "Đã trả lời"}, {"type": "published"}, {"type": "disliked"}):
        post(f"/complaints/{disliked}/events", event)
    post("/complaints", {"agency_code": WARD, "channel": "portal", "category": "regulations",
                         "content": "Phản ánh về hồ sơ", "dossier_code": codes[1]})  # fmt: skip
    response = desk.patch(f"/api/v1/agencies/{WARD}", json={"e_certified_copies": False}, headers=bearer)
    assert response.status_code == 200, response.text
    return {"dossiers": codes, "disliked": disliked}


def test_drill_downs_of_complaints_ratings_and_agencies(page, feedback, shoot):
    params = f"period={_current_quarter()}&agency={WARD}"
    page.goto(f"/dashboard/scorecard/5.3?{params}")
    table = page.locator("#costly-table")
    assert f"Số {feedback['disliked']}" in table.inner_text() and "Không hài lòng với trả lời" in table.inner_text()
    assert "Nội dung phản ánh riêng" not in page.content()
    shoot(page, "scorecard-complaints")
    page.set_viewport_size(PHONE)
    shoot(page, "scorecard-complaints")
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"/dashboard/scorecard/5.4?{params}")
    rows = page.locator("#costly-table").inner_text()
    assert feedback["dossiers"][1] in rows and "Bị phản ánh, kiến nghị" in rows
    assert feedback["dossiers"][0] not in rows  # its dissatisfied rating is counted, never shown per dossier
    assert page.locator("#dissatisfied-table").inner_text().count("\n") >= 1
    shoot(page, "scorecard-satisfaction")
    page.set_viewport_size(PHONE)
    shoot(page, "scorecard-satisfaction")
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"/dashboard/scorecard?{params}")
    page.locator("#line-4\\.6 a").click()
    assert "Không cung cấp" in page.locator("#costly-table").inner_text()
    shoot(page, "scorecard-agencies")
    page.set_viewport_size(PHONE)
    shoot(page, "scorecard-agencies")
