"""The staff inbox page (with the unread count in the header), the dossier page's messages and escalation ladder,
and the administrator's template editor with its preview."""

import html
import re
from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from api.web.auth import CSRF_HEADER, SESSION_COOKIE, csrf_token
from notify.outbox import Links
from notify.quiet import Calendars
from notify.rules import evaluate
from sla.core.calendar import LOCAL_TZ
from tests.notify.conftest import CONSENT


@pytest.fixture
def as_page(app, tokens):
    clients = []

    def make(username: str, lang: str | None = None) -> TestClient:
        token = tokens[username]
        made = TestClient(
            app,
            raise_server_exceptions=False,
            follow_redirects=False,
            cookies={SESSION_COOKIE: token, **({"lang": lang} if lang else {})},
            headers={CSRF_HEADER: csrf_token(token)},
        )
        clients.append(made)
        return made

    yield make
    for made in clients:
        made.close()


def text(response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.text)).split())


def evaluate_at(app, session, at: str):
    return evaluate(
        session,
        calendars=Calendars(session, app.state.calendars),
        now=datetime.fromisoformat(at).replace(tzinfo=LOCAL_TZ),
        links=Links("https://motcua.example"),
    )


def test_the_inbox_page_lists_warnings_links_them_and_marks_them_read(app, session, receive, as_page):
    code = receive(received_at="2025-04-21T09:00")["code"]
    evaluate_at(app, session, "2025-04-26T11:00")  # the 75 % warning (a make-up Saturday)
    evaluate_at(app, session, "2025-05-05T09:00")  # overdue by a working day: the ward's managers
    clerk = as_page("clerk")
    page = clerk.get("/desk/inbox")
    assert page.status_code == 200
    assert re.search(r'id="unread-count"[^>]*>1<', page.text)  # the header's count
    assert "1 thông báo, 1 chưa đọc" in text(page)
    assert f'href="/desk/dossiers/{code}"' in page.text and "Sắp đến hạn" in text(page)
    [notice_id] = re.findall(r'id="notice-(\d+)"', page.text)
    marked = clerk.post(f"/desk/inbox/{notice_id}/read", data={"csrf_token": csrf_token(clerk.cookies[SESSION_COOKIE])})
    assert marked.status_code == 303 and marked.headers["location"] == "/desk/inbox"
    again = clerk.get("/desk/inbox")
    assert 'id="unread-count"' not in again.text and "1 thông báo, 0 chưa đọc" in text(again)
    manager = as_page("manager", lang="en")
    listed = manager.get("/desk/inbox")
    assert "2 notifications, 2 unread" in text(listed) and "Overdue · level 1" in text(listed)
    assert re.search(r'id="unread-count"[^>]*>2<', manager.get("/calendar").text)  # the count on every page
    assert manager.post("/desk/inbox/read").status_code == 303
    assert 'id="unread-count"' not in manager.get("/calendar").text
    # someone else's notification is not yours to mark
    assert as_page("other-clerk").post(f"/desk/inbox/{notice_id}/read").status_code == 404


def test_the_notifications_route_counts_and_marks(client_as, app, session, receive):
    receive(received_at="2025-04-21T09:00")
    evaluate_at(app, session, "2025-04-26T11:00")
    clerk = client_as("clerk")
    listed = clerk.get("/api/v1/notifications").json()
    assert (listed["unread"], listed["total"]) == (1, 1)
    [item] = listed["items"]
    assert item["kind"] == "dossier_warning" and not item["read"]
    marked = clerk.post(f"/api/v1/notifications/{item['id']}/read").json()
    assert marked == {"marked": 1, "unread": 0}
    assert clerk.get("/api/v1/notifications", params={"unread": True}).json()["items"] == []
    assert client_as("other-clerk").post(f"/api/v1/notifications/{item['id']}/read").status_code == 404
    assert client_as(None).get("/api/v1/notifications").status_code == 401


def test_the_dossier_page_shows_its_messages_and_escalation_ladder(app, session, receive, event, as_page, client):
    code = receive(received_at="2025-04-21T09:00", applicant=CONSENT)["code"]
    evaluate_at(app, session, "2025-05-05T09:00")
    evaluate_at(app, session, "2025-05-07T09:00")
    page = as_page("manager").get(f"/desk/dossiers/{code}")
    shown = text(page)
    assert "Tin nhắn gửi người nộp" in shown and "Tiếp nhận SMS Chờ gửi" in shown
    ladder = re.search(r'<ol class="ladder" id="ladder">(.*?)</ol>', page.text, re.S).group(1)
    assert ladder.count('<li class="level-') == 2
    assert "city-manager" in ladder and 'title="manager"' in ladder
    answer = client.get(f"/api/v1/dossiers/{code}/messages").json()
    assert [(s["level"], s["username"]) for s in answer["escalations"]] == [(1, "manager"), (2, "city-manager")]


def test_the_template_editor_previews_saves_and_resets(client, session, receive):
    listing = client.get("/notify/templates")
    assert listing.status_code == 200 and "Tiếp nhận hồ sơ" in text(listing)
    page = client.get("/notify/templates/received/sms")
    assert page.status_code == 200 and 'id="preview"' in page.text
    assert "000.01.01.H26-250602-0001" in text(page)  # the sample dossier
    draft = {"body": "Ho so {code} da nhan. Hen tra: {due}.", "action": "preview"}
    preview = client.post("/notify/templates/received/sms", data=draft)
    assert "Ho so 000.01.01.H26-250602-0001 da nhan. Hen tra: 11/06/2025 09:00." in text(preview)
    bad = client.post("/notify/templates/received/sms", data={**draft, "body": "Goi {phone}"})
    assert bad.status_code == 422 and "ô {phone} không được phép" in text(bad)
    saved = client.post("/notify/templates/received/sms", data={**draft, "action": "save"}, follow_redirects=False)
    assert saved.status_code == 303
    code = receive(applicant=CONSENT)["code"]
    from tests.notify.conftest import outbox_of

    assert outbox_of(session, code)[0].body == f"Ho so {code} da nhan. Hen tra: 11/06/2025 09:00."
    reset = client.post("/notify/templates/received/sms", data={"action": "reset"}, follow_redirects=False)
    assert reset.status_code == 303 and "Đã trả về nội dung mặc định" in text(client.get(reset.headers["location"]))


def test_the_template_editor_is_for_administrators(as_page):
    assert as_page("clerk").get("/notify/templates").status_code == 403


def test_an_administrator_runs_the_rules_now(client, client_as, receive):
    receive(received_at="2025-04-21T09:00")  # long overdue by now: the top level of the ladder
    first = client.post("/api/v1/notify/evaluate").json()
    assert first["fired"]["escalation"] == 1 and first["notifications"] >= 1
    assert client.post("/api/v1/notify/evaluate").json()["notifications"] == 0  # told once
    assert client_as("manager").post("/api/v1/notify/evaluate").status_code == 403


def test_an_administrator_sets_a_users_digest_email(client):
    changed = client.patch("/api/v1/users/manager", json={"email": "truong.phong@phuong.example.vn"})
    assert changed.status_code == 200 and changed.json()["email"] == "truong.phong@phuong.example.vn"
    bad = client.patch("/api/v1/users/manager", json={"email": "not an email"})
    assert bad.status_code == 422 and "is not an email address" in bad.json()["detail"]
    assert client.patch("/api/v1/users/manager", json={"email": ""}).json()["email"] is None
