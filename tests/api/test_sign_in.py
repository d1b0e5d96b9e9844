"""Sign-in: throttled per username and per address on both doors, the same work whatever is wrong, sign-out,
password change and reset, tokens dead after a deactivation, normalised usernames and the password policy."""

import logging
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import argon2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import column, func, select, table, text
from sqlmodel import Session

from accounts import service as accounts
from accounts.models import User
from accounts.throttle import DatabaseFailureStore, RedisFailureStore, SignInThrottle, ThrottleRule
from api.app import create_app
from api.db import make_engine, upgrade
from api.settings import Settings
from api.web.auth import SIGN_IN_CSRF_COOKIE
from kernel.db import utc_now
from tests.conftest import PASSWORD, WARD, _postgres_database, bearer, sign_in_csrf

API = "/api/v1"
WRONG = "not the password at all"


class FakeClock:
    def __init__(self) -> None:
        self.now = utc_now()

    def __call__(self):
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(app) -> FakeClock:
    clock = FakeClock()
    app.state.sign_in_throttle.clock = clock
    return clock


@pytest.fixture
def verified(monkeypatch) -> list[str]:
    """The password hashes verified (one entry per verification)."""
    hashes = []
    verify = accounts.verify_password

    def counted(password_hash: str, password: str) -> bool:
        hashes.append(password_hash)
        return verify(password_hash, password)

    monkeypatch.setattr(accounts, "verify_password", counted)
    return hashes


def token_of(client, username: str, password: str = PASSWORD):
    return client.post(f"{API}/auth/token", data={"username": username, "password": password})


def test_sixty_wrong_passwords_meet_429s_without_hashing(client_as, verified, clock):
    anonymous = client_as(None)
    answers = [token_of(anonymous, "clerk", WRONG) for _ in range(60)]
    codes = [answer.status_code for answer in answers]
    assert codes == [401] * 6 + [429] * 54  # 5 free failures; the 6th makes the next wait 1 s
    assert len(verified) == 6  # a refused attempt costs no hashing
    refused = answers[-1]
    assert refused.headers["Retry-After"] == "1"
    assert refused.json() == {
        "error": "too_many_requests",
        "detail": "too many failed sign-ins for this username: try again in 1 seconds",
    }
    assert token_of(anonymous, "clerk").status_code == 429  # the right password waits too


def test_the_delay_doubles_then_the_username_is_locked(client_as, clock):
    anonymous = client_as(None)
    for _ in range(5):
        assert token_of(anonymous, "clerk", WRONG).status_code == 401
    waits = []
    for _ in range(5):  # failures 6 to 10
        assert token_of(anonymous, "clerk", WRONG).status_code == 401
        refused = token_of(anonymous, "clerk", WRONG)
        assert refused.status_code == 429
        waits.append(int(refused.headers["Retry-After"]))
        clock.advance(waits[-1])
    assert waits == [1, 2, 4, 8, 900]  # locked for 15 minutes after the 10th
    # another user from the same address is not locked out (the address allows more)
    assert token_of(anonymous, "manager").status_code == 200
    assert token_of(anonymous, "clerk").status_code == 200  # the lock has ended


def test_a_success_resets_the_username_s_count(client_as, clock):
    anonymous = client_as(None)
    for _ in range(5):
        assert token_of(anonymous, "clerk", WRONG).status_code == 401
    assert token_of(anonymous, "clerk").status_code == 200
    for _ in range(5):
        assert token_of(anonymous, "clerk", WRONG).status_code == 401
    assert token_of(anonymous, "clerk", WRONG).status_code == 401


def test_failures_are_forgotten_after_the_lock_period(client_as, clock):
    anonymous = client_as(None)
    for _ in range(6):
        assert token_of(anonymous, "clerk", WRONG).status_code == 401
    clock.advance(15 * 60 + 1)
    for _ in range(6):
        assert token_of(anonymous, "clerk", WRONG).status_code == 401


def test_an_address_trying_many_usernames_is_throttled(app, client_as, clock):
    throttle = app.state.sign_in_throttle
    app.state.sign_in_throttle = SignInThrottle(
        DatabaseFailureStore(),
        by_username=throttle.rules["user"],
        by_address=ThrottleRule(free_attempts=3, first_delay_seconds=10, lock_after=5, lock_seconds=600),
        clock=clock,
    )
    anonymous = client_as(None)
    assert [token_of(anonymous, name, WRONG).status_code for name in ("a1x", "a2x", "a3x", "a4x", "a5x")] == [
        401,
        401,
        401,
        401,
        429,
    ]
    refused = token_of(anonymous, "clerk")  # even a right password, from this address
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "10"
    assert "your address" in refused.json()["detail"]
    clock.advance(10)
    assert token_of(anonymous, "clerk").status_code == 200  # a success does not clear the address's count
    assert token_of(anonymous, "a6x", WRONG).status_code == 401
    assert token_of(anonymous, "a7x", WRONG).headers["Retry-After"] == "600"  # 5 failures: locked


