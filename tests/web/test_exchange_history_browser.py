"""The history import page (an administrator) and the reconciliation page (a manager) in headless Chromium, at
1366 px and 390 px; screenshots in test-artifacts/web/ (exchange-import-*, exchange-reconcile-*)."""

import orjson
import pytest

from tests.exchange.test_history import religion_record, residence_record
from tests.exchange.test_reconcile import HEADER
from tests.web.conftest import PHONE

WARD = "000.01.01.H26"


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    path = tmp_path_factory.mktemp("records") / "lich-su.jsonl"
    late = {**residence_record("WEB-A", appointment="20250509090000"), "TrangThaiHoSo": 9,
            "NgayKetThucXuLy": "20250509083000"}  # fmt: skip
    rows = [religion_record("WEB-R"), late, residence_record("WEB-B", received="20250602090000"),
            residence_record("WEB-C", received="20250603090000", appointment="20250613090000")]  # fmt: skip
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def test_an_administrator_imports_a_history_file_and_reads_its_disagreements(page, records, shoot, tmp_path):
    page.goto("/exchange/imports")
    page.set_input_files("#file", str(records))
    page.get_by_role("button", name="Nhập").click()
    page.wait_for_url("**/exchange/imports/*")
    assert "4/4 bản ghi đã nhập" in page.locator("#import-summary").inner_text()
    rows = page.locator("#findings tbody tr")
    assert rows.count() == 2
    assert "26/04/2025" in rows.first.inner_text() and "làm bù" in rows.first.inner_text()
    shoot(page, "exchange-import")
    page.set_viewport_size(PHONE)
    shoot(page, "exchange-import")
    bad = tmp_path / "loi.jsonl"
    bad.write_bytes(orjson.dumps({**residence_record("WEB-X"), "MaTTHC": "9.999999"}) + b"\n")
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto("/exchange/imports")
    page.set_input_files("#file", str(bad))
    page.get_by_role("button", name="Nhập").click()
    assert "MaTTHC" in page.locator("#problems").inner_text()
    shoot(page, "exchange-import-refused")
    page.set_viewport_size(PHONE)
    shoot(page, "exchange-import-refused")


@pytest.mark.user("manager")
def test_a_manager_reconciles_the_portals_figures_for_a_quarter(page, records, shoot, tmp_path):
    portal = tmp_path / "cong.csv"
    portal.write_text(HEADER + f"{WARD},Phường Phúc Xá,COMMUNE,2,1,0,0,1,50.00,10.00,20\n", encoding="utf-8")
    page.goto("/exchange/reconcile")
    page.get_by_label("Kỳ (ví dụ 2026-Q3)").fill("2025-Q2")
    page.set_input_files("#file", str(portal))
    page.get_by_role("button", name="Đối chiếu").click()
    unit = page.locator(f'[data-unit="{WARD}"]')
    assert "Tiếp nhận" in unit.inner_text()
    assert unit.locator(".explanations li").count() >= 1
    shoot(page, "exchange-reconcile")
    page.set_viewport_size(PHONE)
    shoot(page, "exchange-reconcile")
