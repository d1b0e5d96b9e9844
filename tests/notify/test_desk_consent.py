"""Consent at the desk: the intake form records it, the dossier page shows it, a refusal says why in Vietnamese."""

import html
import re

from tests.conftest import BACKDATE_REASON
from tests.notify.conftest import outbox_of

WARD = "000.01.01.H26"
FORM = {
    "procedure_code": "1.004222",
    "agency_code": WARD,
    "channel": "counter",
    "name": "Hoàng Văn Nam",
    "phone": "0911222333",
    "received_at": "02/06/2025 09:00",
    "backdate_reason": BACKDATE_REASON,
}


def _text(response) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", response.text))


def test_the_desk_records_consent_and_the_dossier_page_shows_it(client, session):
    page = client.get("/desk")
    assert 'name="contact_consent"' in page.text and 'name="preferred_channel"' in page.text
    response = client.post(
        "/desk/dossiers",
        data={**FORM, "contact_consent": "true", "preferred_channel": "zalo", "key": "notify-desk-1"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    code = response.headers["location"].split("/")[-2]
    [message] = outbox_of(session, code)
    assert message.channel == "zalo" and message.kind == "received"
    assert "Hẹn trả kết quả: 11/06/2025 09:00" in message.body  # Zalo: the accented text
    dossier_page = client.get(f"/desk/dossiers/{code}")
    assert "Đồng ý, qua Zalo" in _text(dossier_page)
    english = client.get(f"/desk/dossiers/{code}?lang=en")
    assert "Agreed, by Zalo" in _text(english)


def test_without_consent_the_page_says_so_and_nothing_is_queued(client, session):
    response = client.post("/desk/dossiers", data={**FORM, "key": "notify-desk-2"}, follow_redirects=False)
    code = response.headers["location"].split("/")[-2]
    assert outbox_of(session, code) == []
    assert "Không đồng ý nhận thông báo" in _text(client.get(f"/desk/dossiers/{code}"))


def test_consent_by_email_without_an_email_is_refused_on_the_page(client, session):
    before = len(outbox_of(session))
    response = client.post("/desk/dossiers", data={**FORM, "contact_consent": "true", "preferred_channel": "email"})
    assert response.status_code == 422
    assert "nhận thông báo qua thư điện tử thì cần địa chỉ thư điện tử" in _text(response)
    assert 'value="Hoàng Văn Nam"' in response.text  # the form is kept
    assert len(outbox_of(session)) == before
    english = client.post(
        "/desk/dossiers?lang=en", data={**FORM, "contact_consent": "true", "preferred_channel": "sms", "phone": ""}
    )
    assert english.status_code == 422 and "messages by sms need the phone number" in _text(english)
