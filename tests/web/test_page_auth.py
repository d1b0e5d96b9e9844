"""Pages need a signed-in user of the right role; forms carry a CSRF token; the lookup is rate-limited."""

from fastapi.testclient import TestClient

from api.web.auth import CSRF_HEADER, SESSION_COOKIE, csrf_token
from tests.conftest import PASSWORD, WARD, sign_in_csrf


def browser_like(app) -> TestClient:
    return TestClient(app, raise_server_exceptions=False, follow_redirects=False)


def sign_in(client: TestClient, username: str) -> str:
    form = {"username": username, "password": PASSWORD, "next": "/desk", **sign_in_csrf(client)}
    response = client.post("/login", data=form)
    assert response.status_code == 303 and response.headers["location"] == "/desk"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    return response.cookies[SESSION_COOKIE]


def test_pages_ask_to_sign_in_first(app):
    anonymous = browser_like(app)
    response = anonymous.get("/desk", params={"q": "x"})
    assert response.status_code == 303 and response.headers["location"] == "/login?next=/desk%3Fq%3Dx"
    assert anonymous.get("/login").status_code == 200
    assert anonymous.get("/lookup").status_code == 200  # public


def test_wrong_password_shows_the_error_and_is_audited(app, client):
    anonymous = browser_like(app)
    form = {"username": "clerk", "password": "nope nope nope", **sign_in_csrf(anonymous)}
    response = anonymous.post("/login", data=form)
    assert response.status_code == 401 and "Sai tên đăng nhập hoặc mật khẩu" in response.text
    trail = client.get("/api/v1/audit").json()
    assert (trail[0]["outcome"], trail[0]["detail"]) == ("failed sign-in", "page sign-in as 'clerk'")


def test_forms_need_the_csrf_token(app):
    clerk = browser_like(app)
    token = sign_in(clerk, "clerk")
    form = {"procedure_code": "1.004222", "agency_code": WARD, "name": "Vũ Văn E"}
    forged = clerk.post("/desk/dossiers", data=form)
    assert forged.status_code == 403 and "Biểu mẫu đã hết hạn hoặc không gửi từ trang này" in forged.text
    genuine = clerk.post("/desk/dossiers", data={**form, "csrf_token": csrf_token(token)})
    assert genuine.status_code == 303 and genuine.headers["location"].endswith("/receipt")
    by_header = clerk.post("/desk/dossiers", data=form, headers={CSRF_HEADER: csrf_token(token)})
    assert by_header.status_code == 303
    assert 'name="csrf_token" value="' + csrf_token(token) in clerk.get("/desk").text


def test_pages_follow_roles_and_scope(app):
    viewer, clerk = browser_like(app), browser_like(app)
    sign_in(viewer, "viewer")
    assert viewer.get("/desk").status_code == 403
    clerk_token = sign_in(clerk, "clerk")
    assert clerk.get("/dashboard").status_code == 403
    assert clerk.get("/calendar").status_code == 200
    override = {"date": "2030-05-05", "kind": "off", "reason": "x", "csrf_token": csrf_token(clerk_token)}
    refused = clerk.post("/calendar/overrides", data=override)
    assert refused.status_code == 403 and "Chỉ quản trị viên được thêm hoặc xóa" in refused.text
    foreign = {
        "procedure_code": "1.004222",
        "agency_code": "000.02.01.H26",
        "name": "A",
        "csrf_token": csrf_token(clerk_token),
    }
    assert "Bạn tiếp nhận hồ sơ tại 000.01.01.H26" in clerk.post("/desk/dossiers", data=foreign).text


def test_sign_out_revokes_the_session(app):
    clerk = browser_like(app)
    token = sign_in(clerk, "clerk")
    assert clerk.post("/logout", data={"csrf_token": csrf_token(token)}).status_code == 303
    clerk.cookies.set(SESSION_COOKIE, token)
    assert clerk.get("/desk").status_code == 303  # the old cookie no longer signs in


def test_public_lookup_is_rate_limited_per_address(app):
    citizen = browser_like(app)
    answers = [  # a code each: the per-code limit (10 wrong digits an hour) is not the one tried here
        citizen.get("/api/v1/lookup", params={"code": f"x{n}", "phone_last4": "1234"}) for n in range(31)
    ]
    assert [answer.status_code for answer in answers[:30]] == [404] * 30 and answers[30].status_code == 429
    assert "from your address" in answers[30].json()["detail"]
    assert 1 <= int(answers[30].headers["retry-after"]) <= 60
    refused = citizen.post("/lookup", data={"code": "y", "phone_last4": "1234"})
    assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 60
