import pytest
from sqlalchemy import select

from notify.models import OutboxMessage
from tests.conftest import BACKDATE_REASON

API = "/api/v1/dossiers"
RESIDENCE = "1.004222"  # permanent residence, 7 working days, commune level: one stage at the ward
WARD = "000.01.01.H26"
PHONE = "0912345678"
CONSENT = {"contact_consent": True, "preferred_channel": "sms"}


@pytest.fixture
def receive(client):
    def receive(received_at="2025-06-02T09:00", expect=201, applicant=None, **extra):
        body = {
            "procedure_code": RESIDENCE,
            "agency_code": WARD,
            "channel": "counter",
            "applicant": {"name": "Nguyễn Thị Lan", "id_number": "001190012345", "phone": PHONE, **(applicant or {})},
            **extra,
        }
        if received_at is not None:
            body["received_at"] = received_at
            body.setdefault("backdate_reason", BACKDATE_REASON)
        response = client.post(API, json=body)
        assert response.status_code == expect, response.text
        return response.json()

    return receive


@pytest.fixture
def event(client):
    def event(code, type, expect=201, headers=None, **fields):
        if fields.get("at") and fields["at"].startswith("2025"):
            fields.setdefault("backdate_reason", BACKDATE_REASON)
        response = client.post(f"{API}/{code}/events", json={"type": type, **fields}, headers=headers or {})
        assert response.status_code == expect, response.text
        return response.json()

    return event


def outbox_of(session, code: str | None = None) -> list[OutboxMessage]:
    session.expire_all()
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if code is not None:
        query = query.where(OutboxMessage.key.startswith(f"{code}:"))
    return list(session.execute(query).scalars())


# --- a real SMTP server and a real HTTP gateway on loopback, and a database the dispatcher commits to ----------

import hashlib  # noqa: E402
import hmac  # noqa: E402
import json  # noqa: E402
import socket  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from email import message_from_bytes, policy  # noqa: E402

import uvicorn  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402
from sqlalchemy import delete  # noqa: E402
from sqlmodel import Session  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from api.db import make_engine, upgrade  # noqa: E402
from notify.models import Delivery, StaffNotification  # noqa: E402
from seed.loader import load_catalogue  # noqa: E402
from tests.conftest import _postgres_database  # noqa: E402

SECRET = "test-webhook-secret"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Mailbox:
    """What the SMTP server received; a mail system deduplicating by Message-ID shows each once."""

    def __init__(self) -> None:
        self.received: list = []
        self.refuse: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.received.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"

    @property
    def shown(self) -> dict:
        return {mail["Message-ID"]: mail for mail in self.received}


class Gateway:
    """An SMS/Zalo gateway: checks the signature, answers as told, deduplicates by Idempotency-Key."""

    def __init__(self) -> None:
        self.reset()
        self.app = Starlette(routes=[Route("/{channel}", self.hook, methods=["POST"])])

    def reset(self) -> None:
        self.requests: list[tuple[str, str]] = []
        self.shown: dict[str, dict] = {}
        self.fail_next = 0
        self.refuse: set[str] = set()

    async def hook(self, request: Request):
        body = await request.body()
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        if request.headers.get("X-Motcua-Signature") != expected:
            return JSONResponse({"error": "bad signature"}, status_code=401)
        key = request.headers["Idempotency-Key"]
        self.requests.append((request.path_params["channel"], key))
        if self.fail_next:
            self.fail_next -= 1
            return JSONResponse({"error": "gateway busy"}, status_code=503)
        data = json.loads(body)
        if data["to"] in self.refuse:
            return JSONResponse({"error": "invalid number"}, status_code=400)
        duplicate = key in self.shown
        self.shown.setdefault(key, data)
        return JSONResponse({"id": len(self.shown), "duplicate": duplicate})


@pytest.fixture(scope="session")
def mailbox() -> Iterator[tuple[Mailbox, str]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, f"smtp://127.0.0.1:{port}"
    controller.stop()


@pytest.fixture(scope="session")
def gateway() -> Iterator[tuple[Gateway, str]]:
    hub = Gateway()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(hub.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield hub, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def outlets(mailbox, gateway):
    """The SMTP server and the gateway, emptied for the test."""
    mailbox[0].received.clear()
    mailbox[0].refuse.clear()
    gateway[0].reset()
    return mailbox, gateway


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def committing_engine(request, tmp_path_factory):
    """A database of its own for code that commits (the dispatcher, the jobs), emptied after each test."""
    urls = (
        iter([f"sqlite:///{tmp_path_factory.mktemp('notify') / 'notify.db'}"])
        if request.param == "sqlite"
        else _postgres_database()
    )
    url = next(urls)
    engine = make_engine(url)
    try:
        upgrade(engine)
        with Session(engine) as session:
            load_catalogue(session)
            session.commit()
        yield engine
    finally:
        engine.dispose()
        next(urls, None)


@pytest.fixture
def db(committing_engine):
    yield committing_engine
    with Session(committing_engine) as session:
        for model in (Delivery, OutboxMessage, StaffNotification):
            session.execute(delete(model))
        session.commit()


def local(text: str) -> datetime:
    from sla.core.calendar import LOCAL_TZ

    return datetime.fromisoformat(text).replace(tzinfo=LOCAL_TZ)


def add_message(
    engine,
    *,
    key: str,
    channel: str = "sms",
    address: str = PHONE,
    audience: str = "citizen",
    due: datetime | None = None,
    agency_id: int | None = None,
    **extra,
) -> int:
    values = {
        "key": key, "cause": "test", "kind": "received", "channel": channel, "audience": audience,
        "address": address, "subject": "Đã tiếp nhận hồ sơ" if channel == "email" else None,
        "body": "Hồ sơ đã được tiếp nhận. Hẹn trả kết quả: 11/06/2025 09:00.",
        "next_attempt_at": due or datetime(2025, 6, 2, 1, 0, tzinfo=UTC), "agency_id": agency_id, **extra,
    }  # fmt: skip
    with Session(engine) as session:
        row = OutboxMessage(**values)
        session.add(row)
        session.commit()
        return row.id
