"""Browser tests: the app served by uvicorn on a loopback port (a fresh SQLite file with the seed
catalogue) and the system Chromium driven by Playwright.

Without /usr/bin/chromium (or without Playwright) the browser tests are skipped, except under
CI=true, where that is a failure: `.ci/install-browser` installs the browser.
"""

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlmodel import Session

from accounts.service import create_user
from api.app import create_app
from api.cli import SERVER
from api.db import make_engine, upgrade
from api.settings import Settings
from api.web.auth import CSRF_HEADER, SESSION_COOKIE, csrf_token
from seed.loader import load_catalogue
from tests.conftest import sign_in_csrf

PASSWORD = "correct horse battery staple"
WEB_USERS = (
    ("admin", "admin", None),
    ("clerk", "clerk", "000.01.01.H26"),
    ("manager", "manager", "000.01.01.H26"),
    ("officer", "officer", "000.00.03.H26"),
)
CHROMIUM = Path(os.environ.get("MOTCUA_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


def focused(page, element_id: str) -> None:
    """Waits until the page's autofocus lands on `element_id` (Chromium moves it at a rendering step that
    may come after the load event on a busy machine); fails if it never does."""
    page.wait_for_function("id => document.activeElement && document.activeElement.id === id", arg=element_id)


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must run the browser tests (.ci/install-browser installs Chromium)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def playwright_api():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed (pip install playwright; never `playwright install`)")
    if not CHROMIUM.exists():
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium chromium-driver)")
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_api):
    browser = playwright_api.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(tmp_path_factory, playwright_api) -> Iterator[str]:
    """The app on 127.0.0.1:<free port>, in a thread, on a fresh SQLite file with the seed catalogue."""
    url = f"sqlite:///{tmp_path_factory.mktemp('web') / 'motcua.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as session:
        load_catalogue(session)
        for username, role, agency in WEB_USERS:
            create_user(session, username=username, password=PASSWORD, role=role, agency_code=agency)
        session.commit()
    engine.dispose()
    port = _free_port()
    app = create_app(Settings(database_url=url))
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **SERVER)  # as `motcua serve`
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="web-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def sign_in(base_url: str, username: str) -> str:
    """The session token of `username`, through the sign-in form."""
    with httpx.Client(base_url=base_url) as client:
        form = {"username": username, "password": PASSWORD, **sign_in_csrf(client)}
        response = client.post("/login", data=form)
    assert response.status_code == 303, response.text
    return response.cookies[SESSION_COOKIE]


@pytest.fixture(scope="session")
def desk(live_server) -> Iterator[httpx.Client]:
    """The desk's forms posted without a browser (signed in as the administrator), to set up data."""
    token = sign_in(live_server, "admin")
    headers = {CSRF_HEADER: csrf_token(token)}
    with httpx.Client(base_url=live_server, timeout=30, cookies={SESSION_COOKIE: token}, headers=headers) as client:
        yield client


@pytest.fixture(scope="session")
def artifacts() -> Path:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


@pytest.fixture
def page_locale() -> str | None:
    """The browser's locale (`@pytest.mark.parametrize("page_locale", ["en-US"])`); None: Chromium's default."""
    return None


@pytest.fixture
def page(browser, live_server, request, page_locale):
    """A desktop-sized page signed in (as the administrator, or as `@pytest.mark.user("clerk")` says,
    None for a citizen); JavaScript errors fail the test; confirmation dialogs are accepted."""
    marker = request.node.get_closest_marker("user")
    username = marker.args[0] if marker else "admin"
    locale = {"locale": page_locale} if page_locale else {}
    context = browser.new_context(viewport=DESKTOP, base_url=live_server, accept_downloads=True, **locale)
    if username:
        context.add_cookies([{"name": SESSION_COOKIE, "value": sign_in(live_server, username), "url": live_server}])
    offsite: list[str] = []

    def same_site_only(route) -> None:  # as if offline: nothing may come from another host
        if route.request.url.startswith((live_server, "data:", "blob:")):
            route.continue_()
        else:
            offsite.append(route.request.url)
            route.abort()

    context.route("**/*", same_site_only)
    page = context.new_page()
    errors: list[str] = []
    page.csp_violations = violations = []  # a test may take out one it expects, saying why
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: "Content Security Policy" in message.text and violations.append(message.text))
    page.on("dialog", lambda dialog: dialog.accept())
    page.set_default_timeout(10_000)
    yield page
    context.close()
    assert not errors, f"JavaScript errors: {errors}"
    assert not violations, f"CSP violations: {violations}"
    assert not offsite, f"requests to other hosts: {offsite}"


@pytest.fixture
def shoot(artifacts):
    """Save a full-page screenshot as `test-artifacts/web/<name>-<width>.png`; a page at phone width
    must not scroll sideways (wide tables scroll inside their own box)."""

    def shoot(page, name: str) -> Path:
        width = page.viewport_size["width"]
        page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")  # resized
        if width <= PHONE["width"]:
            assert page.evaluate("() => document.documentElement.scrollWidth") <= width, f"{name} scrolls sideways"
        path = artifacts / f"{name}-{width}.png"
        page.screenshot(path=path, full_page=True)
        return path

    return shoot
