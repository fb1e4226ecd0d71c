"""An operator rewinds a display tile: ``POST /api/walls/{wall}/monitors/{monitor}/replay``.

    {"tile": "c1", "back_s": 30}                       replay from 30 s ago
    {"tile": "c1", "at": "2026-12-07T14:05:00+07:00"}  replay from that time
    {"tile": "c1", "live": true}                       back to live

The displays of that monitor get a typed ``replay`` message (protocol.replay_message) over
their WebSocket and play the span from the media server's replay API themselves, with their
own display session: that API lets a display fetch only the cameras its layouts show
(``media_api.camera_check``), so naming a tile of the monitor's current layout is what
scopes the camera here too. Nothing is stored: a display that reconnects is live.
"""
from __future__ import annotations

import time

from pydantic import Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from iocwall.layouts import TileKind
from iocwall.streams.clock import iso_from_epoch, parse_iso
from iocwall.wall.access import Role, route
from iocwall.wall.api.announced import announced
from iocwall.wall.api.common import Body, audited, read_body
from iocwall.wall.errors import ApiError

PUSH = frozenset({Role.ADMIN, Role.OPERATOR})
MAX_BACK_S = 3600.0      # far past any configured buffer: the display says "nothing buffered"


class ReplayBody(Body):
    tile: str = Field(min_length=1, max_length=100)
    back_s: float | None = Field(None, gt=0, le=MAX_BACK_S, allow_inf_nan=False)
    at: str | None = Field(None, max_length=64)
    live: bool = False


def _start(body: ReplayBody) -> float | None:
    """The span's start (epoch seconds), None for live; exactly one of the three is given."""
    given = [body.back_s is not None, body.at is not None, body.live]
    if sum(given) != 1:
        raise ApiError(422, "invalid", "give one of back_s, at or live / chọn một trong back_s, "
                       "at, live", "back_s")
    if body.live:
        return None
    if body.back_s is not None:
        return time.time() - body.back_s
    try:
        return parse_iso(str(body.at)).timestamp()
    except ValueError:
        raise ApiError(422, "invalid", "at: expected an ISO 8601 time, e.g. "
                       "2026-12-07T14:05:00+07:00 / thời điểm không hợp lệ", "at") from None


async def push_replay(request: Request) -> Response:
    ws, p = request.app.state.services.wall, request.path_params
    await ws.walls.monitor(p["wall"], p["monitor"])
    body = await read_body(request, ReplayBody)
    start = _start(body)
    layout = await ws.walls.layout(p["wall"], p["monitor"])
    tile = next((t for t in (layout.tiles if layout else ()) if t.id == body.tile), None)
    if tile is None:
        raise ApiError(404, "not_found", f"no tile '{body.tile}' on this monitor / không có "
                       "ô này trên màn hình", "tile")
    if tile.kind is not TileKind.CAMERA or not tile.camera:
        raise ApiError(422, "invalid", "only a camera tile can be rewound / chỉ xem lại được "
                       "ô camera", "tile")
    shown = iso_from_epoch(start) if start is not None else None
    displays = await ws.controller.replay(p["wall"], p["monitor"], tile.id, tile.camera, shown)
    await audited(request, "wall.replay", f"wall:{p['wall']}/{p['monitor']}", None,
                  {"tile": tile.id, "camera": tile.camera, "from": shown})
    return JSONResponse({"tile": tile.id, "camera": tile.camera, "start": shown,
                         "live": shown is None, "displays": displays})


def routes() -> list[BaseRoute]:
    return [route("/api/walls/{wall}/monitors/{monitor}/replay", announced(push_replay), roles=PUSH,
                  methods=["POST"])]
