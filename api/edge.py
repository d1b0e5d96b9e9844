"""The edge of the app: who is asking (the client's address and scheme, believed from `X-Forwarded-For`
and `X-Forwarded-Proto` only when the direct peer is a trusted proxy) and the headers every answer carries.

Both are ASGI middleware, so that `request.client.host` and `request.url.scheme` are right for every
route, limit and audit row, and no answer leaves without its headers (error pages and 404s included).
"""

import ipaddress
from collections.abc import Iterable

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Networks = tuple[Network, ...]
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(text: str) -> Networks:
    """'10.0.0.1, 192.168.0.0/16, ::1' → the networks; '' → none (X-Forwarded-* ignored)."""
    networks = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(
                f"{item!r} is not an IP address or a CIDR network; give a comma list such as "
                "'127.0.0.1, 10.0.0.0/8, ::1'"
            ) from None
    return tuple(networks)


def _address(text: str) -> Address | None:
    """An address as proxies write it: '203.0.113.7', '203.0.113.7:51234', '2001:db8::1' or '[2001:db8::1]:443'."""
    text = text.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else text
    elif text.count(":") == 1:
        text = text.split(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class ClientAddress:
    """Rewrite `scope["client"]` (and `scope["scheme"]`) from the proxy headers when, and only when,
    the direct peer is in `trusted`.

    The client is the right-most address of `X-Forwarded-For` that is not itself a trusted proxy:
    each proxy appends the address it saw, so the entries left of it are whatever the client wrote.
    A malformed entry ends the walk (what lies left of it cannot be believed): the client is then the
    last trusted hop. With no trusted proxy configured, the headers are ignored.
    """

    def __init__(self, app: ASGIApp, trusted: Networks) -> None:
        self.app = app
        self.trusted = trusted

    def _is_trusted(self, address: Address | None) -> bool:
        return address is not None and any(address in network for network in self.trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self.trusted and scope.get("client"):
            peer = _address(scope["client"][0])
            if self._is_trusted(peer):
                scope = self._resolved(scope, str(peer))
        await self.app(scope, receive, send)

    def _resolved(self, scope: Scope, peer: str) -> Scope:
        headers = Headers(scope=scope)
        scope = dict(scope)
        chain = [part for value in headers.getlist("x-forwarded-for") for part in value.split(",") if part.strip()]
        client = peer
        for entry in reversed(chain):
            address = _address(entry)
            if address is None:
                break
            client = str(address)
            if not self._is_trusted(address):
                break
        scope["client"] = (client, 0)
        protos = [part.strip().lower() for value in headers.getlist("x-forwarded-proto") for part in value.split(",")]
        proto = next((part for part in reversed(protos) if part), None)
        allowed = ("http", "https") if scope["type"] == "http" else ("ws", "wss")
        if proto in ("http", "https", "ws", "wss"):
            secure = proto in ("https", "wss")
            scope["scheme"] = allowed[1] if secure else allowed[0]
        return scope


# Self only: no inline script or style, no other host. Data images are for the vendored Swagger UI's
# stylesheet icons (a data: image cannot run anything).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}
NO_STORE = "no-store"


class SecurityHeaders:
    """Every answer: the CSP (unless the route set its own, as the API docs do), no framing, no sniffing,
    same-origin referrers, no `server` banner; and `Cache-Control: no-store` on everything but the static
    assets and the reads of the public catalogue and calendar (`cacheable`: GET/HEAD path prefixes), so
    that no page or answer holding personal data is kept by a browser or a proxy."""

    def __init__(self, app: ASGIApp, cacheable: Iterable[str], static_prefix: str = "/static/") -> None:
        self.app = app
        self.cacheable = tuple(cacheable)
        self.static_prefix = static_prefix

    def _may_cache(self, scope: Scope) -> bool:
        path = scope["path"]
        if path.startswith(self.static_prefix):
            return True
        return scope["method"] in ("GET", "HEAD") and any(
            path == prefix or path.startswith(prefix.rstrip("/") + "/") for prefix in self.cacheable
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        may_cache = self._may_cache(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                del headers["server"]
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
                if not may_cache:
                    headers["cache-control"] = NO_STORE
            await send(message)

        await self.app(scope, receive, send_with_headers)
