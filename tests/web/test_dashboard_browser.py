"""A manager's dashboard in headless Chromium: a quarter, then a year, filtered by a procedure's name, at 1366 px
and at 390 px; screenshots in test-artifacts/web/ (dashboard-quarter-*, dashboard-year-*)."""

import pytest

from tests.web.conftest import PHONE

WARD = "000.01.01.H26"
BIRTH = "1.001193"  # Đăng ký khai sinh: resolved the same day


def receive(desk, procedure: str, received_at: str) -> str:
    form = {
        "procedure_code": procedure,
        "agency_code": WARD,
        "name": "Lê Thị Hoa",
        "phone": "0903000111",
        "received_at": received_at,
        "backdate_reason": "Ghi lại hồ sơ đã nhận",
    }
    response = desk.post("/desk/dossiers", data=form)
    assert response.status_code == 303, response.text
    return response.headers["location"].split("/")[-2]


def resolve(desk, code: str, at: str) -> None:
    form = {"type": "resolved", "at": at, "backdate_reason": "Ghi lại sự việc đã qua"}
    response = desk.post(f"/desk/dossiers/{code}/events", data=form)
    assert response.status_code == 303, response.text


@pytest.fixture(scope="module")
def births(desk) -> None:
    """Q1 2025: twelve birth registrations on time, one late (92,3 %); Q1 2024: four on time."""
    for year, count in ((2025, 12), (2024, 4)):
        for day in range(count):
            at = f"{year}-0{1 + day % 3}-{10 + day:02d}"
            resolve(desk, receive(desk, BIRTH, f"{at}T08:30"), f"{at}T10:00")
    resolve(desk, receive(desk, BIRTH, "2025-02-03T08:30"), "2025-02-12T10:00")


def chart_axis(page, chart: str) -> dict:
    return page.evaluate(
        """id => { const c = Chart.getChart(id); const axis = c.options.indexAxis === 'y' ? 'x' : 'y';
        return {min: c.scales[axis].min, max: c.scales[axis].max, title: c.options.scales[axis].title.text,
                tick: c.scales[axis].getLabelForValue ? c.options.scales[axis].ticks.callback(95.5) : null,
                datasets: c.data.datasets.map(d => d.label)}; }""",
        chart,
    )


def fits(page, selector: str) -> bool:
    script = "selector => { const box = document.querySelector(selector); return box.scrollWidth <= box.clientWidth; }"
    return page.evaluate(script, selector)


@pytest.mark.user("manager")
def test_manager_switches_to_a_quarter_and_a_year_filtered_by_procedure_name(page, births, shoot):
    page.goto(f"/dashboard?agency={WARD}")
    page.get_by_label("Kỳ báo cáo").fill("2025-Q1")
    page.get_by_label("Thủ tục (mã hoặc tên)").fill("khai sinh")
    with page.expect_navigation():
        page.get_by_role("button", name="Lọc").click()
    assert "period=2025-Q1" in page.url and "procedure=khai+sinh" in page.url
    assert page.locator("#period-title").inner_text() == "Báo cáo kỳ 01/01/2025 – 31/03/2025"
    assert "92,3 %" in page.locator("#compare").inner_text() and "100 %" in page.locator("#compare").inner_text()
    page.locator("#monthly-chart").wait_for()
    axis = chart_axis(page, "monthly-chart")
    assert axis["min"] == 75 and axis["max"] == 100, axis  # fitted to the lowest month (February, 80 %), not 0
    assert axis["title"] == "Tỷ lệ (%)" and axis["tick"] == "95,5 %"
    assert "Mục tiêu 95 %" in axis["datasets"] and "Tỷ lệ đúng hạn cùng kỳ năm trước" in axis["datasets"]
    assert fits(page, "#period .table-wrap"), "the period table is wider than its panel at 1366 px"
    shoot(page, "dashboard-quarter")
    page.set_viewport_size(PHONE)
    shoot(page, "dashboard-quarter")

    page.set_viewport_size({"width": 1366, "height": 900})
    page.get_by_label("Kỳ báo cáo").fill("2025")
    with page.expect_navigation():
        page.get_by_role("button", name="Lọc").click()
    assert page.locator("#period-title").inner_text() == "Báo cáo kỳ 01/01/2025 – 31/12/2025"
    page.locator("#monthly-chart").wait_for()
    assert page.evaluate("() => Chart.getChart('monthly-chart').data.labels.length") == 12
    shoot(page, "dashboard-year")
    late = page.locator("#period-total a[href*='column=late']")
    assert late.inner_text() == "1"
    late.click()
    assert page.locator("#cell-table tbody tr").count() == 1
    shoot(page, "dashboard-cell")
    page.go_back()
    page.set_viewport_size(PHONE)
    shoot(page, "dashboard-year")
    page.goto(f"/dashboard?agency={WARD}&period=2025&procedure=khai+sinh&lang=en")
    page.locator("#monthly-chart").wait_for()
    assert chart_axis(page, "monthly-chart")["tick"] == "95.5%"
    shoot(page, "dashboard-year-en")
