"""Helpers every API module uses: the services, the client address, JSON bodies, audit.

Bodies and numbers go through ``wall.http`` (size, depth and int64 bounds).
"""
from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.requests import Request

from iocwall.wall.access import Principal, principal_of
from iocwall.wall.audit import AuditAction
from iocwall.wall.errors import ApiError
from iocwall.wall.http.body import read_json
from iocwall.wall.http.params import query_int
from iocwall.wall.services import Services

__all__ = ["Body", "audited", "caller", "client_address", "query_int", "read_body",
           "services"]

M = TypeVar("M", bound=BaseModel)


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
    """The JSON body (see ``wall.http.body.read_json``) parsed into ``model``;
    400 for bad JSON, 422 naming the bad field."""
    data = await read_json(request)
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


async def audited(request: Request, action: AuditAction | str, target: str,
                  before: dict[str, Any] | None = None,
                  after: dict[str, Any] | None = None) -> None:
    """Record a state change made by the caller of ``request``."""
    await services(request).audit.record(caller(request), action, target, before, after,
                                         client_address(request))
