"""Role-aware pages: what each role is offered (intake agencies, event forms, menu, calendar overrides),
the messages pages show (Vietnamese, English with ?lang=en, never an API path), the language over
redirects, and the worklist (page and `GET /api/v1/worklist`)."""

import html
import re
from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from api.security import event_policy, may_record, permitted_events
from api.web.auth import CSRF_HEADER, SESSION_COOKIE, csrf_token
from dossiers.models import Dossier
from dossiers.schemas import EventCreate
from kernel.errors import Forbidden
from procedures.service import get_agency
from sla.core.calendar import LOCAL_TZ
from sla.core.lifecycle import EVENT_TYPES
from sla.worklist import worklist
from tests.conftest import BACKDATE_REASON, PASSWORD, sign_in_csrf
from tests.web.test_pages import receive_by_api

API = "/api/v1"
WARD, WARD_POLICE, DEPARTMENT = "000.01.01.H26", "000.01.01.H26.CA", "000.00.03.H26"
OTHER_DEPARTMENT = "000.00.04.H26"
IN_HANDS = ["forwarded", "supplement_requested", "paused", "apology_issued", "resolved", "withdrawn", "stopped"]
NOT_APOLOGY = [e for e in IN_HANDS if e != "apology_issued"]


def text(response) -> str:
    return html.unescape(response.text)


@pytest.fixture
def as_page(app, tokens):
    """`as_page("clerk")`: a browser-like client of the pages signed in as that user (cookie + CSRF header)."""
    clients = []

    def make(username: str, lang: str | None = None) -> TestClient:
        token = tokens[username]
        cookies = {SESSION_COOKIE: token, **({"lang": lang} if lang else {})}
        made = TestClient(
            app, raise_server_exceptions=False, follow_redirects=False, cookies=cookies,
            headers={CSRF_HEADER: csrf_token(token)},
        )
        clients.append(made)
        return made

    yield make
    for made in clients:
        made.close()