def test_the_sign_in_page_is_throttled_too(app, clock):
    browser = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
    form = {"username": "clerk", "password": WRONG, **sign_in_csrf(browser)}
    codes = [browser.post("/login", data=form).status_code for _ in range(7)]
    assert codes == [401] * 6 + [429]
    refused = browser.post("/login", data={**form, "password": PASSWORD}, params={"lang": "en"})
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    assert (
        "Too many failed sign-ins: try again in 1 seconds" in refused.text
        and "motcua_session" not in refused.headers.get("set-cookie", "")
    )
    # the API door counts against the same username
    assert token_of(browser, "clerk").status_code == 429


def test_every_refused_sign_in_verifies_one_real_hash(client, client_as, verified, session):
    assert client.patch(f"{API}/users/viewer", json={"active": False}).status_code == 200
    anonymous = client_as(None)
    cases = {
        "unknown": ("ghost", WRONG),
        "deactivated, right password": ("viewer", PASSWORD),
        "deactivated, wrong password": ("viewer", WRONG),
        "wrong password": ("manager", WRONG),
        "not a username": ("a b", WRONG),
    }
    real = argon2.extract_parameters(accounts.hash_password("x" * 12))
    for case, (username, password) in cases.items():
        verified.clear()
        answer = token_of(anonymous, username, password)
        assert answer.status_code == 401 and answer.json()["detail"] == "wrong username or password", case
        assert len(verified) == 1, case
        assert argon2.extract_parameters(verified[0]) == real, case  # as costly as a real user's hash
    verified.clear()
    assert token_of(anonymous, "manager").status_code == 200 and len(verified) == 1


def test_logout_revokes_the_presented_token_only(client_as, app):
    anonymous = client_as(None)
    first, second = (token_of(anonymous, "clerk").json()["access_token"] for _ in range(2))
    assert anonymous.post(f"{API}/auth/logout", headers=bearer(first)).status_code == 204
    assert anonymous.get(f"{API}/auth/me", headers=bearer(first)).status_code == 401
    assert anonymous.get(f"{API}/auth/me", headers=bearer(second)).status_code == 200
    assert anonymous.post(f"{API}/auth/logout", headers=bearer(first)).status_code == 401
    assert anonymous.post(f"{API}/auth/logout").status_code == 401


def test_changing_one_s_password(client_as, clock):
    anonymous = client_as(None)
    current, other = (token_of(anonymous, "clerk").json()["access_token"] for _ in range(2))
    as_clerk = bearer(current)
    change = lambda old, new: anonymous.post(  # noqa: E731
        f"{API}/auth/password", json={"old_password": old, "new_password": new}, headers=as_clerk
    )
    wrong = change(WRONG, "a new secret phrase")
    assert wrong.status_code == 403 and wrong.json()["detail"] == "old_password is not your current password"
    assert change(PASSWORD, "short").status_code == 422
    contains = change(PASSWORD, "my-CLERK-password")
    assert contains.status_code == 422 and "must not be or contain the username" in contains.json()["detail"]
    assert change(PASSWORD, "a new secret phrase").status_code == 204
    assert anonymous.get(f"{API}/auth/me", headers=as_clerk).status_code == 200  # this token stays
    assert anonymous.get(f"{API}/auth/me", headers=bearer(other)).status_code == 401  # the others are revoked
    assert token_of(anonymous, "clerk").status_code == 401
    assert token_of(anonymous, "clerk", "a new secret phrase").status_code == 200


def test_a_wrong_old_password_counts_as_a_failed_sign_in(client_as, clock):
    anonymous = client_as(None)
    as_clerk = bearer(token_of(anonymous, "clerk").json()["access_token"])
    body = {"old_password": WRONG, "new_password": "a new secret phrase"}
    codes = [anonymous.post(f"{API}/auth/password", json=body, headers=as_clerk).status_code for _ in range(7)]
    assert codes == [403] * 6 + [429]
    assert token_of(anonymous, "clerk").status_code == 429


def test_an_administrator_resets_a_password(client, client_as, clock):
    anonymous = client_as(None)
    clerk_tokens = [token_of(anonymous, "clerk").json()["access_token"] for _ in range(2)]
    for _ in range(10):
        token_of(anonymous, "clerk", WRONG)
    assert token_of(anonymous, "clerk").status_code == 429  # locked out: calls the administrator
    assert client_as("manager").post(f"{API}/users/clerk/password", json={"password": "x" * 12}).status_code == 403
    assert client.post(f"{API}/users/nobody/password", json={"password": "a fresh phrase"}).status_code == 404
    assert client.post(f"{API}/users/clerk/password", json={"password": "clerk-2026-x"}).status_code == 422
    assert client.post(f"{API}/users/Clerk/password", json={"password": "a fresh phrase"}).status_code == 204
    for token in clerk_tokens:
        assert anonymous.get(f"{API}/auth/me", headers=bearer(token)).status_code == 401
    assert token_of(anonymous, "clerk").status_code == 401
    assert token_of(anonymous, "clerk", "a fresh phrase").status_code == 200


