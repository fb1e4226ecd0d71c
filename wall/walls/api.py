"""HTTP API of the walls: walls, layouts (push), presets, displays, pairing, alarm rules.

Operators and admins push; leaders and technicians only look. Every change is audited.
"""
from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from iocwall.layouts import Layout, LayoutError, Preset, validate, validate_preset
from iocwall.wall.access import PUBLIC, Role, route
from iocwall.wall.api.announced import announced
from iocwall.wall.api.common import Body, audited, caller, client_address, read_body, services
from iocwall.wall.errors import ApiError
from iocwall.wall.http.body import parse_json
from iocwall.wall.text import Name, name_problem
from iocwall.wall.walls.controller import PushResult
from iocwall.wall.walls.pairing import COOKIE, SESSION_MAX_AGE_S
from iocwall.wall.walls.service import WallService
from iocwall.wall.walls.tours import tour_audit, tour_changes

VIEW = frozenset({Role.ADMIN, Role.OPERATOR, Role.LEADER, Role.TECHNICIAN})
PUSH = frozenset({Role.ADMIN, Role.OPERATOR})
ADMIN = frozenset({Role.ADMIN})
MAX_WAIT_S = 10.0
ANONYMOUS = "(anonymous)"          # who the audit names for an unauthenticated pairing start


def wall_service(request: Request) -> WallService:
    wall = services(request).wall
    if wall is None:                 # every server starts its walls before serving
        raise ApiError(503, "starting", "the walls are not started yet / đang khởi động")
    return wall


async def _json(request: Request) -> Any:
    raw = await request.body()
    if len(raw) > 256 * 1024:
        raise ApiError(413, "too_large", "body too large / dữ liệu quá lớn")
    return parse_json(raw)       # numbers bounded like every other body (int64, finite)


def _layout_error(exc: LayoutError) -> ApiError:
    return ApiError(422, exc.code, exc.message, exc.field)


def _check_names(texts: dict[str, object]) -> None:
    """A 422 naming the first field whose text hides characters (wall/text.py says why)."""
    for field, text in texts.items():
        if isinstance(text, str) and (problem := name_problem(text)) is not None:
            raise ApiError(422, "invalid", f"{field}: {problem}", field)


def _layout_names(layout: Layout, where: str = "") -> dict[str, object]:
    """The texts of ``layout`` that people read: its name, and each tile's text and centre."""
    texts: dict[str, object] = {f"{where}name": layout.name}
    for n, tile in enumerate(layout.tiles):
        texts[f"{where}tiles[{n}].text"] = tile.text
        texts[f"{where}tiles[{n}].centre"] = tile.centre
    return texts


def _wait(request: Request) -> float:
    try:
        return min(MAX_WAIT_S, max(0.0, float(request.query_params.get("wait", "0"))))
    except ValueError:
        raise ApiError(422, "invalid", "wait: seconds to wait for acks", "wait") from None


class WallBody(Body):
    id: str
    name: Name = Field(min_length=1, max_length=100)
    columns: int = Field(ge=1, le=16)
    rows: int = Field(ge=1, le=16)
    monitors: list[str]


class RuleBody(Body):
    """An alarm rule: more than ``threshold`` people at ``counter`` of ``centre`` for
    ``duration_s`` seconds puts ``camera`` on ``monitor``."""
    model_config = ConfigDict(extra="forbid", str_max_length=200, coerce_numbers_to_str=True)
    name: str = Field(max_length=100)
    centre: str = Field(min_length=1)
    counter: str = Field(min_length=1)
    threshold: int = Field(ge=0, le=100_000)                      # people
    duration_s: float = Field(ge=0, le=86_400, allow_inf_nan=False)
    camera: str = Field(min_length=1)
    monitor: str = Field(min_length=1)
    auto_clear: bool = True


class ApproveBody(Body):
    wall: str
    monitors: dict[str, str]


class PairBody(Body):
    name: Name = Field("", max_length=100)


class PollBody(Body):
    secret: str = Field(max_length=200)


