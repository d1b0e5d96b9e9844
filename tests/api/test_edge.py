"""The edge: who is asking (X-Forwarded-For/-Proto believed only from trusted proxies, uvicorn believing
none), the security headers on every answer, and the API docs built from vendored files only."""

import asyncio
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select
from sqlmodel import Session

from accounts.models import AuditEntry
from api.app import create_app
from api.cli import SERVER
from api.edge import ClientAddress, parse_networks
from api.settings import Settings
from procedures import service as catalogue_service
from tests.conftest import bearer

API = "/api/v1"


def _seen(trusted: str, peer: str, headers: list[tuple[str, str]], scope_type: str = "http") -> tuple[str, str]:
    """The client address and scheme the app sees behind `ClientAddress`."""
    seen = {}

    async def app(scope, receive, send):
        seen.update(scope)

    scope = {
        "type": scope_type,
        "client": (peer, 50000),
        "scheme": "http" if scope_type == "http" else "ws",
        "headers": [(name.encode(), value.encode()) for name, value in headers],
    }
    asyncio.run(ClientAddress(app, parse_networks(trusted))(scope, None, None))
    return seen["client"][0], seen["scheme"]


@pytest.mark.parametrize(
    ("trusted", "peer", "headers", "expected"),
    [
        # no trusted proxy: the headers are ignored
        ("", "127.0.0.1", [("x-forwarded-for", "203.0.113.9"), ("x-forwarded-proto", "https")], ("127.0.0.1", "http")),
        # a peer outside the trusted networks: ignored
        ("10.0.0.0/8", "198.51.100.1", [("x-forwarded-for", "203.0.113.9")], ("198.51.100.1", "http")),
        # a trusted proxy: the address it appended, and its scheme
        (
            "127.0.0.1",
            "127.0.0.1",
            [("x-forwarded-for", "203.0.113.9"), ("x-forwarded-proto", "https")],
            ("203.0.113.9", "https"),
        ),
        # what the client wrote left of it is not believed: the right-most untrusted address
        ("10.0.0.0/8", "10.0.0.2", [("x-forwarded-for", "6.6.6.6, 203.0.113.9, 10.0.0.5")], ("203.0.113.9", "http")),
        # several headers are one list
        (
            "10.0.0.0/8",
            "10.0.0.2",
            [("x-forwarded-for", "6.6.6.6"), ("x-forwarded-for", "203.0.113.9")],
            ("203.0.113.9", "http"),
        ),
        # a malformed entry ends the walk at the last trusted hop
        ("10.0.0.0/8", "10.0.0.2", [("x-forwarded-for", "203.0.113.9, nonsense")], ("10.0.0.2", "http")),
        ("10.0.0.0/8", "10.0.0.2", [("x-forwarded-for", "203.0.113.9, nonsense, 10.0.0.7")], ("10.0.0.7", "http")),
        # every hop trusted: the left-most
        ("10.0.0.0/8", "10.0.0.2", [("x-forwarded-for", "10.0.0.9")], ("10.0.0.9", "http")),
        # addresses with ports, IPv6
        ("::1", "::1", [("x-forwarded-for", "[2001:db8::1]:443")], ("2001:db8::1", "http")),
        ("127.0.0.0/8", "127.0.0.1", [("x-forwarded-for", "203.0.113.9:5555")], ("203.0.113.9", "http")),
        # no header from a trusted proxy: the proxy itself
        ("127.0.0.1", "127.0.0.1", [], ("127.0.0.1", "http")),
        # an unknown scheme is not taken
        ("127.0.0.1", "127.0.0.1", [("x-forwarded-proto", "gopher")], ("127.0.0.1", "http")),
    ],
)
def test_client_address_is_taken_from_trusted_proxies_only(trusted, peer, headers, expected):
    assert _seen(trusted, peer, headers) == expected


def test_websocket_scheme_follows_the_forwarded_proto():
    assert _seen("127.0.0.1", "127.0.0.1", [("x-forwarded-proto", "https")], "websocket") == ("127.0.0.1", "wss")