def test_tokens_from_before_a_deactivation_stay_dead(client, client_as):
    anonymous = client_as(None)
    token = token_of(anonymous, "clerk").json()["access_token"]
    assert anonymous.get(f"{API}/auth/me", headers=bearer(token)).status_code == 200  # now in the cache
    assert client.patch(f"{API}/users/clerk", json={"active": False}).status_code == 200
    assert client.patch(f"{API}/users/clerk", json={"active": True}).status_code == 200
    assert anonymous.get(f"{API}/auth/me", headers=bearer(token)).status_code == 401
    assert token_of(anonymous, "clerk").status_code == 200  # it signs in again


@pytest.mark.parametrize("look_alike", ["Clerk", "CLERK", "ｃｌｅｒｋ", "Ｃｌｅｒｋ"])
def test_look_alike_usernames_are_the_same_user(client, client_as, look_alike):
    body = {"username": look_alike, "password": "another phrase 1", "role": "clerk", "agency_code": WARD}
    refused = client.post(f"{API}/users", json=body)
    assert refused.status_code == 409 and refused.json()["detail"] == "user 'clerk' exists"
    signed_in = token_of(client_as(None), look_alike)
    assert signed_in.status_code == 200
    me = client_as(None).get(f"{API}/auth/me", headers=bearer(signed_in.json()["access_token"]))
    assert me.json()["username"] == "clerk"


def test_usernames_are_stored_normalised(client, client_as):
    body = {"username": "Nguyen.Van-A_2", "password": "a long passphrase", "role": "viewer", "agency_code": WARD}
    created = client.post(f"{API}/users", json=body)
    assert created.status_code == 201 and created.json()["username"] == "nguyen.van-a_2"
    assert token_of(client_as(None), "NGUYEN.VAN-A_2", "a long passphrase").status_code == 200


@pytest.mark.parametrize("username", ["nguyễn", "bad name", "a/b/c", "user\u200bname", "ad:min"])
def test_usernames_outside_the_alphabet_are_refused(client, username):
    body = {"username": username, "password": "a long passphrase", "role": "viewer", "agency_code": WARD}
    refused = client.post(f"{API}/users", json=body)
    assert refused.status_code == 422
    # an invisible character meets the rule of every text input first (kernel.schemas.Input)
    expected = "contains U+200B" if "\u200b" in username else "letters a-z, digits, '.', '_' or '-'"
    assert expected in refused.json()["detail"]


@pytest.mark.parametrize(
    ("username", "password"),
    [("riverstone", "riverstone"), ("river", "my river stone"), ("river-stone", "RIVER-STONE!!")],
)
def test_a_password_may_not_be_or_contain_the_username(client, username, password):
    body = {"username": username, "password": password, "role": "viewer", "agency_code": WARD}
    refused = client.post(f"{API}/users", json=body)
    assert refused.status_code == 422 and "must not be or contain the username" in refused.json()["detail"]


def test_the_session_cookie_is_secure_when_configured_or_over_https(app):
    def cookie_of(base_url: str) -> str:
        browser = TestClient(app, base_url=base_url, follow_redirects=False)
        form = {"username": "clerk", "password": PASSWORD, **sign_in_csrf(browser)}
        pre_session = browser.cookies[SIGN_IN_CSRF_COOKIE]
        browser.cookies.clear()
        browser.cookies.set(SIGN_IN_CSRF_COOKIE, pre_session)  # sent back even over http, as a proxy would
        answer = browser.post("/login", data=form)
        assert answer.status_code == 303
        return next(c for c in answer.headers.get_list("set-cookie") if c.startswith("motcua_session="))

    assert "secure" not in cookie_of("http://testserver").lower()
    assert "secure" in cookie_of("https://testserver").lower()
    app.state.settings = app.state.settings.model_copy(update={"secure_cookies": True})
    assert "secure" in cookie_of("http://testserver").lower()


def test_the_sign_in_form_needs_its_csrf_token(app):
    browser = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
    credentials = {"username": "clerk", "password": PASSWORD}
    forged = browser.post("/login", data=credentials)  # another site's form: no pre-session cookie, no field
    assert forged.status_code == 403 and "Biểu mẫu đã hết hạn hoặc không gửi từ trang này" in forged.text
    assert "motcua_session" not in forged.headers.get("set-cookie", "")
    field = sign_in_csrf(browser)
    other = TestClient(app, follow_redirects=False)
    assert other.post("/login", data={**credentials, **sign_in_csrf(other), **{"csrf_token": "x"}}).status_code == 403
    assert other.post("/login", data={**credentials, **field}).status_code == 403  # another visitor's field
    assert browser.post("/login", data={**credentials, **field}).status_code == 303


