"""The public lookup's limits: per client address and, for wrong phone digits, per dossier code whatever
the address; counters shared by every worker, in the database or in Redis (MOTCUA_REDIS_URL)."""

import os
import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select
from sqlmodel import Session

from api import limits
from api.app import create_app
from api.limits import DatabaseStorage, RateCounter
from api.settings import Settings
from dossiers import lookup
from kernel.db import utc_now

API = "/api/v1"
WARD = "000.01.01.H26"
PHONE = "0912345678"
REDIS_URL = os.environ.get("MOTCUA_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis_or_skip() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis at {REDIS_URL} is unreachable: {exc}")
        pytest.skip(f"Redis at {REDIS_URL} is unreachable: {exc}")
    return REDIS_URL


@pytest.fixture(params=["database", "redis"])
def workers(request, engine, connection, monkeypatch):
    """`workers(n)`: n apps ("workers", each with its own limiter objects) over the test's database and,
    for the Redis half, a Redis key prefix of the test's own."""
    redis_url = None
    if request.param == "redis":
        redis_url = _redis_or_skip()
        monkeypatch.setattr(limits, "REDIS_KEY_PREFIX", f"motcua-test-{uuid.uuid4().hex}")
    made = []

    def make(count: int = 2, **settings) -> list[TestClient]:
        url = engine.url.render_as_string(hide_password=False)
        for _ in range(count):
            app = create_app(Settings(database_url=url, redis_url=redis_url, **settings))
            app.state.open_session = lambda write: Session(
                connection, join_transaction_mode="create_savepoint", expire_on_commit=False
            )
            made.append(app)
        return made[-count:]

    yield make
    for app in made:
        app.state.lookup_guard.counters.storage.reset()


def citizen(app, address: str) -> TestClient:
    return TestClient(app, raise_server_exceptions=False, client=(address, 50000))


@pytest.fixture
def dossier_code(client) -> str:
    body = {"procedure_code": "1.004222", "agency_code": WARD, "applicant": {"name": "Phạm Thị Hoa", "phone": PHONE}}
    response = client.post(f"{API}/dossiers", json=body)
    assert response.status_code == 201, response.text
    return response.json()["code"]


def ask(app, address: str, code: str, digits: str):
    return citizen(app, address).get(f"{API}/lookup", params={"code": code, "phone_last4": digits})


def test_wrong_digits_close_the_code_for_every_address(workers, client, dossier_code):
    first, second = workers()
    for n in range(10):  # ten addresses, two workers: one counter
        assert ask((first, second)[n % 2], f"203.0.113.{n}", dossier_code, f"{n:04d}").status_code == 404
    refused = ask(first, "198.51.100.1", dossier_code, PHONE[-4:])  # the right digits, a new address
    assert refused.status_code == 429
    assert refused.json() == {
        "error": "too_many_requests",
        "detail": "too many wrong phone digits for this dossier code (at most 10/hour); "
        "the lookup of this code is closed until the time in Retry-After has passed",
    }
    assert 3000 < int(refused.headers["retry-after"]) <= 3600
    page = citizen(second, "198.51.100.2").post("/lookup", data={"code": dossier_code, "phone_last4": PHONE[-4:]})
    assert page.status_code == 429 and 3000 < int(page.headers["retry-after"]) <= 3600
    assert "Vui lòng thử lại sau 60 phút" in page.text and PHONE not in page.text
    other = client.post(
        f"{API}/dossiers",
        json={"procedure_code": "1.004222", "agency_code": WARD, "applicant": {"name": "B", "phone": PHONE}},
    ).json()["code"]
    assert ask(first, "198.51.100.1", other, PHONE[-4:]).status_code == 200  # other codes stay open


def test_an_unknown_code_is_counted_like_a_known_one(workers):
    (app,) = workers(1)
    answers = [ask(app, f"203.0.113.{n}", f"{WARD}-250101-9999", "1234").status_code for n in range(11)]
    assert answers == [404] * 10 + [429]  # the limit says nothing about whether a code exists