def event(client, code: str, type: str, at: str, **fields) -> dict:
    body = {"type": type, "at": at, "backdate_reason": BACKDATE_REASON, **fields}
    response = client.post(f"{API}/dossiers/{code}/events", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def offered(page) -> list[str]:
    assert page.status_code == 200, page.text
    return re.findall(r'name="type" value="([a-z_]+)"', page.text)


def problem_box(response) -> str:
    found = re.search(r'<div class="problem".*?</div>', response.text, re.S)
    assert found, response.text[:2000]
    return html.unescape(found.group(0))


# --- intake --------------------------------------------------------------------------------------


def test_a_clerks_intake_offers_its_scope_with_its_own_agency_selected(as_page):
    page = as_page("clerk").get("/desk")
    options = re.findall(r'<select id="agency" name="agency_code".*?</select>', page.text, re.S)[0]
    assert re.findall(r'<option value="([^"]+)"', options) == [WARD, WARD_POLICE]  # not the city's 35
    assert f'<option value="{WARD}" selected>' in options
    department = as_page("department-clerk").get("/desk").text
    assert f'<option value="{DEPARTMENT}" selected>' in department and f'value="{WARD}"' not in department
    everything = as_page("admin").get("/desk").text  # an administrator receives anywhere, nothing preselected
    assert f'value="{OTHER_DEPARTMENT}"' in everything and " selected>" not in everything.split('id="agency"')[1][:200]


def test_only_clerks_receive_at_the_desk_as_the_api_says(as_page):
    intake = {"procedure_code": "1.004222", "agency_code": WARD, "name": "Lê Văn Tám"}
    for username in ("manager", "officer"):
        desk = as_page(username).get("/desk")
        assert desk.status_code == 200 and 'id="intake"' not in desk.text and 'id="q"' in desk.text  # search only
        refused = as_page(username).post("/desk/dossiers", data=intake)
        assert refused.status_code == 403 and "Chức năng này không dành cho tài khoản" in text(refused), username
    assert 'id="intake"' in as_page("clerk").get("/desk").text


# --- the dossier page offers what the status and the role allow -----------------------------------


def test_each_role_is_offered_exactly_what_status_and_scope_allow(client, as_page):
    code = receive_by_api(client, received_at="2025-06-02T09:00")["code"]
    url = f"/desk/dossiers/{code}"
    clerk, manager, officer = as_page("clerk"), as_page("manager"), as_page("officer")
    # received at the ward: the ward's clerk all but the apology, its manager everything, the department nothing
    assert offered(clerk.get(url)) == NOT_APOLOGY
    assert offered(manager.get(url)) == IN_HANDS
    assert officer.get(url).status_code == 404  # not yet its dossier: unknown to it
    event(client, code, "forwarded", "2025-06-03T09:00", to_agency=DEPARTMENT)
    assert offered(officer.get(url)) == NOT_APOLOGY
    assert offered(clerk.get(url)) == NOT_APOLOGY  # the receiving desk still acts on it
    assert offered(manager.get(url)) == IN_HANDS
    event(client, code, "supplement_requested", "2025-06-04T09:00", reason="Thiếu giấy tờ chỗ ở")
    waiting = ["supplement_received", "withdrawn", "stopped", "abandoned"]
    for user in (clerk, manager, officer):
        assert offered(user.get(url)) == waiting
    event(client, code, "supplement_received", "2025-06-05T09:00")
    event(client, code, "forwarded", "2025-06-05T10:00", to_agency=OTHER_DEPARTMENT)
    held_before = officer.get(url)  # the department held it: it reads it, it no longer acts on it
    assert offered(held_before) == [] and 'id="no-actions-for-role"' in held_before.text
    event(client, code, "resolved", "2025-06-06T09:00")
    # resolved at the other department: it sends the result back; the ward's desk waits for it
    city_manager = as_page("city-manager")
    assert offered(city_manager.get(url)) == ["result_sent_to_desk"]
    for user in (clerk, manager):
        page = user.get(url)
        assert offered(page) == [] and 'id="result-away"' in page.text
    event(client, code, "result_sent_to_desk", "2025-06-06T10:00")
    for user in (clerk, manager, city_manager):
        assert offered(user.get(url)) == ["result_returned"]
    assert 'id="result-at-desk"' in clerk.get(url).text
    assert 'name="backdate_reason"' in manager.get(url).text and 'name="backdate_reason"' not in clerk.get(url).text


def test_the_processing_agency_sends_the_result_back_and_the_desk_returns_it(client, as_page):
    code = receive_by_api(client, received_at="2025-06-02T09:00")["code"]
    url = f"/desk/dossiers/{code}"
    clerk, officer, department_clerk = as_page("clerk"), as_page("officer"), as_page("department-clerk")
    event(client, code, "forwarded", "2025-06-03T09:00", to_agency=DEPARTMENT)
    event(client, code, "resolved", "2025-06-05T09:00")
    assert offered(officer.get(url)) == ["result_sent_to_desk"]  # the department holds the resolved dossier
    assert offered(clerk.get(url)) == []  # the ward's desk waits for the result
    # the desk cannot take the processing agency's step, nor return a result it does not have
    refused = clerk.post(f"{url}/events", data={"type": "result_sent_to_desk"})
    assert refused.status_code == 403
    assert "kết quả do đơn vị đang giữ hồ sơ (000.00.03.H26) chuyển về Bộ phận Một cửa" in problem_box(refused)
    early = clerk.post(f"{url}/events", data={"type": "result_returned"})
    assert early.status_code == 409 and "chuyển kết quả về Bộ phận Một cửa trước" in problem_box(early)
    early_en = as_page("clerk", lang="en").post(f"{url}/events", data={"type": "result_returned"})
    assert "it sends the result back to the desk first" in problem_box(early_en)
    assert "/api/" not in problem_box(early) + problem_box(refused)
    # the department's own desk staff may send it, as its officers may
    assert offered(department_clerk.get(url)) == ["result_sent_to_desk"]
    sent = officer.post(f"{url}/events", data={"type": "result_sent_to_desk", "reason": "Gửi kèm 02 bản quyết định"})
    assert sent.status_code == 303, sent.text
    page = clerk.get(url)
    assert offered(page) == ["result_returned"] and 'id="holding"' in page.text
    assert re.search(r'id="holding">[^<]*Phường Hoàn Kiếm', text(page))
    assert "Kết quả chuyển về Bộ phận Một cửa" in text(page)  # its stage
    assert offered(officer.get(url)) == []  # no longer its dossier to act on
    again = officer.post(f"{url}/events", data={"type": "result_sent_to_desk"})
    assert again.status_code in (403, 404)
    assert clerk.post(f"{url}/events", data={"type": "result_returned"}).status_code == 303
    assert offered(clerk.get(url)) == []


def test_the_page_and_the_api_ask_the_same_rule(client, session, tokens, app):
    """`permitted_events` (what the page offers) and `event_policy` (what the API refuses) never disagree."""
    code = receive_by_api(client, received_at="2025-06-02T09:00")["code"]
    dossier = session.query(Dossier).filter_by(code=code).one()
    principals = {name: app.state.principals.load(session, token) for name, token in tokens.items()}
    for name, principal in principals.items():
        allowed = permitted_events(principal, dossier, EVENT_TYPES)
        for event_type in EVENT_TYPES:
            data = EventCreate.model_construct(type=event_type, from_agency=None)
            try:
                event_policy(principal)(dossier, data)
                refused = False
            except Forbidden as exc:
                refused = True
                expected = "hand_back_forbidden" if event_type == "result_sent_to_desk" else None
                assert exc.message_id in (expected, f"event_forbidden.{principal.role.value}")
            assert refused == (event_type not in allowed) == (not may_record(principal, dossier, event_type)), name
    assert permitted_events(principals["manager"], dossier, IN_HANDS) == tuple(IN_HANDS)
    assert permitted_events(principals["clerk"], dossier, IN_HANDS) == tuple(NOT_APOLOGY)
    assert permitted_events(principals["officer"], dossier, IN_HANDS) == ()


# --- menu and calendar --------------------------------------------------------------------------


def nav(response) -> list[str]:
    menu = re.search(r"<nav aria-label=[^>]*>(.*?)</nav>", response.text, re.S).group(1)
    return re.findall(r'<a href="([^"]+)"', menu)


def test_the_menu_shows_what_the_role_may_use(app, as_page):
    complaints, ratings = "/desk/complaints", "/desk/ratings"
    assert nav(as_page("clerk").get("/calendar")) == [
        "/desk", "/desk/worklist", "/desk/inbox", complaints, ratings, "/calendar", "/lookup"
    ]
    assert nav(as_page("officer").get("/calendar")) == [
        "/desk", "/desk/worklist", "/desk/inbox", complaints, "/calendar", "/lookup"
    ]
    assert nav(as_page("manager").get("/calendar")) == [
        "/desk", "/desk/inbox", "/dashboard", complaints, ratings, "/exchange", "/exchange/reconcile", "/calendar",
        "/lookup",
    ]
    assert nav(as_page("viewer").get("/calendar")) == [ratings, "/calendar", "/lookup"]
    assert nav(as_page("admin").get("/")) == [
        "/desk", "/desk/worklist", "/desk/inbox", "/dashboard", complaints, ratings, "/exchange", "/exchange/imports",
        "/exchange/reconcile", "/calendar", "/notify/templates", "/notify/rules", "/lookup",
    ]
    anonymous = TestClient(app, raise_server_exceptions=False).get("/", params={"lang": "en"})
    assert nav(anonymous) == ["/lookup"] and 'id="sign-in-link" href="/login?lang=en"' in anonymous.text


def test_the_calendar_override_form_is_for_administrators(as_page):
    for username in ("clerk", "manager", "officer", "viewer"):
        page = as_page(username).get("/calendar", params={"year": 2026})
        assert page.status_code == 200 and 'action="/calendar/overrides"' not in page.text, username
    assert 'action="/calendar/overrides"' in as_page("admin").get("/calendar", params={"year": 2026}).text


# --- messages -------------------------------------------------------------------------------------


def test_page_errors_are_told_in_the_readers_language_without_api_paths(client, as_page):
    code = receive_by_api(client, received_at="2025-06-02T09:00")["code"]
    events = f"/desk/dossiers/{code}/events"
    intake = {"procedure_code": "1.004222", "agency_code": WARD, "name": "Lê Văn Tám"}
    cases = [  # who, method, path, form, status, Vietnamese, English
        ("clerk", "get", "/desk/dossiers/NOPE-1", None, 404, "Không tìm thấy hồ sơ NOPE-1", "No dossier NOPE-1"),
        ("admin", "post", "/desk/dossiers", {**intake, "agency_code": "nope"}, 404,
         "Không có cơ quan nào có mã nope", "No agency has the code nope"),
        ("admin", "post", "/desk/dossiers", {**intake, "procedure_code": "9.999999"}, 404,
         "Không có thủ tục nào có mã 9.999999", "No procedure has the code 9.999999"),
        ("clerk", "post", "/desk/dossiers", {**intake, "agency_code": OTHER_DEPARTMENT}, 403,
         f"Bạn tiếp nhận hồ sơ tại {WARD}", f"You receive dossiers at {WARD}"),
        ("clerk", "post", events, {"type": "result_returned"}, 409,
         "Không thể «Trả kết quả cho người dân» khi hồ sơ đang ở trạng thái «Đã tiếp nhận». Thao tác được phép "
         "lúc này: Chuyển hồ sơ đến…, Yêu cầu bổ sung hồ sơ, Tạm dừng",
         "“Return the result” is not possible while the dossier is “Received”. Allowed now: Forward to…"),
        ("clerk", "post", events, {"type": "apology_issued", "reason": "x", "new_due_at": "2025-06-20T09:00"}, 403,
         "lãnh đạo", "apologies are the manager's"),
        ("clerk", "post", events, {"type": "paused", "at": "2025-06-03T09:00"}, 403,
         "chỉ lãnh đạo hoặc quản trị viên được ghi lùi", "only a manager or an administrator may record"),
        ("manager", "post", events, {"type": "paused", "at": "2025-06-03T09:00"}, 422,
         "ghi lý do ghi lùi thời gian", "give the reason why it is recorded only now"),
        ("admin", "post", events, {"type": "forwarded", "to_agency": "000.01.00.H26"}, 422,
         "Đơn vị 000.01.00.H26 không còn hoạt động", "Agency 000.01.00.H26 is inactive"),
        ("admin", "post", events, {"type": "paused", "reason": "Chờ\u202e nộp phí"}, 422,
         "Lý do: có ký tự ẩn U+202E ở vị trí 4", "Reason: contains U+202E at position 4"),
        ("admin", "post", events, {"type": "paused", "at": "2099-01-01T09:00"}, 422,
         "ở tương lai", "is in the future"),
    ]
    for username, method, path, form, status, vietnamese, english in cases:
        for lang, expected in (("vi", vietnamese), ("en", english)):
            response = getattr(as_page(username, lang), method)(path, **({"data": form} if form else {}))
            assert response.status_code == status, (path, form, response.text[:500])
            said = problem_box(response)
            assert expected in said, (lang, said)
            assert "/api/" not in said and "GET " not in said and "POST " not in said, said
    assert client.get(f"{API}/dossiers/{code}").json()["timeline"][-1]["type"] == "received"  # nothing written
    api = client.post(f"{API}/dossiers/{code}/events", json={"type": "forwarded", "to_agency": "000.01.00.H26"})
    assert "GET /api/v1/agencies" in api.json()["detail"]  # the JSON API keeps its English words


# --- the language over redirects ------------------------------------------------------------------


def test_the_language_survives_the_sign_in_redirect(app):
    browser = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
    asked = browser.get("/desk/worklist", params={"lang": "en"})
    assert asked.status_code == 303
    assert asked.headers["location"] == "/login?next=/desk/worklist%3Flang%3Den&lang=en"
    login = browser.get(asked.headers["location"])
    assert '<html lang="en">' in login.text and 'name="next" value="/desk/worklist?lang=en"' in login.text
    form = {"username": "officer", "password": PASSWORD, "next": "/desk/worklist?lang=en", **sign_in_csrf(browser)}
    signed_in = browser.post("/login", data=form)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/desk/worklist?lang=en"
    assert '<html lang="en">' in browser.get(signed_in.headers["location"]).text
    browser.cookies.clear()  # a POST's redirect to sign in also keeps the language
    forgotten = browser.post("/desk/dossiers?lang=en", data={})
    assert forgotten.status_code == 303 and forgotten.headers["location"] == "/login?next=/&lang=en"


def test_the_language_survives_a_post_redirect(client, as_page):
    code = receive_by_api(client)["code"]
    english = as_page("clerk", lang="en")
    recorded = english.post(f"/desk/dossiers/{code}/events", data={"type": "paused", "reason": "Chờ nộp phí"})
    assert recorded.status_code == 303 and recorded.headers["location"] == f"/desk/dossiers/{code}?done=paused&lang=en"
    received = english.post("/desk/dossiers", data={"procedure_code": "1.004222", "agency_code": WARD, "name": "A B"})
    assert received.status_code == 303 and received.headers["location"].endswith("/receipt?lang=en")
    vietnamese = as_page("clerk")  # the default language adds nothing
    resumed = vietnamese.post(f"/desk/dossiers/{code}/events", data={"type": "resumed"})
    assert resumed.headers["location"] == f"/desk/dossiers/{code}?done=resumed"
    admin = as_page("admin", lang="en")
    added = admin.post("/calendar/overrides", data={"date": "2032-06-03", "kind": "off", "reason": "x", "year": "2032"})
    assert added.status_code == 303 and added.headers["location"] == "/calendar?year=2032&done=added&lang=en"


# --- the worklist ---------------------------------------------------------------------------------


def test_the_worklist_lists_held_steps_in_step_due_order_with_their_working_time_left(client, session, app):
    overdue = receive_by_api(client, received_at="2025-05-20T09:00")["code"]  # due 29/05 09:00
    soon = receive_by_api(client, received_at="2025-06-02T09:00")["code"]  # due 11/06 09:00
    forwarded = receive_by_api(client, received_at="2025-06-02T10:00")["code"]
    event(client, forwarded, "forwarded", "2025-06-03T09:00", to_agency=DEPARTMENT)
    waiting = receive_by_api(client, received_at="2025-05-19T09:00")["code"]
    event(client, waiting, "supplement_requested", "2025-05-20T09:00", reason="Thiếu giấy tờ")  # clock stopped
    calendar = app.state.calendars.get(session, WARD)
    now = datetime(2025, 6, 5, 9, 0, tzinfo=LOCAL_TZ)
    ward = [get_agency(session, WARD).id, get_agency(session, WARD_POLICE).id]
    items, total = worklist(session, agency_ids=ward, calendar=calendar, now=now)
    assert [(i.code, i.remaining_working_minutes, i.overdue) for i in items] == [
        (overdue, -5 * 480, True),  # 29/05 09:00 → 05/06 09:00: five working days late
        (soon, 4 * 480, False),  # 05/06 09:00 → 11/06 09:00: four working days left
    ]
    assert total == 2 and items[0].stage == "intake" and items[0].stage_agency_code == WARD
    department, _ = worklist(session, agency_ids=[get_agency(session, DEPARTMENT).id], calendar=calendar, now=now)
    assert [(i.code, i.stage, i.status) for i in department] == [(forwarded, "hand-off", "processing")]
    second, total = worklist(session, agency_ids=ward, calendar=calendar, now=now, page=2, page_size=1)
    assert [i.code for i in second] == [soon] and total == 2


def test_the_worklist_route_and_page(client, as_page, tokens):
    late = receive_by_api(client, received_at="2025-05-20T09:00")["code"]
    fresh = receive_by_api(client)["code"]
    forwarded = receive_by_api(client)["code"]
    client.post(f"{API}/dossiers/{forwarded}/events", json={"type": "forwarded", "to_agency": DEPARTMENT})
    clerk = as_page("clerk")
    body = clerk.get(f"{API}/worklist", headers={"Authorization": f"Bearer {tokens['clerk']}"}).json()
    assert [item["code"] for item in body["items"]] == [late, fresh] and body["total"] == 2
    assert body["items"][0]["overdue"] and body["items"][0]["remaining_working_minutes"] < 0
    assert not body["items"][1]["overdue"] and body["items"][1]["remaining_working_minutes"] > 0
    assert [i["stage_due_at"] for i in body["items"]] == sorted(i["stage_due_at"] for i in body["items"])
    officer = client.get(f"{API}/worklist", headers={"Authorization": f"Bearer {tokens['officer']}"}).json()
    assert [item["code"] for item in officer["items"]] == [forwarded] and officer["items"][0]["stage"] == "hand-off"
    refused = client.get(f"{API}/worklist", params={"agency": OTHER_DEPARTMENT},
                         headers={"Authorization": f"Bearer {tokens['clerk']}"})
    assert refused.status_code == 403
    viewer = client.get(f"{API}/worklist", headers={"Authorization": f"Bearer {tokens['viewer']}"})
    assert viewer.status_code == 403
    page = clerk.get("/desk/worklist")
    assert page.status_code == 200
    rows = re.findall(r'<tr( class="late")?>\s*<td class="nowrap"><a href="/desk/dossiers/([^"]+)">', page.text)
    assert rows == [(' class="late"', late), ("", fresh)]
    left = [html.unescape(cell) for cell in re.findall(r'<td class="remaining[^"]*">([^<]+)</td>', page.text)]
    assert re.fullmatch(r"Quá hạn (\d+ ngày)?( ?\d+ giờ)?( ?\d+ phút)?", left[0]), left
    assert re.fullmatch(r"(\d+ ngày)?( ?\d+ giờ)?( ?\d+ phút)?", left[1]) and "Quá hạn" not in left[1], left
    english = as_page("officer", lang="en").get("/desk/worklist")
    assert "Worklist" in english.text and forwarded in english.text and late not in english.text
    procedure = client.get(f"{API}/dossiers/{forwarded}").json()["procedure_code"]
    names = client.get(f"{API}/procedures/{procedure}").json()
    assert names["name_en"] and html.escape(names["name_en"]) in english.text  # the procedure in the page's language
    assert html.escape(names["name"]) not in english.text and html.escape(names["name"]) in page.text


def test_results_waiting_to_be_sent_back_or_returned(client, as_page, tokens):
    """Beside the worklist: resolved dossiers an agency holds, first resolved on top: at the processing agency to
    be sent back to the desk, at the desk to be returned."""
    def post(code, type, at, **fields):
        event(client, code, type, at, **fields)

    away = receive_by_api(client, received_at="2025-06-02T09:00")["code"]
    post(away, "forwarded", "2025-06-03T09:00", to_agency=DEPARTMENT)
    post(away, "resolved", "2025-06-05T09:00")
    at_desk = receive_by_api(client, received_at="2025-06-02T10:00")["code"]
    post(at_desk, "resolved", "2025-06-04T09:00")
    running = receive_by_api(client, received_at="2025-06-02T11:00")["code"]

    def waiting(username, **params):
        answer = client.get(f"{API}/worklist/results", params=params,
                            headers={"Authorization": f"Bearer {tokens[username]}"})  # fmt: skip
        assert answer.status_code == 200, answer.text
        return [(item["code"], item["next_event"]) for item in answer.json()["items"]]

    assert waiting("clerk") == [(at_desk, "result_returned")]  # the away result is not at the desk yet
    assert waiting("officer") == [(away, "result_sent_to_desk")]
    assert running not in dict(waiting("admin"))
    page = as_page("officer").get("/desk/worklist")
    row = re.search(rf'<tr class="next-result_sent_to_desk">.*?{away}.*?</tr>', page.text, re.S).group(0)
    assert "Chuyển kết quả về Một cửa: Phường Hoàn Kiếm" in html.unescape(row)

    post(away, "result_sent_to_desk", "2025-06-05T15:00")
    assert waiting("officer") == []
    assert waiting("clerk") == [(at_desk, "result_returned"), (away, "result_returned")]  # resolved first on top
    desk_page = as_page("clerk").get("/desk/worklist")
    assert re.findall(r'<tr class="next-([a-z_]+)">\s*<td class="nowrap"><a href="/desk/dossiers/([^"]+)"',
                      desk_page.text) == [("result_returned", at_desk), ("result_returned", away)]  # fmt: skip
    assert "Trả kết quả cho người dân" in desk_page.text
    assert "Results to send back or return" in as_page("clerk", lang="en").get("/desk/worklist").text
    post(away, "result_returned", "2025-06-06T09:00")
    assert waiting("clerk") == [(at_desk, "result_returned")]
    refused = client.get(f"{API}/worklist/results", params={"agency": OTHER_DEPARTMENT},
                         headers={"Authorization": f"Bearer {tokens['clerk']}"})  # fmt: skip
    assert refused.status_code == 403
    viewer = client.get(f"{API}/worklist/results", headers={"Authorization": f"Bearer {tokens['viewer']}"})
    assert viewer.status_code == 403
