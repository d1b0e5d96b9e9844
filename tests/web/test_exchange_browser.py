"""In Chromium: the /exchange page after a real sync run against the gateway double, one dossier failing
(1366 and 390 px)."""

import threading
import time
from datetime import UTC, datetime

import pytest
import uvicorn
from sqlmodel import Session

from accounts.service import create_user
from api.app import create_app
from api.db import make_engine, upgrade
from api.settings import Settings
from dossiers import intake
from dossiers.schemas import ApplicantIn, DossierCreate
from exchange import sync
from seed.loader import load_catalogue
from sla.calendars import CalendarStore
from sla.core.calendar import DEFAULT_WORKING_HOURS
from tests.conftest import PASSWORD
from tests.exchange.gateway import TOKEN, Served
from tests.web.conftest import DESKTOP, PHONE, SESSION_COOKIE, _free_port, sign_in

WARD, OTHER_WARD = "000.01.01.H26", "000.02.01.H26"


@pytest.fixture
def synced_server(tmp_path, playwright_api):
    url = f"sqlite:///{tmp_path / 'exchange.db'}"
    engine = make_engine(url)
    upgrade(engine)
    store = CalendarStore(first_year=2024, last_year=2026, working_hours=DEFAULT_WORKING_HOURS)
    with Session(engine) as session:
        load_catalogue(session)
        create_user(session, username="manager", password=PASSWORD, role="manager", agency_code="000.00.00.H26")
        for n, agency in enumerate([WARD] * 4 + [OTHER_WARD] * 3):
            data = DossierCreate(procedure_code="1.004222", agency_code=agency, received_at=f"2025-07-0{n + 1}T09:00",
                                 applicant=ApplicantIn(name=f"Công dân {n}"))  # fmt: skip
            intake.receive(session, data=data, actor="clerk", calendar_for=lambda code: store.get(session, code),
                           now=datetime(2025, 12, 1, tzinfo=UTC), rules=intake.HISTORY)  # fmt: skip
        session.commit()
    with Served() as served:
        served.gateway.fail_next(3, status=422, body="Trường NgayHenTra không đúng định dạng yyyyMMddHHmmss")
        gateway = sync.Gateway(url=served.url, token=TOKEN, retries=0, retry_seconds=0)
        sync.run_sync(engine, gateway=gateway, calendar_for=lambda session: (lambda code: store.get(session, code)))
    engine.dispose()
    port = _free_port()
    app = create_app(Settings(database_url=url, exchange_url="https://dichvucong.gov.vn/gateway"))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_the_exchange_page_shows_pending_failed_and_rates(browser, synced_server, shoot):
    context = browser.new_context(viewport=DESKTOP, base_url=synced_server)
    context.add_cookies([{"name": SESSION_COOKIE, "value": sign_in(synced_server, "manager"), "url": synced_server}])
    page = context.new_page()
    page.goto("/exchange?period=2025-Q3")
    current = page.locator("header nav a[aria-current=page]")  # in the menu's "Hệ thống" group, marked current
    assert current.text_content() == "Đồng bộ Cổng quốc gia"
    assert page.locator("header details.menu summary").get_attribute("class") == "current"
    assert page.locator("#xch-failed").inner_text() == "3"
    assert page.locator("#xch-failures tbody").count() == 3
    assert "không đúng định dạng" in page.locator("#xch-failures").inner_text()
    rows = page.locator("#xch-rates tbody tr").all_inner_texts()
    assert len(rows) == 2 and "57" in page.locator("#xch-rate").inner_text()  # 4 of 7
    shoot(page, "exchange-status")
    page.set_viewport_size(PHONE)
    shoot(page, "exchange-status")
    page.goto("/exchange?period=2025-Q3&lang=en")
    assert "Sync rate per receiving unit" in page.content()
    context.close()
