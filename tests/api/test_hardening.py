"""Hardening: body-size cap, paging and length limits, injection-shaped input, no stack traces out,
no query strings in the access log."""

import io
import json
import logging
import pydoc
from collections.abc import Iterator
from datetime import UTC, datetime

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.exc import DataError, OperationalError
from sqlmodel import Session
from uvicorn.logging import AccessFormatter

from api import logs
from api.app import create_app
from api.settings import Settings
from dossiers import intake as dossier_intake
from dossiers.models import Dossier
from procedures import service as catalogue_service
from sla import queues
from tests.conftest import WARD, bearer

API = "/api/v1"
SMALL_BODY_LIMIT = 2_000


def intake_body(name: str = "Trần Văn E") -> dict:
    return {"procedure_code": "1.004222", "agency_code": WARD, "applicant": {"name": name, "phone": "0911222333"}}


@pytest.fixture
def small_client(engine, connection, tokens) -> Iterator[TestClient]:
    """A client of an app that refuses request bodies over 2,000 bytes (MOTCUA_MAX_REQUEST_BYTES)."""
    url = engine.url.render_as_string(hide_password=False)
    app = create_app(Settings(database_url=url, max_request_bytes=SMALL_BODY_LIMIT))
    app.state.open_session = lambda write: Session(
        connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    with TestClient(app, raise_server_exceptions=False, headers=bearer(tokens["admin"])) as client:
        yield client


def _oversized_intake() -> bytes:
    return json.dumps(intake_body(name="x" * (SMALL_BODY_LIMIT + 100))).encode()


def _assert_too_large(response) -> None:
    assert response.status_code == 413, response.text
    assert response.json() == {
        "error": "too_large",
        "detail": f"the request body is larger than {SMALL_BODY_LIMIT} bytes",
    }


def test_body_over_the_limit_is_refused_by_its_content_length(small_client):
    body = _oversized_intake()
    response = small_client.post(f"{API}/dossiers", content=body, headers={"content-type": "application/json"})
    _assert_too_large(response)


def test_chunked_body_over_the_limit_is_refused_while_it_streams(small_client):
    body = _oversized_intake()
    sent = []

    def chunks() -> Iterator[bytes]:  # no Content-Length: Transfer-Encoding: chunked
        for start in range(0, len(body), 500):
            sent.append(start)
            yield body[start : start + 500]

    response = small_client.post(f"{API}/dossiers", content=chunks(), headers={"content-type": "application/json"})
    _assert_too_large(response)


def test_body_under_the_limit_passes(small_client):
    response = small_client.post(f"{API}/dossiers", json=intake_body())
    assert response.status_code == 201, response.text


def test_page_size_over_the_maximum_names_the_maximum(client):
    response = client.get(f"{API}/procedures", params={"page_size": 201})
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_input"
    assert "at most 200" in response.json()["detail"]
    assert client.get(f"{API}/dossiers", params={"page_size": 10_000}).status_code == 422
    assert client.get(f"{API}/procedures", params={"page_size": 200}).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "arguments", "field"),
    [
        ("get", "/procedures", {"params": {"q": "a" * 201}}, "q"),
        ("get", "/dossiers", {"params": {"q": "a" * 201}}, "q"),
        ("get", "/dossiers", {"params": {"agency": "a" * 65}}, "agency"),
        ("post", "/dossiers", {"json": intake_body(name="a" * 201)}, "applicant.name"),
        ("post", "/dossiers", {"json": {**intake_body(), "procedure_code": "1" * 65}}, "procedure_code"),
        ("post", "/dossiers", {"json": intake_body(), "headers": {"Idempotency-Key": "k" * 129}}, "Idempotency-Key"),
        ("get", "/index/scores", {"params": {"period": "2025-Q1-extra"}}, "period"),
    ],
)
def test_over_long_strings_are_refused(client, method, path, arguments, field):
    response = getattr(client, method)(API + path, **arguments)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "invalid_input"
    assert field in body["detail"]


SQLISH = "'; DROP TABLE dossier; --"