def test_parallel_creates_of_one_username_answer_one_201_and_409s(fresh_engine, monkeypatch, caplog):
    """Six administrators create the same user at once, each in a unit of work of its own (real commits)."""
    url = fresh_engine.url.render_as_string(hide_password=False)
    with Session(fresh_engine) as session:
        accounts.create_user(session, username="admin", password=PASSWORD, role="admin", agency_code=None)
        token = accounts.issue_token(session, username="admin", password=PASSWORD, lifetime=timedelta(hours=1))
        session.commit()
    if fresh_engine.dialect.name == "postgresql":
        # every request has seen no such user before any inserts (SQLite's writers take turns before they read)
        everyone_checked = threading.Barrier(6)
        hash_password = accounts.hash_password

        def after_everyone_checked(password: str) -> str:
            everyone_checked.wait(timeout=30)
            return hash_password(password)

        monkeypatch.setattr(accounts, "hash_password", after_everyone_checked)
    app = create_app(Settings(database_url=url))
    body = {"username": "racer", "password": "racing passphrase", "role": "clerk", "agency_code": WARD}
    caplog.set_level(logging.DEBUG)
    with TestClient(app, raise_server_exceptions=False, headers=bearer(token)) as admin, ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: admin.post(f"{API}/users", json=body), range(6)))
    assert sorted(answer.status_code for answer in answers) == [201] + [409] * 5, [a.text for a in answers]
    assert {answer.json()["detail"] for answer in answers if answer.status_code == 409} == {"user 'racer' exists"}
    assert "$argon2" not in caplog.text
    with Session(fresh_engine) as session:
        assert session.execute(select(func.count()).where(User.username == "racer")).scalar_one() == 1


@pytest.fixture(params=["sqlite", "postgresql"])
def blank_url(request, tmp_path):
    """An empty database (no migrations applied)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'blank.db'}"
    else:
        yield from _postgres_database()


def _users_at_0009(url: str, usernames: list[str]):
    engine = make_engine(url)
    upgrade(engine, "0009")
    columns = ("username", "password_hash", "role", "active", "created_at")
    users = table("app_user", *(column(name) for name in columns))
    with engine.begin() as connection:
        connection.execute(
            users.insert(),
            [
                {"username": name, "password_hash": "x", "role": "admin", "active": True, "created_at": utc_now()}
                for name in usernames
            ],
        )
    return engine


def test_the_migration_normalises_existing_usernames(blank_url):
    engine = _users_at_0009(blank_url, ["Clerk", "ＡＤＭＩＮ", "viewer"])
    try:
        upgrade(engine, "0011")
        with engine.connect() as connection:
            names = connection.execute(text("SELECT username FROM app_user ORDER BY username")).scalars().all()
        assert names == ["admin", "clerk", "viewer"]
    finally:
        engine.dispose()


def test_the_migration_refuses_usernames_that_would_clash(blank_url):
    engine = _users_at_0009(blank_url, ["Clerk", "clerk", "viewer"])
    try:
        with pytest.raises(RuntimeError, match="'Clerk' and 'clerk' would both be 'clerk'"):
            upgrade(engine, "0011")
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory) -> Iterator[str]:
    """A redis-server of its own on a free loopback port (skipped without one)."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("no redis-server on this machine")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    directory = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        store = RedisFailureStore(url)
        deadline = time.monotonic() + 10
        while True:
            try:
                store.redis.ping()
                break
            except Exception:
                if time.monotonic() > deadline:
                    pytest.fail("redis-server did not start")
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_counts_can_live_in_redis_shared_by_workers(app, client_as, verified, redis_url):
    settings = app.state.settings.model_copy(update={"redis_url": redis_url})
    app.state.sign_in_throttle = SignInThrottle.from_settings(settings)
    assert isinstance(app.state.sign_in_throttle.store, RedisFailureStore)
    app.state.sign_in_throttle.store.redis.flushdb()
    anonymous = client_as(None)
    codes = [token_of(anonymous, "clerk", WRONG).status_code for _ in range(20)]
    assert codes == [401] * 6 + [429] * 14 and len(verified) == 6
    app.state.sign_in_throttle = SignInThrottle.from_settings(settings)  # another worker, the same counts
    refused = token_of(anonymous, "clerk")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    time.sleep(1.1)
    assert token_of(anonymous, "clerk").status_code == 200  # and it resets the username's count
    assert [token_of(anonymous, "clerk", WRONG).status_code for _ in range(5)] == [401] * 5