async def list_walls(request: Request) -> Response:
    return JSONResponse([w.public() for w in await wall_service(request).walls.walls()])


async def create_wall(request: Request) -> Response:
    body = await read_body(request, WallBody)
    wall = await wall_service(request).walls.create_wall(body.id, body.name, body.columns,
                                                         body.rows, body.monitors)
    await audited(request, "wall.create", f"wall:{wall.id}", None, wall.public())
    return JSONResponse(wall.public(), status_code=201)


async def get_wall(request: Request) -> Response:
    ws = wall_service(request)
    wall = await ws.walls.wall(request.path_params["wall"])
    out = wall.public()
    out["presets"] = await ws.walls.presets(wall.id)
    out["nodes"] = [n.public() for n in ws.controller.presence.all(wall.id)]
    out["alarms"] = await ws.alarms.open_alarms(wall.id)
    out["pre_alarm_s"] = ws.alarms.pre_alarm_s     # the console replays an alarm's seconds before
    return JSONResponse(out)


async def get_layout(request: Request) -> Response:
    ws, p = wall_service(request), request.path_params
    who = caller(request)
    if who.role is Role.DISPLAY and (p["wall"], p["monitor"]) not in \
            await ws.display_monitors(who):
        raise ApiError(403, "forbidden", "not this display's monitor / không phải màn hình này")
    layout = await ws.walls.layout(p["wall"], p["monitor"])
    return JSONResponse(layout.to_json() if layout else None)


async def push_layout(request: Request) -> Response:
    ws, p = wall_service(request), request.path_params
    await ws.walls.monitor(p["wall"], p["monitor"])
    try:
        layout = validate(Layout.from_json(await _json(request)), await ws.camera_ids())
    except LayoutError as exc:
        raise _layout_error(exc) from None
    _check_names(_layout_names(layout))
    before = await ws.walls.layout(p["wall"], p["monitor"])

    async def record(result: PushResult) -> None:      # its fsync makes the push durable
        target = f"wall:{p['wall']}/{p['monitor']}"
        tours = tour_changes(before, layout)
        for tile in tours.stopped:
            await audited(request, "wall.tour.stop", target, tour_audit(tile), None)
        for tile in tours.started:
            await audited(request, "wall.tour.start", target, None, tour_audit(tile))
        await audited(request, "wall.push", target,
                      {"version": before.version} if before else None,
                      {"version": result.versions[p["monitor"]], "tiles": len(layout.tiles)})
    result = await ws.controller.push(p["wall"], {p["monitor"]: layout}, caller(request).name,
                                      _wait(request), record)
    return JSONResponse(result.public())


async def list_presets(request: Request) -> Response:
    ws = wall_service(request)
    wall = await ws.walls.wall(request.path_params["wall"])
    return JSONResponse([(await ws.walls.preset(wall.id, n)).to_json()
                         for n in await ws.walls.presets(wall.id)])


async def save_preset(request: Request) -> Response:
    ws, p = wall_service(request), request.path_params
    wall = await ws.walls.wall(p["wall"])
    data = await _json(request)
    if isinstance(data, dict):
        data = {**data, "name": p["name"]}
    try:
        preset = validate_preset(Preset.from_json(data), {m.id for m in wall.monitors},
                                 await ws.camera_ids())
    except LayoutError as exc:
        raise _layout_error(exc) from None
    texts: dict[str, object] = {"name": preset.name}
    for monitor, shown in sorted(preset.monitors.items()):
        texts.update(_layout_names(shown, f"monitors.{monitor}."))
    _check_names(texts)
    await ws.walls.save_preset(wall.id, preset, caller(request).name)
    await audited(request, "wall.preset.save", f"wall:{wall.id}/preset:{preset.name}", None,
                  {"monitors": sorted(preset.monitors)})
    return JSONResponse(preset.to_json())


