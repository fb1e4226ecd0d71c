"""Log in, log out, who am I, change my own password.

Both password checks go through the login limiter (counted before the check,
per (user, address) and per address) and the bounded argon2 pool; wrong and
refused attempts are audited. A failed login names the account only when it
exists, so a password typed into the name field never reaches the audit.
"""
from __future__ import annotations

import asyncio
import contextlib

from pydantic import Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from iocwall.wall.access import ALL, ANY_USER, PUBLIC, Principal, route
from iocwall.wall.api.common import Body, audited, caller, client_address, read_body, services
from iocwall.wall.audit import AuditAction
from iocwall.wall.auth.users import LoginCheck
from iocwall.wall.errors import ApiError, error_body
from iocwall.wall.services import Services

UNKNOWN_USER = "(unknown user)"


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
    wait = await svc.limiter.begin(body.username, address)
    if wait is not None:
        if folded := await svc.limiter.refusal_to_audit(address):
            known = await svc.users.by_name(body.username)
            name = known.username if known else UNKNOWN_USER
            await svc.audit.record(name, AuditAction.LOGIN_REFUSED, f"user:{name}", None,
                                   _refusal(wait, folded), address)
        return _too_many(wait)
    result = await _checked(svc, body.username, body.password, address)
    user = result.user
    if user is None:
        name = result.known_name or UNKNOWN_USER
        await svc.audit.record(name, AuditAction.LOGIN_FAILED, f"user:{name}", None,
                               {"reason": "bad_credentials"}, address)
        raise ApiError(401, "bad_credentials",
                       "wrong username or password / sai tên đăng nhập hoặc mật khẩu")
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


async def _checked(svc: Services, username: str, password: str, address: str) -> LoginCheck:
    """Check a password that the limiter let through, and tell the limiter how it went."""
    try:
        result = await svc.users.check(username, password)
    except BaseException:
        # busy (503) or cancelled: not a guess. Shielded: a cancelled request still gives
        # its attempt back (else the key stays held until PENDING_TTL_S); a store that
        # failed too must not hide the first error.
        with contextlib.suppress(Exception):
            await asyncio.shield(svc.limiter.abandon(username, address))
        raise
    await svc.limiter.finish(username, address, ok=result.user is not None)
    return result


def _refusal(wait: int, folded: int) -> dict[str, object]:
    return {"reason": "rate_limited", "retry_after_s": wait, "refused": folded}


def _too_many(wait: int) -> Response:
    return JSONResponse(error_body("rate_limited", f"too many failed attempts; try again in "
                                   f"{wait} s / sai quá nhiều lần, thử lại sau {wait} giây"),
                        status_code=429, headers={"Retry-After": str(wait)})


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
    address = client_address(request)
    wait = await svc.limiter.begin(who.name, address)
    if wait is not None:
        if folded := await svc.limiter.refusal_to_audit(address):
            await audited(request, AuditAction.USER_PASSWORD_REFUSED, f"user:{who.name}", None,
                          _refusal(wait, folded))
        return _too_many(wait)
    if (await _checked(svc, who.name, body.current_password, address)).user is None:
        await audited(request, AuditAction.USER_PASSWORD_FAILED, f"user:{who.name}", None,
                      {"reason": "bad_credentials"})
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
