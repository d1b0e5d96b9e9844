"""In headless Chromium at 1366 and 390 px: the dossier page's fees, document flags, electronic result,
VNeID and population reference; screenshots in test-artifacts/web/ (dossier-facts-*)."""

import httpx
import pytest

from tests.web.conftest import DESKTOP, PHONE, sign_in
from tests.web.test_dossier_facts_page import RESIDENCE, WARD


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_dossier_facts_on_a_desktop_and_a_phone(page, shoot, live_server, lang):
    body = {
        "procedure_code": RESIDENCE,
        "agency_code": WARD,
        "channel": "online",
        "applicant": {"name": "Trần Thị Mai", "phone": "0912345678"},
        "vneid_verified": True,
        "population_ref": "DC-001190012345",
        "components": [{"seq": 1, "digitised": True, "from_citizen_store": True}, {"seq": 2, "reused": True}],
        "fees": [
            {"name": "Lệ phí đăng ký cư trú", "amount_vnd": 20000, "payment_channel": "gateway",
             "paid_at": "2026-01-05T09:10"},
            {"name": "Phí sao lục", "amount_vnd": 1500000},
        ],
    }  # fmt: skip
    token = sign_in(live_server, "admin")  # the session token is also a bearer token of the API
    with httpx.Client(base_url=live_server, headers={"Authorization": f"Bearer {token}"}) as admin:
        response = admin.post("/api/v1/dossiers", json=body)
    assert response.status_code == 201, response.text
    code = response.json()["code"]
    page.goto(f"/desk/dossiers/{code}?lang={lang}")
    fees = page.locator("#fees tbody tr")
    assert fees.count() == 2
    paid = fees.nth(0).locator("td").all_inner_texts()
    assert paid[2] == ("Provincial payment gateway" if lang == "en" else "Cổng thanh toán của tỉnh")
    assert page.locator("#components-received tbody tr").nth(0).locator("td").count() == 7
    assert page.locator("#population-ref").inner_text() == "DC-001190012345"
    shoot(page, f"dossier-facts-{lang}")
    page.set_viewport_size(PHONE)
    page.locator("#fees").scroll_into_view_if_needed()
    shoot(page, f"dossier-facts-{lang}")
    page.set_viewport_size(DESKTOP)