def test_right_and_malformed_digits_are_not_counted(workers, dossier_code):
    (app,) = workers(1, lookup_rate_limit="100/minute")
    for n in range(9):
        assert ask(app, "203.0.113.1", dossier_code, f"{n:04d}").status_code == 404
    for _ in range(5):
        assert ask(app, "203.0.113.1", dossier_code, PHONE[-4:]).status_code == 200
        assert ask(app, "203.0.113.1", dossier_code, "12a4").status_code == 422
    assert ask(app, "203.0.113.1", dossier_code, "9999").status_code == 404  # the tenth wrong one
    assert ask(app, "203.0.113.1", dossier_code, PHONE[-4:]).status_code == 429


def test_codes_are_matched_ignoring_case_and_spaces_and_counted_as_one(workers, dossier_code):
    (app,) = workers(1, lookup_rate_limit="100/minute")
    typed = f"  {dossier_code.lower()} "
    found = ask(app, "203.0.113.1", typed, PHONE[-4:])
    assert found.status_code == 200 and found.json()["code"] == dossier_code
    assert ask(app, "203.0.113.1", dossier_code.replace("-", " - "), PHONE[-4:]).status_code == 200
    full_width = dossier_code.replace("H26", "Ｈ２６")
    assert ask(app, "203.0.113.1", full_width, PHONE[-4:]).status_code == 200
    for n in range(10):  # variants of one code share its counter
        variant = dossier_code.lower() if n % 2 else f" {dossier_code} "
        assert ask(app, "203.0.113.1", variant, f"{n:04d}").status_code == 404
    assert ask(app, "203.0.113.1", dossier_code, PHONE[-4:]).status_code == 429


def test_the_address_limit_is_shared_by_the_workers(workers):
    first, second = workers()
    answers = [
        ask((first, second)[n % 2], "203.0.113.1", f"{WARD}-250101-{n:04d}", "1234").status_code for n in range(31)
    ]
    assert answers == [404] * 30 + [429]
    assert ask(second, "203.0.113.2", f"{WARD}-250101-0099", "1234").status_code == 404  # another address


def test_counters_are_committed_for_other_connections(fresh_engine):
    """Two workers, each with its own connections: what one counts, the other sees."""
    url = fresh_engine.url.render_as_string(hide_password=False)
    first, second = (create_app(Settings(database_url=url)) for _ in range(2))
    code = f"{WARD}-250101-0001"
    assert [ask(first, f"203.0.113.{n}", code, "1234").status_code for n in range(10)] == [404] * 10
    assert ask(second, "198.51.100.1", code, "1234").status_code == 429
    with Session(fresh_engine) as session:
        keys = session.execute(select(RateCounter.key)).scalars().all()
    assert any(code in key for key in keys)


def test_expired_counters_are_pruned(session):
    storage = DatabaseStorage(
        lambda: Session(session.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False)
    )
    session.add(RateCounter(key="old", count=3, expires_at=utc_now() - timedelta(seconds=1)))
    session.add(RateCounter(key="current", count=3, expires_at=utc_now() + timedelta(hours=1)))
    session.flush()
    assert storage.get("old") == 0  # expired: not counted
    assert storage.incr("new", 60) == 1
    assert storage.incr("current", 60) == 4
    keys = set(session.execute(select(RateCounter.key)).scalars())
    assert keys == {"new", "current"}
    assert storage.incr("new", 60, amount=-1) == 0  # a refund
    assert storage.incr("gone", 60, amount=-1) == 0  # a refund after its window: no credit


def test_an_unreachable_redis_fails_closed(engine, connection):
    app = create_app(
        Settings(database_url=engine.url.render_as_string(hide_password=False), redis_url="redis://127.0.0.1:1/0")
    )
    response = ask(app, "203.0.113.1", f"{WARD}-250101-0001", "1234")
    assert response.status_code == 503
    assert response.json()["error"] == "unavailable" and response.headers["retry-after"] == "5"


@pytest.mark.parametrize("setting", ["lookup_rate_limit", "lookup_code_failure_limit"])
def test_a_rate_setting_names_its_form(setting):
    with pytest.raises(ValidationError) as raised:
        Settings(**{setting: "ten an hour"})
    assert "write it as COUNT/PERIOD, e.g. 30/minute or 10/hour" in str(raised.value)


def test_normalise_code_gives_the_stored_form():
    assert lookup.normalise_code(" 000.01.01.h26-251122-0001\t") == "000.01.01.H26-251122-0001"
    assert lookup.normalise_code("000.01.01.Ｈ２６ - 251122 - 0001") == "000.01.01.H26-251122-0001"
