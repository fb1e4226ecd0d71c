"""Which names this server answers to: the Host allow-list against DNS rebinding.

A page on ``http://evil.example:8080`` whose name an attacker re-points at our
address is same-origin with itself, so the browser lets its scripts read our
answers; only the ``Host`` header (``evil.example:8080``) gives it away. Every
request whose Host is not ours gets 400 before anything else runs, and nothing
downstream (redirects, the Origin check) ever sees a foreign Host.

Ours: ``[server] allowed_hosts`` (default ``localhost`` and ``127.0.0.1``),
``public_url``'s host and the listen address; ``*`` allows any (not advised).
Ports are not compared: rebinding changes the name, not the port. When the
server listens on every interface (``0.0.0.0``), a bare IP address is also
accepted: a browser sends one only when the user typed it, never for a name.
"""
from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from iocwall.wall.config import ServerConfig
from iocwall.wall.errors import error_body

DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1")
_WILDCARDS = {"", "0.0.0.0", "::"}


def host_name(host_header: str) -> str:
    """``Example.org:8080`` -> ``example.org``; ``[::1]:80`` -> ``::1``."""
    value = host_header.strip().lower().rstrip(".")
    if value.startswith("["):
        return value[1:].partition("]")[0]
    name, _, port = value.rpartition(":")
    return name if name and port.isdigit() and ":" not in name else value


def allowed_hosts(server: ServerConfig) -> frozenset[str]:
    names = {host_name(h) for h in (server.allowed_hosts or DEFAULT_HOSTS)}
    public = urlsplit(server.public_url.strip()).hostname
    if public:
        names.add(public.lower())
    if server.host not in _WILDCARDS:
        names.add(host_name(server.host))
    return frozenset(names)


class HostPolicy:
    def __init__(self, server: ServerConfig) -> None:
        self.names = allowed_hosts(server)
        self.any = "*" in self.names
        self.any_address = server.host in _WILDCARDS

    def allows(self, host_header: str | None) -> bool:
        # No Host at all (HTTP/1.0 scripts) cannot come from a browser, so it is no rebinding.
        if self.any or not host_header:
            return True
        name = host_name(host_header)
        return name in self.names or (self.any_address and _is_address(name))


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class HostCheckMiddleware:
    """400 (JSON) for HTTP requests, close for WebSockets, when the Host is not ours."""

    def __init__(self, app: ASGIApp, policy: HostPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") \
                or self.policy.allows(Headers(scope=scope).get("host")):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": "bad_host"})
            return
        body = error_body("bad_host", "this server does not answer to that host name "
                          "(see [server] allowed_hosts) / tên máy chủ không được phép")
        await JSONResponse(body, status_code=400)(scope, receive, send)
