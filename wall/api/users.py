"""Users: list, create, read, update (incl. disable), set password. Admin only."""
from __future__ import annotations

from pydantic import Field, field_validator
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from iocwall.wall.access import Role, require_person, route
from iocwall.wall.api.common import Body, audited, read_body, services
from iocwall.wall.audit import AuditAction
from iocwall.wall.errors import ApiError
from iocwall.wall.registry.validation import province_code
from iocwall.wall.text import Name, OptionalName

ADMIN = {Role.ADMIN}


class NewUser(Body):
    username: Name = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    role: Role
    unit: str = Field("", max_length=16)
    province: str = Field("", max_length=100, description="a registrar's province (name or "
                          "code, one of the 34 units): stored as its unit code")
    display_name: Name = Field("", max_length=200)
    email: str = Field("", max_length=320, description="where notifications go")
    phone: str = Field("", max_length=32, description="for SMS notifications")

    @field_validator("province")
    @classmethod
    def _province(cls, value: str) -> str:
        return province_code(value) if value.strip() else ""


class UserChange(Body):
    role: Role | None = None
    unit: str | None = Field(None, max_length=16)
    province: str | None = Field(None, max_length=100, description="a registrar's province "
                                 "(name or code, one of the 34 units): stored as its unit code")
    display_name: OptionalName = Field(None, max_length=200)
    disabled: bool | None = None
    email: str | None = Field(None, max_length=320)
    phone: str | None = Field(None, max_length=32)

    @field_validator("province")
    @classmethod
    def _province(cls, value: str | None) -> str | None:
        return province_code(value) if value is not None and value.strip() else value


class NewPassword(Body):
    password: str = Field(min_length=1, max_length=1024)


async def list_users(request: Request) -> Response:
    users = await services(request).users.list()
    return JSONResponse({"users": [u.public() for u in users]})


async def create_user(request: Request) -> Response:
    require_person(request)
    body = await read_body(request, NewUser)
    if body.province and body.unit and body.unit.strip().upper() != body.province:
        raise ApiError(422, "invalid", "unit and province disagree / mã tỉnh không khớp", "unit")
    user = await services(request).users.create(body.username, body.password, body.role,
                                                 body.province or body.unit, body.display_name,
                                                 email=body.email, phone=body.phone)
    await audited(request, AuditAction.USER_CREATE, f"user:{user.username}", None,
                  user.summary())
    return JSONResponse(user.public(), status_code=201)


async def get_user(request: Request) -> Response:
    user = await services(request).users.require(request.path_params["user_id"])
    return JSONResponse(user.public())


async def update_user(request: Request) -> Response:
    require_person(request)
    svc = services(request)
    body = await read_body(request, UserChange)
    if body.province and body.unit and body.unit.strip().upper() != body.province:
        raise ApiError(422, "invalid", "unit and province disagree / mã tỉnh không khớp", "unit")
    before = await svc.users.require(request.path_params["user_id"])
    unit = body.province if body.province is not None else body.unit
    after = await svc.users.update(before.id, role=body.role, unit=unit,
                                   display_name=body.display_name, disabled=body.disabled,
                                   email=body.email, phone=body.phone)
    if after.disabled and not before.disabled:
        action = AuditAction.USER_DISABLE
        await svc.sessions.revoke_user(after.id)      # a disabled user is out at once
    elif before.disabled and not after.disabled:
        action = AuditAction.USER_ENABLE
    else:
        action = AuditAction.USER_UPDATE
    await audited(request, action, f"user:{after.username}", before.summary(), after.summary())
    return JSONResponse(after.public())


async def set_password(request: Request) -> Response:
    require_person(request)
    svc = services(request)
    body = await read_body(request, NewPassword)
    user = await svc.users.set_password(request.path_params["user_id"], body.password)
    ended = await svc.sessions.revoke_user(user.id)
    # The audit says that it changed, never what to.
    await audited(request, AuditAction.USER_PASSWORD, f"user:{user.username}", None,
                  {"sessions_ended": ended})
    return JSONResponse({"ok": True})


def routes() -> list[Route]:
    return [
        route("/api/users", list_users, roles=ADMIN, methods=["GET"]),
        route("/api/users", create_user, roles=ADMIN, methods=["POST"]),
        route("/api/users/{user_id:int}", get_user, roles=ADMIN, methods=["GET"]),
        route("/api/users/{user_id:int}", update_user, roles=ADMIN, methods=["PATCH"]),
        route("/api/users/{user_id:int}/password", set_password, roles=ADMIN, methods=["PUT"]),
    ]
