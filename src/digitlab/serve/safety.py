"""ASGI middleware that guards the local server: the Host header and the size of bodies.

- **DNS rebinding.** A web page elsewhere can make a browser send requests to 127.0.0.1 under
  its own domain name; such requests carry that name in ``Host``. Only the bound address,
  ``localhost`` and ``127.0.0.1`` (with the server's port, when given) are answered; anything
  else gets 400. When the server is bound to a non-local address, IP literals are accepted too
  (a rebinding attack always uses a domain name).
- **Other sites.** A page elsewhere may still make the browser POST to 127.0.0.1 (a form, a
  no-cors fetch); the browser then names that page in ``Origin``, and such requests get 403.
  JSON bodies must also be sent as ``application/json``, which no form can do.
- **Body size.** A body larger than :data:`MAX_BODY_BYTES` gets 413, whether announced by
  ``Content-Length`` or noticed while it streams in (chunked uploads).
- **Headers.** Every answer carries a Content-Security-Policy (this origin only, no framing),
  ``nosniff`` and no referrer.
"""

from __future__ import annotations

import ipaddress
import json

from digitlab.serve.language import _

MAX_BODY_BYTES = 4 * 1024 * 1024

LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def is_local_host(host: str) -> bool:
    """Whether binding to ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def split_host_header(value: str) -> tuple[str, int | None]:
    """``"localhost:8000"`` -> ("localhost", 8000); ``"[::1]:80"`` -> ("::1", 80)."""
    value = value.strip().lower()
    if value.startswith("["):  # IPv6 literal
        end = value.find("]")
        name, rest = value[1:end], value[end + 1:]
        port = rest[1:] if rest.startswith(":") else ""
    else:
        name, _, port = value.partition(":")
    if port and not port.isdigit():
        raise ValueError(value)
    return name, int(port) if port else None


def _is_ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


class HostCheck:
    """Answer 400 to requests whose ``Host`` is not one of this server's local names."""

    def __init__(self, app, *, host: str, port: int | None):
        self.app = app
        self.names = {*LOCAL_NAMES, host.lower()}
        self.port = port
        self.accept_ip_literals = not is_local_host(host)

    def allowed(self, header: str | None) -> bool:
        if not header:
            return False
        try:
            name, port = split_host_header(header)
        except ValueError:
            return False
        if port is not None and self.port is not None and port != self.port:
            return False
        return name in self.names or (self.accept_ip_literals and _is_ip_literal(name))

    def allowed_origin(self, origin: str) -> bool:
        """Whether ``Origin`` (``scheme://host[:port]``) is this server's own page."""
        scheme, separator, rest = origin.partition("://")
        if not separator or scheme not in ("http", "https") or "/" in rest:
            return False
        if ":" not in rest.rsplit("]", 1)[-1]:
            rest += ":443" if scheme == "https" else ":80"
        return self.allowed(rest)

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        host = headers.get(b"host", b"").decode("latin-1")
        if not self.allowed(host):
            return await send_error(send, 400, f"refused Host header {host[:80]!r}: this "
                                               "server only answers its local address")
        origin = headers.get(b"origin")
        if origin is not None and scope.get("method", "GET") not in SAFE_METHODS:
            origin = origin.decode("latin-1")
            if not self.allowed_origin(origin):
                return await send_error(send, 403, f"refused a request from another site "
                                                   f"(Origin {origin[:80]!r})")
        return await self.app(scope, receive, send)


#: the page loads everything from this server: no other origin, no framing by other sites
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


class SecurityHeaders:
    """Headers that keep other sites from framing the page or running code in it."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(event):
            if event["type"] == "http.response.start":
                event["headers"] = [*event.get("headers", []), *SECURITY_HEADERS]
            await send(event)

        await self.app(scope, receive, send_with_headers)


class BodyTooLarge(Exception):
    """Raised inside ``receive`` once a body has grown past the limit."""


class BodyLimit:
    """Answer 413 to bodies over ``limit`` bytes (Content-Length, or counted while streaming)."""

    def __init__(self, app, *, limit: int = MAX_BODY_BYTES):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        message = _("the request body is larger than {megabytes} MB").format(
            megabytes=self.limit // (1024 * 1024))
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None:
            try:
                announced = int(length)
            except ValueError:
                return await send_error(send, 400, _("the Content-Length header is not a "
                                                     "number"))
            if announced > self.limit:
                return await send_error(send, 413, message)
        received = 0
        started = False

        async def counting_receive():
            nonlocal received
            event = await receive()
            if event["type"] == "http.request":
                received += len(event.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge()
            return event

        async def watching_send(event):
            nonlocal started
            if event["type"] == "http.response.start":
                started = True
            await send(event)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge:
            if not started:
                await send_error(send, 413, message)


async def send_error(send, status: int, message: str) -> None:
    """Send ``{"error": message}`` with ``status`` straight from ASGI middleware (the outer
    ones, which :class:`SecurityHeaders` does not wrap: the answer carries its headers too)."""
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": body})
