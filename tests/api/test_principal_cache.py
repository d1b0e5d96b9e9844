"""Principals cached per token: served without a statement, dropped at once by a change in this process,
kept no longer than the time to live or the token's life; and the thread hops a request makes."""

from datetime import timedelta

import anyio
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, update

from accounts import service as accounts
from accounts.models import User
from accounts.service import PrincipalCache, issue_token
from api.web.auth import SESSION_COOKIE, csrf_token
from tests.conftest import OTHER_WARD, PASSWORD, WARD, bearer

API = "/api/v1"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clerk_token(session) -> str:
    """A token of the clerk's own, issued inside the test's transaction."""
    token = issue_token(session, username="clerk", password=PASSWORD, lifetime=timedelta(hours=1))
    session.commit()
    return token


@pytest.fixture
def as_token(app):
    """`as_token(token)`: a client sending that bearer token."""
    clients = []

    def make(token: str) -> TestClient:
        clients.append(TestClient(app, raise_server_exceptions=False, headers=bearer(token)))
        return clients[-1]

    yield make
    for client in clients:
        client.close()


def statements_during(connection, call) -> list[str]:
    seen = []

    def listen(_conn, _cursor, statement, *_):
        seen.append(statement)

    event.listen(connection, "before_cursor_execute", listen)
    try:
        call()
    finally:
        event.remove(connection, "before_cursor_execute", listen)
    return seen


def test_a_known_token_is_served_without_reading_token_or_user(as_token, clerk_token, connection):
    clerk = as_token(clerk_token)
    assert clerk.get(f"{API}/auth/me").json() == {"username": "clerk", "role": "clerk", "agency_code": WARD}
    statements = statements_during(connection, lambda: clerk.get(f"{API}/auth/me"))
    assert not [s for s in statements if "access_token" in s or "app_user" in s], statements


def test_a_revoked_token_is_refused_at_once(as_token, clerk_token):
    clerk = as_token(clerk_token)
    assert clerk.get(f"{API}/auth/me").status_code == 200
    clerk.cookies.set(SESSION_COOKIE, clerk_token)
    signed_out = clerk.post("/logout", data={"csrf_token": csrf_token(clerk_token)}, follow_redirects=False)
    assert signed_out.status_code == 303
    assert clerk.get(f"{API}/auth/me").status_code == 401


def test_a_deactivated_user_is_refused_at_once(as_token, clerk_token, client):
    clerk = as_token(clerk_token)
    assert clerk.get(f"{API}/auth/me").status_code == 200
    response = client.patch(f"{API}/users/clerk", json={"active": False})
    assert response.status_code == 200, response.text
    refused = clerk.get(f"{API}/auth/me")
    assert refused.status_code == 401 and "unknown or expired" in refused.json()["detail"]
    signing_in = clerk.post(f"{API}/auth/token", data={"username": "clerk", "password": PASSWORD})
    assert signing_in.status_code == 401


def test_a_new_role_and_agency_apply_from_the_next_request(as_token, clerk_token, client):
    clerk = as_token(clerk_token)
    assert clerk.get(f"{API}/dossiers").status_code == 200
    changed = client.patch(f"{API}/users/clerk", json={"role": "viewer", "agency_code": OTHER_WARD})
    assert changed.json() == {
        "username": "clerk", "role": "viewer", "agency_code": OTHER_WARD, "full_name": None, "email": None
    }
    assert clerk.get(f"{API}/auth/me").json() == {"username": "clerk", "role": "viewer", "agency_code": OTHER_WARD}
    assert clerk.get(f"{API}/dossiers").status_code == 403


def test_user_changes_are_checked(client):
    assert client.patch(f"{API}/users/nobody", json={"active": False}).status_code == 404
    assert client.patch(f"{API}/users/clerk", json={"agency_code": "nope"}).status_code == 404
    assert client.patch(f"{API}/users/clerk", json={"role": "owner"}).status_code == 422
    assert client.patch(f"{API}/users/clerk", json={"colour": "red"}).status_code == 422


def test_only_administrators_change_users(as_token, clerk_token):
    assert as_token(clerk_token).patch(f"{API}/users/clerk", json={"role": "admin"}).status_code == 403


def test_another_process_s_change_shows_when_the_entry_expires(session, clerk_token):
    """What a second worker does: it is not told, so it serves the cached principal up to the time to live."""
    clock = FakeClock()
    cache = PrincipalCache(30, clock=clock)
    assert cache.load(session, clerk_token).username == "clerk"
    session.execute(update(User).where(User.username == "clerk").values(active=False))
    clock.now += 29
    assert cache.cached(clerk_token).username == "clerk"
    clock.now += 2
    assert cache.cached(clerk_token) is None
    assert cache.load(session, clerk_token) is None


def test_an_entry_does_not_outlive_its_token(session):
    clock = FakeClock()
    cache = PrincipalCache(30, clock=clock)
    token = issue_token(session, username="clerk", password=PASSWORD, lifetime=timedelta(seconds=10))
    assert cache.load(session, token) is not None and cache.cached(token) is not None
    clock.now += 11
    assert cache.cached(token) is None


def test_a_time_to_live_of_zero_keeps_nothing(session, clerk_token):
    cache = PrincipalCache(0, clock=FakeClock())
    assert cache.load(session, clerk_token).username == "clerk"
    assert cache.cached(clerk_token) is None


def test_forget_drops_by_token_and_by_user(session, clerk_token):
    cache = PrincipalCache(30, clock=FakeClock())
    admin_token = issue_token(session, username="admin", password=PASSWORD, lifetime=timedelta(hours=1))
    clerk = cache.load(session, clerk_token)
    cache.load(session, admin_token)
    cache.forget(user_ids={clerk.user_id})
    assert cache.cached(clerk_token) is None and cache.cached(admin_token) is not None
    cache.forget(token_hashes={accounts._token_hash(admin_token)})
    assert cache.cached(admin_token) is None


def test_a_lookup_overtaken_by_a_change_is_not_kept(session, clerk_token, monkeypatch):
    """A request that read the token before another one's change committed must not keep what it read."""
    cache = PrincipalCache(30, clock=FakeClock())
    read = accounts._principal_until

    def read_then_change_elsewhere(session, token_hash):
        found = read(session, token_hash)
        cache.forget(token_hashes={token_hash})  # the revoking request ends meanwhile
        return found

    monkeypatch.setattr(accounts, "_principal_until", read_then_change_elsewhere)
    assert cache.load(session, clerk_token) is not None
    assert cache.cached(clerk_token) is None


def test_an_intake_and_a_list_make_two_thread_hops_each(as_token, clerk_token, monkeypatch):
    """The route and the end of its unit of work; principal, role check, settings and paging run on the loop."""
    clerk = as_token(clerk_token)
    assert clerk.get(f"{API}/auth/me").status_code == 200  # the principal is known from here on
    hops = []
    run_sync = anyio.to_thread.run_sync

    async def counted(func, *args, **kwargs):
        hops.append(getattr(func, "func", func))
        return await run_sync(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    body = {"procedure_code": "1.004222", "agency_code": WARD, "applicant": {"name": "Lê Văn C"}}
    assert clerk.post(f"{API}/dossiers", json=body).status_code == 201
    assert len(hops) == 2, hops
    hops.clear()
    assert clerk.get(f"{API}/dossiers", params={"page_size": 5}).status_code == 200
    assert len(hops) == 2, hops  # what the route returns is serialised by pydantic, not validated again
