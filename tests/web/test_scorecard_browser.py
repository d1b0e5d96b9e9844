"""The scorecard page in headless Chromium at 1366 px and 390 px; screenshots in test-artifacts/web/ (scorecard-*)."""

import pytest

from api.web.auth import SESSION_COOKIE
from tests.web.conftest import PHONE

WARD = "000.01.01.H26"
RESIDENCE = "1.004222"


@pytest.fixture(scope="module")
def quarter(desk) -> None:
    """Q3 2025 at the ward: four residence dossiers with their 766 facts, one resolved late."""
    facts = [
        ("2025-07-07T09:00", {"components": [{"seq": 1, "digitised": True, "reused": True}], "population_ref": "DC1"}),
        ("2025-07-08T09:00", {"channel": "online", "vneid_verified": True, "components": [{"seq": 1, "digitised": True}]}),
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
