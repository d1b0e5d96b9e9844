"""Request hardening: a cap on body size (413 before the body is read), and per-address rate limits."""

import json

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from procedures.errors import DomainError


class TooLarge(HTTPException):
    """A chunked body grew past the cap while the app read it. An HTTPException, because FastAPI's
    body parsing passes those on to the error handlers and turns any other error into a 400."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, too_large_detail(max_bytes))


def too_large_detail(max_bytes: int) -> str:
    return f"the request body is larger than {max_bytes} bytes"


class BodySizeLimit:
    """Refuse bodies over `max_bytes`: by Content-Length at once, or while a chunked body streams in."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise TooLarge(self.max_bytes)
            return message

        try:
            await self.app(scope, counted, send)
        except TooLarge:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"error": "too_large", "detail": too_large_detail(self.max_bytes)}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


class RateLimited(DomainError):
    status_code = 429
    error = "too_many_requests"


class AddressLimiter:
    """A moving-window limit per client address (in this process), e.g. '30/minute'."""

    def __init__(self, rule: str) -> None:
        self.rule = parse(rule)
        self.text = rule
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    def check(self, address: str | None, name: str) -> None:
        if not self.limiter.hit(self.rule, name, address or "unknown"):
            raise RateLimited(f"too many requests from your address: at most {self.text}; try again shortly")
