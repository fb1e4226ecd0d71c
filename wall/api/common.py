"""Helpers every API module uses: the services, the client address, JSON bodies, audit."""
from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.requests import Request

from iocwall.wall.access import Principal, principal_of
from iocwall.wall.audit import AuditAction
from iocwall.wall.errors import ApiError
from iocwall.wall.services import Services

M = TypeVar("M", bound=BaseModel)
MAX_BODY = 64 * 1024


class Body(BaseModel):
    """Base of request bodies: unknown fields are refused, like unknown config keys."""
    model_config = ConfigDict(extra="forbid", str_max_length=4096)


def services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def caller(request: Request) -> Principal:
    """The principal; routes built with access.route have already refused anonymous calls."""
    who = principal_of(request)
    if who is None:
        raise ApiError(401, "unauthenticated", "log in first / hãy đăng nhập")
    return who


async def read_body(request: Request, model: type[M]) -> M:
    """The JSON body parsed into ``model``; 400 for bad JSON, 422 naming the bad field."""
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise ApiError(413, "too_large", "request body too large / dữ liệu quá lớn")
    try:
        data = json.loads(raw or b"null")
    except ValueError:
        raise ApiError(400, "bad_json", "body is not valid JSON / dữ liệu không phải JSON") \
            from None
    if not isinstance(data, dict):
        raise ApiError(400, "bad_json", "body must be a JSON object / cần một đối tượng JSON")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            message = "unknown field / trường không hợp lệ"
        raise ApiError(422, "invalid", f"{field}: {message}" if field else message,
                       field) from None


def query_int(request: Request, name: str, default: int) -> int:
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ApiError(422, "invalid", f"{name} must be a whole number", name) from None


async def audited(request: Request, action: AuditAction | str, target: str,
                  before: dict[str, Any] | None = None,
                  after: dict[str, Any] | None = None) -> None:
    """Record a state change made by the caller of ``request``."""
    await services(request).audit.record(caller(request), action, target, before, after,
                                         client_address(request))