def test_sql_shaped_query_strings_are_plain_text(client, session):
    assert client.post(f"{API}/dossiers", json=intake_body()).status_code == 201
    before = session.execute(select(func.count()).select_from(Dossier)).scalar_one()
    for path, params in [
        ("/dossiers", {"q": SQLISH}),
        ("/dossiers", {"procedure": SQLISH}),
        ("/procedures", {"q": SQLISH}),
        ("/procedures", {"field": SQLISH}),
    ]:
        response = client.get(API + path, params=params)
        assert response.status_code == 200, (path, response.text)
        assert response.json()["items"] == []
    assert client.get(f"{API}/dossiers", params={"agency": SQLISH}).status_code == 404
    assert client.get(f"{API}/dossiers/{SQLISH}").status_code == 404
    assert client.get(f"{API}/lookup", params={"code": SQLISH, "phone_last4": "1234"}).status_code in (404, 422)
    # LIKE wildcards are literal too: '%' and '_' match only themselves
    assert client.get(f"{API}/dossiers", params={"q": "%"}).json()["total"] == 0
    assert client.get(f"{API}/dossiers", params={"q": "_"}).json()["total"] == 0
    assert session.execute(select(func.count()).select_from(Dossier)).scalar_one() == before
    assert client.post(f"{API}/dossiers", json=intake_body()).status_code == 201


TRACE_MARKERS = ("Traceback", 'File "', "line ", "RuntimeError", "secret-internal-detail", ".py")


def test_an_unexpected_error_is_a_plain_500(client, monkeypatch, caplog):
    def broken(session):
        raise RuntimeError("secret-internal-detail at /work/main/procedures/service.py")

    monkeypatch.setattr(catalogue_service, "list_fields", broken)
    with caplog.at_level(logging.ERROR, logger="motcua.api"):
        response = client.get(f"{API}/fields")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "error": "internal_error",
        "detail": "an unexpected error occurred; it has been logged",
    }
    assert not any(marker in response.text for marker in TRACE_MARKERS)
    assert "secret-internal-detail" in caplog.text  # logged for the operators, not sent to the client


def test_an_unexpected_error_in_a_write_is_a_plain_500_and_writes_nothing(client, monkeypatch, session):
    intake = dossier_intake.receive

    def broken(*args, **kwargs):
        intake(*args, **kwargs)  # the dossier and its first event are written (flushed), then:
        raise KeyError("secret-internal-detail")

    before = session.execute(select(func.count()).select_from(Dossier)).scalar_one()
    monkeypatch.setattr(dossier_intake, "receive", broken)
    response = client.post(f"{API}/dossiers", json=intake_body())
    assert response.status_code == 500
    assert response.json()["error"] == "internal_error"
    assert not any(marker in response.text for marker in TRACE_MARKERS)
    assert session.execute(select(func.count()).select_from(Dossier)).scalar_one() == before


def test_a_database_outage_is_a_503_to_retry(client, monkeypatch):
    def unreachable(session):
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused on 127.0.0.1:5432"))

    monkeypatch.setattr(catalogue_service, "list_fields", unreachable)
    response = client.get(f"{API}/fields")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json() == {
        "error": "unavailable",
        "detail": "the database cannot be reached just now; retry in a moment",
    }
    assert not any(marker in response.text for marker in TRACE_MARKERS + ("5432", "SELECT"))


def test_a_value_the_database_refuses_is_a_422(client, monkeypatch):
    def refused(session):
        raise DataError("SELECT 1", {}, ValueError("PostgreSQL text fields cannot contain NUL (0x00) bytes"))

    monkeypatch.setattr(catalogue_service, "list_fields", refused)
    response = client.get(f"{API}/fields")
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_input"
    assert not any(marker in response.text for marker in TRACE_MARKERS + ("SELECT", "PostgreSQL"))


