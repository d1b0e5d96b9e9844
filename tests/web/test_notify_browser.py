"""In headless Chromium: the staff inbox with its unread count, and the dossier page's messages and escalation
ladder (1366 and 390 px); screenshots in test-artifacts/web/."""

from datetime import datetime

import pytest

from api.db import make_engine
from notify.jobs import run_evaluate
from notify.outbox import Links
from sla.calendars import CalendarStore
from sla.core.calendar import DEFAULT_WORKING_HOURS, LOCAL_TZ
from tests.conftest import BACKDATE_REASON
from tests.web.conftest import DESKTOP, PHONE

WARD = "000.01.01.H26"


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LOCAL_TZ)


@pytest.fixture(scope="module")
def noticed(desk, live_server, tmp_path_factory) -> dict[str, str]:
    """Two dossiers received at the ward on Mon 21/04/2025 (due Tue 29/04 09:00), one with consent; the rules
    run as they would have on Sat 26/04 11:00 (the warning), Mon 05/05 and Wed 07/05 09:00 (escalations)."""
    codes = {}
    for name, consent in (("late", {"contact_consent": "true", "preferred_channel": "sms"}), ("other", {})):
        form = {
            "procedure_code": "1.004222", "agency_code": WARD, "channel": "counter", "name": "Đỗ Thị Mai",
            "phone": "0912000111", "received_at": "21/04/2025 09:00", "backdate_reason": BACKDATE_REASON,
            "key": f"notify-browser-{name}", **consent,
        }  # fmt: skip
        response = desk.post("/desk/dossiers", data=form, follow_redirects=False)
        assert response.status_code == 303, response.text
        codes[name] = response.headers["location"].split("/")[-2]
    # the live server's database (tests/web/conftest.py `live_server`): the rules run on it as of those days
    database = max(tmp_path_factory.getbasetemp().glob("web*/motcua.db"), key=lambda path: path.stat().st_mtime)
    engine = make_engine(f"sqlite:///{database}")
    store = CalendarStore(first_year=2015, last_year=2035, working_hours=DEFAULT_WORKING_HOURS)
    for at in ("2025-04-26T11:00", "2025-05-05T09:00", "2025-05-07T09:00"):
        run_evaluate(engine, store=store, now=_at(at), links=Links(live_server))
    engine.dispose()
    return codes


@pytest.mark.user("manager")
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_inbox_and_the_dossier_ladder(page, shoot, noticed, lang):
    page.goto(f"/desk/inbox?lang={lang}")
    # a warning per dossier (26/04) and an escalation per dossier to the ward's managers (level 1, 05/05); level 2
    # (07/05) goes to the managers at the top of the tree, of whom this city has none
    assert page.locator("#notices li").count() == 4
    assert page.locator("#unread-count").inner_text() == "4"
    shoot(page, f"notify-inbox-{lang}")
    page.set_viewport_size(PHONE)
    shoot(page, f"notify-inbox-{lang}")
    page.set_viewport_size(DESKTOP)
    page.locator(f'#notices a[href="/desk/dossiers/{noticed["late"]}"]').first.click()
    page.wait_for_url(f"**/desk/dossiers/{noticed['late']}**")
    assert page.locator("#ladder li").count() >= 1
    assert page.locator("#messages tbody tr").count() == 1
    page.locator("#messages").scroll_into_view_if_needed()
    shoot(page, f"notify-dossier-{lang}")
    page.set_viewport_size(PHONE)
    shoot(page, f"notify-dossier-{lang}")


@pytest.mark.parametrize("lang", ["vi"])
def test_the_template_editor_preview(page, shoot, lang):
    page.goto("/notify/templates/apology/email")
    page.locator("#body").fill("Kính gửi ông/bà,\n{agency} xin lỗi vì hồ sơ {code} trễ hẹn. Hẹn lại: {new_due}.")
    page.locator("#preview-button").click()
    assert "Hẹn lại: 16/06/2025 17:00." in page.locator("#preview").inner_text()
    shoot(page, f"notify-template-{lang}")
    page.set_viewport_size(PHONE)
    shoot(page, f"notify-template-{lang}")