async def recall_preset(request: Request) -> Response:
    ws, p = wall_service(request), request.path_params
    preset = await ws.walls.preset(p["wall"], p["name"])

    async def record(result: PushResult) -> None:      # its fsync makes the push durable
        await audited(request, "wall.preset.recall", f"wall:{p['wall']}/preset:{preset.name}",
                      None, {"versions": result.versions})
    result = await ws.controller.push(p["wall"], preset.monitors, caller(request).name,
                                      _wait(request), record)
    return JSONResponse(result.public())


async def list_rules(request: Request) -> Response:
    rules = await wall_service(request).alarms.rules(request.path_params["wall"])
    return JSONResponse([r.public() for r in rules])


async def add_rule(request: Request) -> Response:
    body = await read_body(request, RuleBody)
    _check_names({"name": body.name, "centre": body.centre})
    rule = await wall_service(request).alarms.add_rule(request.path_params["wall"],
                                                       body.model_dump())
    await audited(request, "wall.rule.create", f"wall:{rule.wall}/rule:{rule.id}", None,
                  rule.public())
    return JSONResponse(rule.public(), status_code=201)


async def list_alarms(request: Request) -> Response:
    return JSONResponse(await wall_service(request).alarms.open_alarms(
        request.path_params["wall"]))


async def clear_alarm(request: Request) -> Response:
    alarm: int = request.path_params["alarm"]      # {alarm:int}: an id SQLite can hold
    await wall_service(request).alarms.clear(request.path_params["wall"], alarm,
                                             caller(request).name)
    return JSONResponse({"cleared": alarm})


async def pair_start(request: Request) -> Response:
    """Anonymous: refused (429) past the per-address limit before anything is stored or
    audited; refusals are audited folded, at most one entry per address per second."""
    body = await read_body(request, PairBody)
    ws, address = wall_service(request), client_address(request)
    wait = await ws.pair_limiter.take("pair", address)
    if wait is not None:
        if folded := await ws.pair_limiter.refusal_to_audit(address):
            await services(request).audit.record(
                ANONYMOUS, "display.pair.refused", "display:-", None,
                {"reason": "rate_limited", "retry_after_s": wait, "refused": folded}, address)
        raise ApiError(429, "rate_limited", f"too many pairing requests; try again in {wait} s "
                       f"/ quá nhiều yêu cầu ghép nối, thử lại sau {wait} giây",
                       headers={"Retry-After": str(wait)})
    agent = request.headers.get("user-agent", "")
    started = await _pairing(request).start(body.name, address, agent)
    await services(request).audit.record(
        ANONYMOUS, "display.pair", f"display:{started.node}", None,
        {"name": body.name.strip()[:100], "user_agent": agent[:200],
         "expires_at": started.expires_at}, address)
    return JSONResponse({"node": started.node, "code": started.code, "secret": started.secret,
                         "expires_at": started.expires_at}, status_code=201)


async def pair_poll(request: Request) -> Response:
    body = await read_body(request, PollBody)
    pairing = _pairing(request)
    state, token = await pairing.poll(request.path_params["node"], body.secret)
    wall, monitors = await pairing.bound(request.path_params["node"])
    return JSONResponse({"state": state, "token": token, "wall": wall,
                         "monitors": [{"id": m, "output": o} for m, o in monitors]})


async def pairings(request: Request) -> Response:
    return JSONResponse(await _pairing(request).pending())


async def display_nodes(request: Request) -> Response:
    """Paired display nodes, each with its live connections (monitor, status, last seen
    +07:00) from the presence table, then the display pages connected without a pairing
    (a logged-in user's preview, ``paired: false``), so /admin/displays shows what is on now."""
    ws = wall_service(request)
    live: dict[str, list[dict[str, Any]]] = {}
    for state in ws.controller.presence.all():
        live.setdefault(state.node, []).append(
            {"monitor": state.monitor, "wall": state.wall, "status": state.status.value,
             "last_seen": state.public()["last_seen"]})
    nodes = await _pairing(request).nodes()
    paired = {n["node"] for n in nodes}
    unpaired = [{"node": node, "name": node, "wall": conns[0]["wall"], "address": "",
                 "user_agent": "", "first_seen": "", "approved_by": "", "paired": False,
                 "connections": conns}
                for node, conns in sorted(live.items()) if node not in paired]
    return JSONResponse([{**n, "paired": True, "connections": live.get(n["node"], [])}
                         for n in nodes] + unpaired)


