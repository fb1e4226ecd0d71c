"""Display sessions: an ASGI middleware that turns the display cookie into a principal.

It runs inside AuthMiddleware (which handles user sessions, tokens and CSRF) and
only acts when no principal was found. In demo mode (``[wall] demo_open_display``)
an anonymous loopback browser on the demo wall's display pages, their WebSocket,
the cameras, the queue counts (and /api/allowed) is the demo display: so ``/display/demo/1`` works
without pairing, and never from another machine.
"""
from __future__ import annotations

import ipaddress

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from iocwall.wall.walls.pairing import COOKIE
from iocwall.wall.walls.service import DEMO_WALL, demo_principal

# /api/queues: the queue counts the display's camera and queue tiles show (read-only);
# /api/allowed: which of those the display may read (asked before the first poll)
_DEMO_PATHS = (f"/display/{DEMO_WALL}/", f"/ws/display/{DEMO_WALL}/", "/api/cameras",
               "/api/queues", "/api/allowed")


def _loopback(scope: Scope) -> bool:
    client = scope.get("client")
    if not client:
        return False
    try:
        return ipaddress.ip_address(client[0]).is_loopback
    except ValueError:
        return False


class DisplaySessionMiddleware:
    def __init__(self, app: ASGIApp, services: object) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            state = scope.setdefault("state", {})
            wall = getattr(self.services, "wall", None)
            if state.get("principal") is None and wall is not None:
                cookie = HTTPConnection(scope).cookies.get(COOKIE)
                if cookie and wall.pairing is not None:
                    state["principal"] = await wall.pairing.resolve(cookie)
                if (state["principal"] is None and wall.config.demo_open_display
                        and scope["path"].startswith(_DEMO_PATHS) and _loopback(scope)):
                    state["principal"] = demo_principal()
        await self.app(scope, receive, send)
