"""Who is calling, and the CSRF Origin check: one pure ASGI middleware.

For each HTTP/WebSocket request it sets ``request.state.principal`` (a
Principal or None) from ``Authorization: Bearer <token>`` or the session
cookie, and ``request.state.session_id`` for cookie sessions.

CSRF: a state-changing request (POST/PUT/PATCH/DELETE) that carries an
``Origin`` header must come from our own origin (the request's scheme + Host, where
the Host is one of ``server.allowed_hosts``, see wall/http/hosts.py;
``server.public_url``) or one of ``auth.trusted_origins``; otherwise 403.
SameSite=Lax on the cookie already stops most cross-site posts; the Origin
check covers the rest. Scripts send no Origin and keep working; bearer-token
requests carry no ambient credential, so they are exempt.
"""
from __future__ import annotations

from typing import Protocol
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from iocwall.wall.access import Principal
from iocwall.wall.auth.sessions import Sessions
from iocwall.wall.auth.tokens import Tokens
from iocwall.wall.config import Config
from iocwall.wall.errors import error_body
from iocwall.wall.http.hosts import HostPolicy

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class AuthSources(Protocol):
    """What the middleware reads from Services (read-only: Services builds them at start)."""

    @property
    def config(self) -> Config: ...
    @property
    def sessions(self) -> Sessions: ...
    @property
    def tokens(self) -> Tokens: ...


def normalise_origin(value: str) -> str:
    parts = urlsplit(value.strip().lower())
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


class AuthMiddleware:
    def __init__(self, app: ASGIApp, services: AuthSources) -> None:
        self.app = app
        self.services = services
        config = services.config
        fixed = [config.server.public_url, *config.auth.trusted_origins]
        self._trusted = {o for o in (normalise_origin(v) for v in fixed) if o}
        self._hosts = HostPolicy(config.server)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        state = scope.setdefault("state", {})
        state["principal"], state["session_id"] = None, None
        bearer = _bearer(headers.get("authorization", ""))
        if bearer is not None:
            principal = await self.services.tokens.resolve(bearer)
            if principal is None:
                await self._refuse(scope, receive, send, 401, "bad_token",
                                   "invalid or revoked token / mã truy cập không hợp lệ")
                return
            state["principal"] = principal
        else:
            if not self._origin_ok(scope, headers):
                await self._refuse(scope, receive, send, 403, "csrf",
                                   "cross-site request refused (Origin not allowed) "
                                   "/ yêu cầu từ trang khác bị từ chối")
                return
            await self._from_cookie(scope, state)
        await self.app(scope, receive, send)

    async def _from_cookie(self, scope: Scope, state: dict) -> None:
        cookie = HTTPConnection(scope).cookies.get(self.services.sessions.cookie.name)
        if not cookie:
            return
        found = await self.services.sessions.resolve(cookie)
        if found is not None:
            state["session_id"], state["principal"] = found

    def _origin_ok(self, scope: Scope, headers: Headers) -> bool:
        origin = headers.get("origin")
        unsafe = scope["type"] == "websocket" or scope.get("method", "GET") in UNSAFE_METHODS
        if origin is None or not unsafe:
            return True
        wanted = normalise_origin(origin)
        if not wanted:                       # "null" (sandboxed page, file://): never ours
            return False
        scheme = {"https": "https", "wss": "https"}.get(scope.get("scheme", "http"), "http")
        own = f"{scheme}://{headers.get('host', '').lower()}"
        # The Host is one of ours (HostCheckMiddleware ran first); checked again here so
        # that this test never rests on a header the client chose.
        same = wanted == own and self._hosts.allows(urlsplit(wanted).netloc)
        return same or wanted in self._trusted

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, status: int,
                      code: str, message: str) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": code})
            return
        await JSONResponse(error_body(code, message), status_code=status)(scope, receive, send)


def _bearer(value: str) -> str | None:
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def principal_from_scope(scope: Scope) -> Principal | None:
    return scope.get("state", {}).get("principal")
