"""Log in, log out, who am I, change my own password."""
from __future__ import annotations

from pydantic import Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from iocwall.wall.access import ALL, ANY_USER, PUBLIC, Principal, route
from iocwall.wall.api.common import Body, audited, caller, client_address, read_body, services
from iocwall.wall.audit import AuditAction
from iocwall.wall.errors import ApiError, error_body


class LoginBody(Body):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class PasswordBody(Body):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


async def login(request: Request) -> Response:
    svc = services(request)
    body = await read_body(request, LoginBody)
    address = client_address(request)
    wait = svc.limiter.retry_after(body.username, address)
    if wait is not None:
        return JSONResponse(error_body("rate_limited", f"too many failed logins; try again in "
                                       f"{wait} s / đăng nhập sai quá nhiều lần, thử lại sau "
                                       f"{wait} giây"), status_code=429,
                            headers={"Retry-After": str(wait)})
    user = await svc.users.authenticate(body.username, body.password)
    if user is None:
        svc.limiter.failed(body.username, address)
        await svc.audit.record(body.username.strip().lower()[:64], AuditAction.LOGIN_FAILED,
                               f"user:{body.username.strip().lower()[:64]}", None,
                               {"reason": "bad_credentials"}, address)
        raise ApiError(401, "bad_credentials",
                       "wrong username or password / sai tên đăng nhập hoặc mật khẩu")
    svc.limiter.succeeded(body.username)
    old = request.state.session_id
    if old:
        await svc.sessions.revoke(old)     # a fresh id on every login (no session fixation)
    _, cookie = await svc.sessions.create(user.id, address)
    who = Principal(user.username, user.role, user.unit, user.id)
    await svc.audit.record(who, AuditAction.LOGIN, f"user:{user.username}", None, None, address)
    response = JSONResponse({"user": user.username, "role": user.role.value, "unit": user.unit,
                             "display_name": user.display_name})
    spec = svc.sessions.cookie
    response.set_cookie(spec.name, cookie, max_age=spec.max_age, path="/", httponly=True,
                        samesite="lax", secure=spec.secure)
    return response


async def logout(request: Request) -> Response:
    svc = services(request)
    sid = request.state.session_id
    if sid:
        await svc.sessions.revoke(sid)
        await audited(request, AuditAction.LOGOUT, f"user:{caller(request).name}")
    response = JSONResponse({"ok": True})
    response.delete_cookie(svc.sessions.cookie.name, path="/", httponly=True, samesite="lax",
                           secure=svc.sessions.cookie.secure)
    return response


async def me(request: Request) -> Response:
    who = caller(request)
    body = {"user": who.name, "role": who.role.value, "unit": who.unit, "via": who.via,
            "display_name": ""}
    if who.user_id is not None:
        user = await services(request).users.get(who.user_id)
        body["display_name"] = user.display_name if user else ""
    return JSONResponse(body)


async def change_own_password(request: Request) -> Response:
    svc = services(request)
    who = caller(request)
    if who.user_id is None:
        raise ApiError(400, "not_a_user", "tokens have no password / mã truy cập không có "
                       "mật khẩu")
    body = await read_body(request, PasswordBody)
    if await svc.users.authenticate(who.name, body.current_password) is None:
        raise ApiError(403, "bad_credentials", "current password is wrong / mật khẩu hiện tại "
                       "sai", "current_password")
    await svc.users.set_password(who.user_id, body.new_password)
    ended = await svc.sessions.revoke_user(who.user_id, keep=request.state.session_id)
    await audited(request, AuditAction.USER_PASSWORD, f"user:{who.name}", None,
                  {"sessions_ended": ended})
    return JSONResponse({"ok": True})


def routes() -> list[Route]:
    return [
        route("/api/login", login, roles=PUBLIC, methods=["POST"]),
        route("/api/logout", logout, roles=ALL, methods=["POST"]),
        route("/api/me", me, roles=ALL, methods=["GET"]),
        route("/api/me/password", change_own_password, roles=ANY_USER, methods=["POST"]),
    ]
