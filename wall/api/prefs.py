"""My settings: ``GET/PUT /api/me/prefs``, the caller's landing page, language, default
province and default wall, with the choices the caller's role allows.

The choices are computed here, once, from the same tables the rest of the server uses: the
pages from the page route table (``/api/nav``), the provinces from the 34 current units (a
registrar: only their own), the walls from the wall store (only for the roles that may view
walls). A value outside them is a 422 naming the field; '' sets the role's default again.
"""
from __future__ import annotations

from typing import Any

from pydantic import Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from iocwall.wall import provinces
from iocwall.wall.access import ANY_USER, Principal, Role, route
from iocwall.wall.api.common import Body, audited, caller, read_body, services
from iocwall.wall.errors import ApiError
from iocwall.wall.pages import landing_choices
from iocwall.wall.prefs import Prefs, UserPrefs
from iocwall.wall.walls.api import VIEW as WALL_VIEWERS
from iocwall.wall.walls.store import WallStore

LANGS = ("vi", "en")
ACTION = "user.prefs"


class PrefsBody(Body):
    landing: str | None = Field(None, max_length=200)
    lang: str | None = Field(None, max_length=8)
    province: str | None = Field(None, max_length=100)
    wall: str | None = Field(None, max_length=100)


def province_choices(who: Principal) -> list[dict[str, str]]:
    """The units ``who`` may pick: a registrar's own, everyone else's the 34."""
    units = provinces.all_units()
    if who.role is Role.REGISTRAR:
        units = tuple(p for p in units if p.code == who.unit)
    return [{"code": p.code, "name": p.name} for p in units]


async def wall_choices(request: Request, who: Principal) -> list[dict[str, str]]:
    if who.role not in WALL_VIEWERS:
        return []
    walls = await WallStore(services(request).store).walls()
    return [{"id": w.id, "name": w.name} for w in walls]


async def choices(request: Request, who: Principal) -> dict[str, list[Any]]:
    return {"landing": landing_choices(request.app.routes, who.role), "lang": list(LANGS),
            "province": province_choices(who), "wall": await wall_choices(request, who)}


def _user_id(who: Principal) -> int:
    if who.user_id is None:
        raise ApiError(400, "not_a_user", "tokens have no settings / mã truy cập không có "
                       "cài đặt riêng")
    return who.user_id


async def get_prefs(request: Request) -> Response:
    who = caller(request)
    mine = (await Prefs(services(request).store).get(who.user_id)
            if who.user_id is not None else UserPrefs())
    return JSONResponse({**mine.public(), "choices": await choices(request, who)})


def _check(field: str, value: str, allowed: list[str]) -> None:
    if value and value not in allowed:
        raise ApiError(422, "invalid", f"{field}: not one you may choose / không thuộc các "
                       "lựa chọn được phép", field)


async def put_prefs(request: Request) -> Response:
    who = caller(request)
    user_id = _user_id(who)
    body = await read_body(request, PrefsBody)
    changes = {k: v.strip() for k, v in body.model_dump(exclude_none=True).items()}
    allowed = await choices(request, who)
    if changes.get("province"):
        try:
            changes["province"] = provinces.resolve(changes["province"]).code
        except provinces.UnknownProvince as exc:
            raise ApiError(422, "invalid", f"province: {exc}", "province") from None
    _check("landing", changes.get("landing", ""), [p["path"] for p in allowed["landing"]])
    _check("lang", changes.get("lang", ""), allowed["lang"])
    _check("province", changes.get("province", ""), [p["code"] for p in allowed["province"]])
    _check("wall", changes.get("wall", ""), [w["id"] for w in allowed["wall"]])
    before, after = await Prefs(services(request).store).change(user_id, **changes)
    if before != after:
        await audited(request, ACTION, f"user:{who.name}", before.public(), after.public())
    return JSONResponse({**after.public(), "choices": allowed})


def routes() -> list[Route]:
    return [
        route("/api/me/prefs", get_prefs, roles=ANY_USER, methods=["GET"]),
        route("/api/me/prefs", put_prefs, roles=ANY_USER, methods=["PUT"]),
    ]