async def approve(request: Request) -> Response:
    body = await read_body(request, ApproveBody)
    who = caller(request)
    # An admin token's approval binds the display token to that admin token (expiry,
    # revocation, owner): a token cannot mint a longer-lived one by approving a pairing.
    by_token = (await services(request).tokens.id_of(who.name.removeprefix("token:"))
                if who.via == "token" else None)
    node = await _pairing(request).approve(request.path_params["code"], body.wall,
                                           body.monitors, who.name, by_token)
    await audited(request, "display.approve", f"display:{node['node']}", None,
                  {"wall": body.wall, "monitors": body.monitors, "address": node["address"],
                   "first_seen": node["first_seen"], "user_agent": node["user_agent"]})
    return JSONResponse(node)


async def revoke(request: Request) -> Response:
    node = request.path_params["node"]
    ended = await wall_service(request).revoke_display(node)
    if ended is None:
        raise ApiError(404, "not_found", "no such display node / không có màn hình này")
    await audited(request, "display.revoke", f"display:{node}", None, ended)
    return JSONResponse({"revoked": node, **ended})


async def display_session(request: Request) -> Response:
    """A display token (bearer) in, an HttpOnly display-session cookie out."""
    node, cookie = await _pairing(request).exchange(caller(request))
    await audited(request, "display.session", f"display:{node}")
    response = JSONResponse({"ok": True})
    response.set_cookie(COOKIE, cookie, max_age=SESSION_MAX_AGE_S, httponly=True,
                        samesite="strict", secure=services(request).sessions.cookie.secure)
    return response


def _pairing(request: Request):  # type: ignore[no-untyped-def]
    pairing = wall_service(request).pairing
    if pairing is None:
        raise ApiError(503, "not_ready", "wall service not started")
    return pairing


def routes() -> list[BaseRoute]:
    w, m = "/api/walls/{wall}", "/api/walls/{wall}/monitors/{monitor}"
    return [
        route("/api/walls", list_walls, roles=VIEW, methods=["GET"]),
        route("/api/walls", create_wall, roles=ADMIN, methods=["POST"]),
        route(w, get_wall, roles=VIEW, methods=["GET"]),
        route(m + "/layout", get_layout, roles=VIEW | {Role.DISPLAY}, methods=["GET"]),
        route(m + "/layout", announced(push_layout), roles=PUSH, methods=["PUT"]),
        route(w + "/presets", list_presets, roles=VIEW, methods=["GET"]),
        route(w + "/presets/{name}", save_preset, roles=PUSH, methods=["PUT"]),
        route(w + "/presets/{name}/recall", announced(recall_preset), roles=PUSH, methods=["POST"]),
        route(w + "/rules", list_rules, roles=VIEW, methods=["GET"]),
        route(w + "/rules", add_rule, roles=ADMIN, methods=["POST"]),
        route(w + "/alarms", list_alarms, roles=VIEW, methods=["GET"]),
        route(w + "/alarms/{alarm:int}/clear", announced(clear_alarm), roles=PUSH,
              methods=["POST"]),
        route("/api/display/pair", pair_start, roles=PUBLIC, methods=["POST"]),
        route("/api/display/pair/{node}/poll", pair_poll, roles=PUBLIC, methods=["POST"]),
        route("/api/display/pairings", pairings, roles=ADMIN, methods=["GET"]),
        route("/api/display/pairings/{code}/approve", approve, roles=ADMIN, methods=["POST"]),
        route("/api/display/nodes", display_nodes, roles=ADMIN, methods=["GET"]),
        route("/api/display/nodes/{node}/revoke", announced(revoke), roles=ADMIN, methods=["POST"]),
        route("/api/display/session", display_session, roles={Role.DISPLAY}, methods=["POST"]),
    ]