def test_trusted_proxies_setting_names_a_bad_entry():
    with pytest.raises(ValidationError) as raised:
        Settings(trusted_proxies="10.0.0.1, proxy.local")
    assert "'proxy.local' is not an IP address or a CIDR network" in str(raised.value)
    assert Settings(trusted_proxies=" 10.0.0.1 , 192.168.0.0/16,").trusted_networks == parse_networks(
        "10.0.0.1,192.168.0.0/16"
    )


def _app(engine, connection, **settings):
    app = create_app(Settings(database_url=engine.url.render_as_string(hide_password=False), **settings))
    app.state.open_session = lambda write: Session(
        connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    return app


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def served(app) -> Iterator[str]:
    """`app` behind uvicorn on a loopback port, run as `motcua serve` runs it (api.cli.SERVER)."""
    config = uvicorn.Config(app, host="127.0.0.1", port=_free_port(), log_level="warning", **SERVER)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _lookup_addresses(session, path: str) -> list[str]:
    rows = session.execute(select(AuditEntry.client_address).where(AuditEntry.path == path)).scalars().all()
    return list(rows)


def test_rotating_forwarded_for_from_an_untrusted_client_bypasses_nothing(engine, connection, session):
    """uvicorn, as `motcua serve` runs it, trusts no X-Forwarded-For (by default it believes 127.0.0.1),
    and without MOTCUA_TRUSTED_PROXIES neither does the app: the limit and the audit see the real peer."""
    app = _app(engine, connection)
    with served(app) as base_url, httpx.Client(base_url=base_url) as citizen:
        answers = [
            citizen.get(
                f"{API}/lookup",
                params={"code": f"000.01.01.H26-250101-{n:04d}", "phone_last4": "1234"},
                headers={"X-Forwarded-For": f"203.0.113.{n}", "X-Forwarded-Proto": "https"},
            )
            for n in range(31)
        ]
        page = citizen.post(
            "/lookup", data={"code": "x", "phone_last4": "1234"}, headers={"X-Forwarded-For": "198.51.100.77"}
        )
    assert [answer.status_code for answer in answers[:30]] == [404] * 30
    assert answers[30].status_code == 429 and "from your address" in answers[30].json()["detail"]
    assert page.status_code == 429
    assert _lookup_addresses(session, "/lookup") == ["127.0.0.1"]
    assert all("server" not in answer.headers for answer in [*answers, page])  # no banner


def test_a_trusted_proxy_names_the_client(engine, connection, session):
    app = _app(engine, connection, trusted_proxies="127.0.0.1")
    with served(app) as base_url, httpx.Client(base_url=base_url) as proxy:
        answers = [  # behind the proxy, each citizen has a limit of its own
            proxy.get(
                f"{API}/lookup",
                params={"code": f"000.01.01.H26-250101-{n:04d}", "phone_last4": "1234"},
                headers={"X-Forwarded-For": f"203.0.113.{n}"},
            ).status_code
            for n in range(35)
        ]
        page = proxy.post(
            "/lookup",
            data={"code": "x", "phone_last4": "1234"},
            headers={"X-Forwarded-For": "6.6.6.6, 198.51.100.77", "X-Forwarded-Proto": "https"},
        )
    assert answers == [404] * 35
    assert page.status_code == 404
    assert _lookup_addresses(session, "/lookup") == ["198.51.100.77"]  # not what the client wrote first


SECURITY = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


def _assert_secured(response, *, no_store: bool = True) -> None:
    for name, value in SECURITY.items():
        assert response.headers.get(name) == value, (response.request.url, name)
    policy = dict(
        directive.strip().split(" ", 1) for directive in response.headers["content-security-policy"].split(";")
    )
    assert policy["default-src"] == "'self'" and policy["frame-ancestors"] == "'none'", policy
    assert re.fullmatch(r"'self'( 'nonce-[\w-]+')?", policy["script-src"]), policy  # never unsafe-inline/-eval
    styles = r"'self'( 'unsafe-inline')?" if response.request.url.path == "/redoc" else r"'self'( 'nonce-[\w-]+')?"
    assert re.fullmatch(styles, policy["style-src"]), policy  # Redoc's page only: see api/docs.py
    assert "http" not in str(policy) and "*" not in str(policy)
    assert "server" not in response.headers
    if no_store:
        assert response.headers.get("cache-control") == "no-store", response.request.url
    else:
        assert "no-store" not in response.headers.get("cache-control", ""), response.request.url


PRIVATE_ANSWERS = [
    ("get", "/"),
    ("get", "/desk"),
    ("get", "/desk?q=nguyen"),
    ("get", "/dashboard"),
    ("get", "/calendar?year=2026"),
    ("get", "/lookup"),
    ("get", "/login"),
    ("get", "/nothing-here"),
    ("get", f"{API}/dossiers"),
    ("get", f"{API}/auth/me"),
    ("get", f"{API}/audit"),
    ("get", f"{API}/queues/overdue?agency=000.01.01.H26"),
    ("get", f"{API}/healthz"),
    ("get", f"{API}/lookup?code=x&phone_last4=1234"),
    ("get", f"{API}/nothing-here"),
    ("post", f"{API}/dossiers"),  # 422
    ("get", "/docs"),
    ("get", "/redoc"),
    ("get", "/openapi.json"),
]
PUBLIC_READS = [
    "/static/app.css",
    "/static/vendor/swagger-ui-bundle.js",
    f"{API}/procedures?q=khai+sinh",
    f"{API}/agencies",
    f"{API}/fields",
    f"{API}/calendar/days?year=2026",
]


@pytest.mark.parametrize(("method", "path"), PRIVATE_ANSWERS)
def test_pages_and_api_answers_carry_the_security_headers_and_are_not_stored(client, method, path):
    _assert_secured(getattr(client, method)(path))


@pytest.mark.parametrize("path", PUBLIC_READS)
def test_static_assets_and_public_reads_may_be_cached(client, path):
    response = client.get(path)
    assert response.status_code == 200
    _assert_secured(response, no_store=False)


def test_page_posts_errors_and_refusals_carry_the_headers(app, client, monkeypatch):
    _assert_secured(client.post("/lookup", data={"code": "x", "phone_last4": "1234"}))
    _assert_secured(client.post(f"{API}/dossiers", content=b"x" * 13_000_000, headers={"content-type": "text/plain"}))

    def broken(session):
        raise RuntimeError("boom")

    monkeypatch.setattr(catalogue_service, "list_fields", broken)
    crashed = client.get(f"{API}/fields")
    assert crashed.status_code == 500
    _assert_secured(crashed, no_store=False)  # a catalogue read, even when it fails


def test_a_catalogue_write_is_not_a_public_read(client):
    response = client.post(f"{API}/procedures", json={})
    assert response.status_code == 422
    _assert_secured(response)


EXTERNAL = re.compile(r"""(https?:)?//[\w.-]+""")


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/docs/oauth2-redirect"])
def test_docs_pages_load_only_vendored_files(client, path):
    response = client.get(path)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    assert not EXTERNAL.search(re.sub(r"<!--.*?-->", "", page, flags=re.S)), EXTERNAL.search(page)
    nonce = re.search(r"'nonce-([\w-]+)'", response.headers["content-security-policy"]).group(1)
    inline = re.findall(r"<(script|style)( nonce=\"([\w-]+)\")?>", page)
    assert inline and all(found_nonce == nonce for _, _, found_nonce in inline)
    for asset in re.findall(r"""(?:src|href)="(/static/[^"]+)\"""", page):
        assert client.get(asset).status_code == 200, asset
    again = client.get(path).headers["content-security-policy"]
    assert nonce not in again  # a new nonce every time


def test_swagger_ui_has_no_validator_badge_and_redoc_no_search(client):
    assert '"validatorUrl": null' in client.get("/docs").text
    assert '"disableSearch": true' in client.get("/redoc").text


def test_docs_can_be_switched_off(engine, connection, tokens):
    app = _app(engine, connection, public_docs=False)
    with TestClient(app, raise_server_exceptions=False, headers=bearer(tokens["admin"])) as client:
        for path in ("/docs", "/redoc", "/docs/oauth2-redirect", "/openapi.json"):
            response = client.get(path)
            assert response.status_code == 404, path
            assert set(response.json()) == {"error", "detail"}
        assert client.get(f"{API}/healthz").status_code == 200
    assert "/api/v1/lookup" in app.openapi()["paths"]  # still built in process (tests, tools)
