"""Request checks: the server answers loopback clients about loopback hosts only.

A Host allowlist defeats DNS rebinding (a web page resolving its own name to 127.0.0.1);
an Origin check on state-changing requests stops a browser page from driving agents.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def _hostname(value: str) -> str:
    value = value.strip().lower()
    if value.startswith("["):
        return value[: value.find("]") + 1] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def is_loopback_host(host: str) -> bool:
    name = _hostname(host)
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


def is_loopback_origin(origin: str) -> bool:
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and \
        is_loopback_host(parts.hostname or "")


class LoopbackGuard:
    """ASGI middleware: 400 for a foreign Host, 403 for a foreign Origin or peer."""

    def __init__(self, app: ASGIApp, extra_hosts: set[str] | None = None):
        self.app = app
        self.extra_hosts = {h.lower() for h in (extra_hosts or set())}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        request = Request(scope)
        host = request.headers.get("host", "")
        if not (is_loopback_host(host) or _hostname(host) in self.extra_hosts):
            return await JSONResponse({"detail": f"Host {host!r} is not allowed; cao-server only "
                                                 "answers requests addressed to localhost"},
                                      status_code=400)(scope, receive, send)
        peer = scope.get("client")
        if peer and not self.extra_hosts:
            try:
                if not ipaddress.ip_address(peer[0]).is_loopback:
                    return await JSONResponse({"detail": "only loopback clients are served"},
                                              status_code=403)(scope, receive, send)
            except ValueError:
                pass
        origin = request.headers.get("origin")
        if origin and (scope["type"] == "websocket" or request.method not in SAFE_METHODS):
            if not is_loopback_origin(origin):
                return await JSONResponse({"detail": f"Origin {origin!r} may not change state"},
                                          status_code=403)(scope, receive, send)
        await self.app(scope, receive, send)
