"""The citizen's page (from the receipt's QR code, public layout, supplement wait, current appointment),
dates typed day first on the pages, HTML error pages for browsers, the favicon and English names."""

import html
import re

import pytest

from tests.conftest import BACKDATE_REASON

API = "/api/v1"
WARD = "000.01.01.H26"
NAME, ID_NUMBER, PHONE, ADDRESS = "Phạm Thị Hoa", "001190099887", "0912345678", "12 Hàng Bạc"
HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def text(response) -> str:
    return html.unescape(response.text)


@pytest.fixture
def dossier(client):
    body = {
        "procedure_code": "1.004222",
        "agency_code": WARD,
        "received_at": "2025-06-02T09:00",
        "backdate_reason": BACKDATE_REASON,
        "applicant": {"name": NAME, "id_number": ID_NUMBER, "phone": PHONE, "address": ADDRESS},
    }
    response = client.post(f"{API}/dossiers", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def event(client, code, **fields):
    fields.setdefault("backdate_reason", BACKDATE_REASON)
    response = client.post(f"{API}/dossiers/{code}/events", json=fields)
    assert response.status_code == 201, response.text


# --- the citizen's page ---------------------------------------------------------------------------


def test_the_qr_address_fills_in_the_code_on_a_public_page(client_as, dossier):
    citizen = client_as(None)
    typed = " " + dossier["code"].lower().replace("-", " -", 1) + " "  # as a phone may pass it on
    page = citizen.get("/lookup", params={"code": typed})
    assert page.status_code == 200
    assert f'value="{dossier["code"]}"' in page.text  # normalised: case and spaces
    assert re.search(r'id="phone-last4"[^>]*autofocus', page.text)  # only the 4 digits are asked
    assert "mã QR" in text(page)
    assert page.headers["cache-control"] == "no-store"
    assert 'href="/desk"' not in page.text and 'href="/dashboard"' not in page.text  # no staff menu
    assert 'class="lang"' in page.text  # the language switch stays
    plain = citizen.get("/lookup")
    assert 'value=""' in plain.text and "autofocus" not in plain.text


def test_a_code_typed_in_lower_case_with_spaces_is_found(client_as, dossier):
    citizen = client_as(None)
    found = citizen.post("/lookup", data={"code": f"  {dossier['code'].lower()} ", "phone_last4": "5678"})
    assert found.status_code == 200, found.text
    assert 'id="result-status"' in found.text


def test_supplement_wait_shows_the_stopped_clock_and_what_to_bring_without_personal_data(client, client_as, dossier):
    reason = f"Bản sao giấy khai sinh của {NAME} (chứng thực); giấy xác nhận nơi ở tại {ADDRESS}"
    event(client, dossier["code"], type="supplement_requested", at="2025-06-03T09:00", reason=reason)
    answer = client_as(None).get(f"{API}/lookup", params={"code": dossier["code"], "phone_last4": "5678"}).json()
    assert answer["clock_stopped"] is True and answer["appointment_at"] is None
    assert answer["clock_stopped_since"] == "2025-06-03T09:00:00+07:00"
    assert answer["supplement_reason"] == "Bản sao giấy khai sinh của … (chứng thực); giấy xác nhận nơi ở tại …"
    for language, stopped, pending in (
        ("vi", "Thời gian giải quyết đang tạm dừng", "Sẽ hẹn lại khi hồ sơ được bổ sung đầy đủ"),
        ("en", "The processing time is stopped", "Set again once the dossier is complete"),
    ):
        page = client_as(None).post(
            f"/lookup?lang={language}", data={"code": dossier["code"], "phone_last4": "5678"}
        )
        assert page.status_code == 200
        shown = text(page)
        assert stopped in shown and "03/06/2025 09:00" in shown
        assert re.search(r'id="supplement-reason">Bản sao giấy khai sinh của … \(chứng thực\)', shown)
        assert re.search(rf'id="appointment">{re.escape(pending)}<', shown)  # not an appointment already past
        for private in (NAME, ID_NUMBER, PHONE, ADDRESS):
            assert private not in shown


def test_after_the_supplement_the_appointment_is_the_moved_one(client, client_as, dossier):
    event(client, dossier["code"], type="supplement_requested", at="2025-06-03T09:00", reason="Bản sao sổ hộ khẩu")
    event(client, dossier["code"], type="supplement_received", at="2025-06-10T09:00")
    moved = client.get(f"{API}/dossiers/{dossier['code']}").json()["due_at"]
    assert moved > dossier["due_at"]
    answer = client_as(None).get(f"{API}/lookup", params={"code": dossier["code"], "phone_last4": "5678"}).json()
    assert answer["appointment_at"] == moved and answer["supplement_reason"] is None


def test_after_an_apology_the_page_shows_the_new_appointment(client, client_as, dossier):
    event(
        client,
        dossier["code"],
        type="apology_issued",
        at="2025-06-09T10:00",
        reason="Cần xác minh thêm",
        new_due_at="19/06/2025 16:00",  # typed day first, through the same parser
    )
    page = client_as(None).post("/lookup", data={"code": dossier["code"], "phone_last4": "5678"})
    assert re.search(r'id="appointment"><time datetime="2025-06-19T16:00:00\+07:00">19/06/2025 16:00<', page.text)
    assert 'id="apology"' in page.text


# --- dates typed day first on the pages -----------------------------------------------------------


def test_desk_reads_day_first_dates_and_refuses_others_in_the_page_language(client):
    form = {
        "procedure_code": "1.004222",
        "agency_code": WARD,
        "name": "Hoàng Văn Nam",
        "phone": "0911222333",
        "received_at": "02/12/2025 09:30",
        "backdate_reason": BACKDATE_REASON,
    }
    received = client.post("/desk/dossiers", data=form, follow_redirects=False)
    assert received.status_code == 303, received.text
    code = received.headers["location"].split("/")[-2]
    assert client.get(f"{API}/dossiers/{code}").json()["received_at"] == "2025-12-02T09:30:00+07:00"

    wrong = client.post("/desk/dossiers", data={**form, "received_at": "31/02/2025 09:30"})
    assert wrong.status_code == 422
    assert "Thời điểm tiếp nhận: “31/02/2025 09:30” không phải ngày giờ hợp lệ" in text(wrong)
    assert 'value="31/02/2025 09:30"' in wrong.text  # the form keeps what was typed
    english = client.post("/desk/dossiers?lang=en", data={**form, "received_at": "02-12-2025"})
    assert "Received at: “02-12-2025” is not a date and time: enter dd/mm/yyyy HH:mm" in text(english)

    recorded = client.post(
        f"/desk/dossiers/{code}/events",
        data={"type": "forwarded", "to_agency": "000.00.03.H26", "at": "03/12/2025 08:15", "backdate_reason": "x"},
        follow_redirects=False,
    )
    assert recorded.status_code == 303, recorded.text
    events = client.get(f"{API}/dossiers/{code}").json()["timeline"]
    assert events[-1]["at"] == "2025-12-03T08:15:00+07:00"


def test_calendar_override_date_is_typed_day_first(client):
    added = client.post(
        "/calendar/overrides",
        data={"date": "03/06/2026", "kind": "off", "reason": "Bão số 1", "agency_code": WARD, "year": "2026"},
        follow_redirects=False,
    )
    assert added.status_code == 303, added.text
    overrides = client.get(f"{API}/calendar/overrides", params={"year": 2026, "agency": WARD}).json()
    assert any(o["date"] == "2026-06-03" for o in overrides)
    wrong = client.post("/calendar/overrides", data={"date": "2026/06/03", "kind": "off", "reason": "x"})
    assert wrong.status_code == 422 and "Ngày: “2026/06/03” không phải ngày hợp lệ" in text(wrong)


def test_page_inputs_are_masked_text_not_locale_pickers(client, dossier):
    for page in (client.get("/desk"), client.get(f"/desk/dossiers/{dossier['code']}"), client.get("/calendar")):
        assert "datetime-local" not in page.text and 'type="date"' not in page.text
    assert 'placeholder="dd/mm/yyyy hh:mm"' in client.get("/desk").text
    assert 'placeholder="dd/mm/yyyy"' in client.get("/calendar").text


# --- error pages, favicon ---------------------------------------------------------------------------


def test_browsers_get_an_html_404_and_clients_json(client_as):
    anyone = client_as(None)
    page = anyone.get("/no-such-page", headers=HTML)
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert '<header class="site">' in page.text and "Không có trang này" in text(page)
    english = anyone.get("/no-such-page?lang=en", headers=HTML)
    assert english.status_code == 404 and "There is no such page" in english.text
    assert anyone.get("/no-such-page").json() == {"error": "not_found", "detail": "Not Found"}
    assert anyone.get("/no-such-page", headers={"Accept": "application/json"}).json()["error"] == "not_found"
    api = anyone.get(f"{API}/no-such-thing", headers=HTML)  # the API keeps its shape for everyone
    assert api.status_code == 404 and api.json()["error"] == "not_found"


def test_browsers_get_an_html_500(client_as, monkeypatch):
    def broken(*_, **__):
        raise RuntimeError("boom")

    monkeypatch.setattr("api.web.pages.render", broken)  # the home page fails unexpectedly
    page = client_as(None).get("/", headers=HTML)
    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
    assert "Đã xảy ra lỗi ngoài dự kiến" in text(page) and "boom" not in page.text
    assert client_as(None).get("/").json()["error"] == "internal_error"


def test_favicon_is_served_and_linked(client_as, client):
    icon = client_as(None).get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
    assert icon.text.startswith("<svg")
    for path in ("/", "/lookup"):
        assert '<link rel="icon" href="/favicon.ico" type="image/svg+xml">' in client.get(path).text


# --- English names in English mode -----------------------------------------------------------------


def test_english_names_of_procedures_and_holidays(client, client_as, dossier):
    lookup = client_as(None).post("/lookup?lang=en", data={"code": dossier["code"], "phone_last4": "5678"})
    assert "Permanent residence registration" in lookup.text
    vietnamese = client_as(None).post("/lookup", data={"code": dossier["code"], "phone_last4": "5678"})
    assert "Đăng ký thường trú" in text(vietnamese)
    assert "Permanent residence registration" in client.get(f"/desk/dossiers/{dossier['code']}?lang=en").text
    calendar = text(client.get("/calendar?year=2026&lang=en"))
    assert "Lunar New Year" in calendar and "Tết Nguyên Đán" not in calendar
    assert "Day off (substituted from 22/08/2026)" in calendar  # dates day first in English too
    assert "Tết Nguyên Đán" in text(client.get("/calendar?year=2026&lang=vi"))
    days = client.get(f"{API}/calendar/days", params={"year": 2026}).json()["days"]
    assert {"reason": "Tết Nguyên Đán", "reason_en": "Lunar New Year"}.items() <= next(
        d for d in days if d["date"] == "2026-02-17"
    ).items()
