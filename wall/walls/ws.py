"""The display WebSocket (``/ws/display/{wall}/{monitor}``) and the wall's pages.

The socket belongs to a display session bound to that monitor (or an operator
previewing it); revoking the display node closes it (code 4403). The controller sends
the current layout at once, then every push; the page answers with acks and a heartbeat
each second.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from iocwall.wall.access import PUBLIC, Role, principal_of, route
from iocwall.wall.frontend import frontend_dir
from iocwall.wall.pages import _page, page_route
from iocwall.wall.walls.api import VIEW
from iocwall.wall.walls.controller import DisplayLink
from iocwall.wall.walls.pairing import node_of
from iocwall.wall.walls.presence import PREVIEW_NODE
from iocwall.wall.walls.protocol import ProtocolError, parse_incoming, parse_screen

PREVIEW = frozenset({Role.ADMIN, Role.OPERATOR, Role.LEADER, Role.TECHNICIAN})
MAX_MESSAGE = 64 * 1024


async def display_socket(ws: WebSocket) -> None:
    service = ws.app.state.services.wall
    wall, monitor = ws.path_params["wall"], ws.path_params["monitor"]
    who = principal_of(ws)  # type: ignore[arg-type]
    allowed = who is not None and (who.role in PREVIEW or (
        who.role is Role.DISPLAY and (wall, monitor) in await service.display_monitors(who)))
    if not allowed:
        await ws.close(code=1008, reason="forbidden")
        return
    await ws.accept()
    lock = asyncio.Lock()

    async def send(message: dict) -> None:
        async with lock:
            if ws.application_state is not WebSocketState.CONNECTED:
                return                          # closed by a revoke meanwhile
            await ws.send_text(json.dumps(message, ensure_ascii=False))

    async def close(code: int, reason: str) -> None:
        async with lock:
            if ws.application_state is WebSocketState.CONNECTED:
                await ws.close(code=code, reason=reason)

    assert who is not None                      # checked by ``allowed`` above
    node = node_of(who) or f"{PREVIEW_NODE}{who.name}"
    link = DisplayLink(uuid.uuid4().hex[:12], node, wall, monitor, send, close=close)
    if "w" in ws.query_params:       # the page's screen, so its first layout plays right
        with contextlib.suppress(ProtocolError):
            link.screen = parse_screen(ws.query_params.get("w"), ws.query_params.get("h"))
    await service.controller.attach(link)
    try:
        while ws.application_state is WebSocketState.CONNECTED:
            text = await ws.receive_text()
            try:
                if len(text) > MAX_MESSAGE:
                    raise ProtocolError("message too large")
                message = parse_incoming(json.loads(text))
            except (ValueError, ProtocolError) as exc:
                await send({"type": "error", "message": str(exc)})
                continue
            await service.controller.receive(link, message)
    except WebSocketDisconnect:
        pass
    finally:
        await service.controller.detach(link)


def _ws_route(path: str, endpoint, roles: frozenset[Role]) -> WebSocketRoute:  # type: ignore[no-untyped-def]
    built = WebSocketRoute(path, endpoint)
    built.roles = roles  # type: ignore[attr-defined]
    return built


def routes(frontend: Path | None = None) -> list[BaseRoute]:
    """Pages: the display page (display sessions and viewers), the console, pairing."""
    frontend = frontend or frontend_dir()
    display_page = _page("display.html", login=PREVIEW | {Role.DISPLAY}, frontend=frontend)

    async def display(request: Request) -> Response:
        who = principal_of(request)
        if who is not None and who.role is Role.DISPLAY:
            mine = await request.app.state.services.wall.display_monitors(who)
            if (request.path_params["wall"], request.path_params["monitor"]) not in mine:
                from starlette.responses import HTMLResponse
                return HTMLResponse("<!doctype html><p>403: không phải màn hình này / "
                                    "not this display's monitor</p>", status_code=403)
        return await display_page(request)

    page = route("/display/{wall}/{monitor}", display, roles=PUBLIC, methods=["GET"],
                 name="page_display")
    page.roles = PREVIEW | {Role.DISPLAY}  # type: ignore[attr-defined]
    # The console's readers are the walls' readers: other roles would meet only 403s there.
    console = page_route("/console", "console.html", VIEW, nav="nav.console", frontend=frontend)
    pair = route("/pair", _page("pair.html", login=None, frontend=frontend),
                 roles=PUBLIC, methods=["GET"], name="page_pair")
    return [page, console, pair,
            _ws_route("/ws/display/{wall}/{monitor}", display_socket, PREVIEW | {Role.DISPLAY})]
