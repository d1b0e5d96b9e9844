"""The ratings and complaints pages: the citizen rates from the lookup and at the kiosk (once per dossier),
staff see counts only and type in paper forms, the complaints register, its queue and a complaint's timeline."""

import html
import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dossiers.models import DossierRating
from tests.dossiers.conftest import event, receive  # noqa: F401  (fixtures)
from tests.web.test_roles import as_page  # noqa: F401  (fixture)

WARD, OTHER_WARD, DEPARTMENT = "000.01.01.H26", "000.02.01.H26", "000.00.03.H26"
PHONE = "0912345678"
NAME = "Nguyễn Thị Lan"


def text(response) -> str:
    return html.unescape(response.text)


@pytest.fixture
def returned(receive, event):  # noqa: F811
    def returned(agency_code=WARD):
        code = receive(agency_code=agency_code)["code"]
        event(code, "resolved", at="2025-06-04T10:00", result="Đã đăng ký thường trú")
        event(code, "result_returned", at="2025-06-05T09:00")
        return code

    return returned


@pytest.fixture
def citizen(app):
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_lookup_offers_the_rating_once(citizen, returned, session, lang):
    code = returned()
    found = citizen.post(f"/lookup?lang={lang}", data={"code": code, "phone_last4": PHONE[-4:]})
    assert found.status_code == 200
    assert 'id="rating"' in found.text and 'name="index_11"' in found.text
    assert NAME not in text(found)
    form = {"code": code, "phone_last4": PHONE[-4:], "rating": "satisfied", "index_1": "2", "index_7": "0"}
    rated = citizen.post(f"/lookup/rating?lang={lang}", data=form)
    assert rated.status_code == 201, rated.text
    assert 'id="rated"' in rated.text and 'id="rating"' not in rated.text
    row = session.execute(select(DossierRating)).scalar_one()
    assert (row.source, row.rating, row.indices) == ("lookup", "satisfied", {"1": 2, "7": 0})
    again = citizen.post(f"/lookup/rating?lang={lang}", data=form)
    assert again.status_code == 409
    assert ("đã được đánh giá" if lang == "vi" else "rated already") in text(again)
    assert 'id="rating-given"' in citizen.post("/lookup", data={"code": code, "phone_last4": PHONE[-4:]}).text


def test_the_kiosk_takes_one_rating_per_dossier(citizen, returned, receive, session):  # noqa: F811
    code = returned()
    page = citizen.get(f"/kiosk?code={code.lower()}")
    assert page.status_code == 200 and f'value="{code}"' in page.text and "nav" not in page.text.split("<main")[0]
    form = {"code": code, "phone_last4": PHONE[-4:], "rating": "very_satisfied"}
    thanks = citizen.post("/kiosk", data=form)
    assert thanks.status_code == 201 and 'id="rated"' in thanks.text and 'http-equiv="refresh"' in thanks.text
    assert citizen.post("/kiosk", data={**form, "rating": "dissatisfied"}).status_code == 409
    assert citizen.post("/kiosk", data={**form, "phone_last4": "0000"}).status_code == 404
    early = receive()["code"]
    refused = citizen.post("/kiosk", data={**form, "code": early})
    assert refused.status_code == 422 and "chỉ được đánh giá sau khi đã trả kết quả" in text(refused)
    assert [r.source for r in session.execute(select(DossierRating)).scalars()] == ["kiosk"]


def test_staff_see_counts_and_type_in_paper_forms(as_page, citizen, returned):  # noqa: F811
    codes = [returned() for _ in range(2)]
    citizen.post("/kiosk", data={"code": codes[0], "phone_last4": PHONE[-4:], "rating": "dissatisfied"})
    clerk = as_page("clerk")
    typed = clerk.post("/desk/ratings", data={"code": codes[1], "rating": "satisfied", "index_11": "1"})
    assert typed.status_code == 200 and 'id="recorded"' in typed.text
    assert clerk.post("/desk/ratings", data={"code": codes[1], "rating": "satisfied"}).status_code == 409
    assert 'id="rating-counts"' not in typed.text  # clerks type in; managers and viewers read the counts
    manager = as_page("manager").get("/desk/ratings", params={"period": "2025"})
    assert manager.status_code == 200 and 'id="no-ratings"' in manager.text  # rated now, not in 2025
    counts = as_page("manager").get("/desk/ratings", params={"period": str(datetime.now(UTC).year)})
    table = counts.text.split('id="rating-counts"')[1].split("</table>")[0]
    assert re.search(r"<td>2</td>\s*<td>0</td>\s*<td>1</td>\s*<td class=\"clock-late\">1</td>", table)
    assert not any(code in counts.text for code in codes) and NAME not in text(counts)
    assert as_page("officer").get("/desk/ratings").status_code == 403


def test_the_complaints_pages(as_page):  # noqa: F811
    clerk = as_page("clerk")
    page = clerk.get("/desk/complaints")
    assert page.status_code == 200 and 'id="new-complaint"' in page.text
    bad = clerk.post("/desk/complaints", data={"agency_code": WARD, "channel": "hotline", "category": "other"})
    assert bad.status_code == 422 and 'id="problem"' in bad.text
    form = {"agency_code": WARD, "channel": "hotline", "category": "staff_conduct", "content": "Cán bộ hẹn nhiều lần."}
    made = clerk.post("/desk/complaints", data=form)
    assert made.status_code == 303
    url = made.headers["location"].split("?")[0]
    shown = clerk.get(url)
    assert "Cán bộ hẹn nhiều lần." in shown.text and 'id="clocks"' in shown.text
    assert clerk.post(f"{url}/events", data={"type": "published"}).status_code == 409
    answered = clerk.post(f"{url}/events", data={"type": "answered", "note": "Đã chấn chỉnh."})
    assert answered.status_code == 303
    assert "Đã chấn chỉnh." in clerk.get(url).text
    listed = clerk.get("/desk/complaints")
    assert f'href="{url}"' in listed.text and "Cán bộ hẹn nhiều lần." not in listed.text  # the content: opened
    assert as_page("other-clerk").get(url).status_code == 404
    english = as_page("clerk", lang="en").get(url)
    assert "Answer (15 days)" in english.text