def _queue_rows_with_a_missing_instant() -> pd.DataFrame:
    """Two due-soon rows; the second dossier's stage closed between the queue's two reads (read committed)."""
    due = datetime(2026, 11, 24, 2, tzinfo=UTC)
    row = {column: None for column in queues.QUEUE_COLUMNS}
    rows = [
        {
            **row,
            "code": "A",
            "status_code": 4,
            "due_at": due,
            "current_stage": "Thẩm định",
            "current_stage_due_at": due,
        },
        {**row, "code": "B", "status_code": 4, "due_at": due, "current_stage": None, "current_stage_due_at": None},
    ]
    frame = pd.DataFrame(rows, columns=queues.QUEUE_COLUMNS)
    assert frame["current_stage_due_at"].isna().tolist() == [False, True]  # pandas holds the None as NaT
    return frame


@pytest.mark.parametrize("format", ["json", "csv", "xlsx"])
def test_a_queue_row_without_an_instant_is_answered_not_a_500(client, monkeypatch, format):
    """bench/load_test.py found it (1 due-soon read in ~200 under load): NaT is a datetime; its astimezone raised."""
    monkeypatch.setattr(queues, "due_soon", lambda session, **kwargs: (_queue_rows_with_a_missing_instant(), 2))
    response = client.get(f"{API}/queues/due-soon", params={"agency": WARD, "format": format})
    assert response.status_code == 200, response.text
    if format == "json":
        rows = response.json()["rows"]
        assert rows[0]["current_stage_due_at"] == "2026-11-24T09:00:00+07:00"
        assert rows[1]["current_stage_due_at"] is None


@pytest.mark.parametrize(
    ("method", "path", "arguments", "status"),
    [
        ("get", "/dossiers/nope", {}, 404),
        ("get", "/nowhere", {}, 404),
        ("put", "/procedures", {}, 405),
        ("post", "/dossiers", {"content": b"{not json", "headers": {"content-type": "application/json"}}, 422),
        ("post", "/dossiers", {"json": {"procedure_code": 1}}, 422),
        ("get", "/calendar/due", {"params": {"start": "not a date"}}, 422),
        ("post", "/dossiers/nope/events", {"json": {"type": "exploded"}}, 422),
    ],
)
def test_error_bodies_carry_no_trace(client, method, path, arguments, status):
    response = getattr(client, method)(API + path, **arguments)
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) <= {"error", "detail", "errors"} and body["error"] and body["detail"]
    assert not any(marker in response.text for marker in ("Traceback", 'File "', ".py"))


def _access_record(path_with_query: str) -> logging.LogRecord:
    """The record uvicorn's access logger emits (uvicorn/protocols/http/h11_impl.py)."""
    return logging.LogRecord(
        name="uvicorn.access",
        level=logging.INFO,
        pathname=__file__,
        lineno=1,
        msg='%s - "%s %s HTTP/%s" %d',
        args=("127.0.0.1:51234", "GET", path_with_query, "1.1", 200),
        exc_info=None,
    )


def test_access_log_lines_never_carry_query_strings():
    record = _access_record("/api/v1/lookup?code=000.01.01.H26-251122-0001&phone_last4=5678")
    assert logs.DropQueryStrings().filter(record) is True
    line = AccessFormatter(fmt='%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False).format(record)
    assert line == '127.0.0.1:51234 - "GET /api/v1/lookup HTTP/1.1" 200 OK'
    plain = _access_record("/api/v1/healthz")
    logs.DropQueryStrings().filter(plain)
    assert plain.getMessage() == '127.0.0.1:51234 - "GET /api/v1/healthz HTTP/1.1" 200'


def test_the_served_log_config_drops_query_strings_from_access_lines():
    """`motcua serve` passes this config to uvicorn: its access handler, built as dictConfig builds it."""
    config = logs.uvicorn_log_config()
    access = config["handlers"]["access"]
    assert access["filters"] == ["drop_query"]
    filter_class = pydoc.locate(config["filters"]["drop_query"]["()"])
    formatter = config["formatters"]["access"]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(filter_class())
    handler.setFormatter(AccessFormatter(fmt=formatter["fmt"], use_colors=False))
    handler.handle(_access_record("/api/v1/dossiers?q=0912345678&agency=000.01.01.H26"))
    assert stream.getvalue().strip().endswith('"GET /api/v1/dossiers HTTP/1.1" 200 OK')
    assert "0912345678" not in stream.getvalue()
