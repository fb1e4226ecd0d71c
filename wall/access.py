"""Who may call what: roles, the principal of a request, and guarded routes.

Every API route is built with ``route(path, endpoint, roles=...)``. The roles
are stored on the route (``route.roles``) so a test can enumerate all routes
and prove each protected one refuses an anonymous request. ``PUBLIC`` marks
the few routes that need no login (``/healthz``, ``/api/login``).
"""
from __future__ import annotations

import enum
import functools
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from iocwall.wall.errors import ApiError


class Role(str, enum.Enum):
    ADMIN = "admin"
    OPERATOR = "operator"
    LEADER = "leader"
    REGISTRAR = "registrar"      # scoped to one province (Principal.unit)
    TECHNICIAN = "technician"
    DISPLAY = "display"          # a display node, authenticated by its token


PUBLIC: frozenset[Role] = frozenset()
ANY_USER: frozenset[Role] = frozenset(r for r in Role if r is not Role.DISPLAY)
ALL: frozenset[Role] = frozenset(Role)


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of a request."""
    name: str
    role: Role
    unit: str = ""               # province code for registrars, "" otherwise
    user_id: int | None = None
    via: str = "session"         # "session" or "token"


Endpoint = Callable[[Request], Awaitable[Response]]


def principal_of(request: Request) -> Principal | None:
    return getattr(request.state, "principal", None)


def require(request: Request, roles: Iterable[Role]) -> Principal:
    """The caller, if allowed; raises 401 (no login) or 403 (wrong role)."""
    who = principal_of(request)
    if who is None:
        raise ApiError(401, "unauthenticated", "log in first / hãy đăng nhập")
    if who.role not in set(roles):
        raise ApiError(403, "forbidden",
                       f"role '{who.role.value}' may not do this / không có quyền")
    return who


def route(path: str, endpoint: Endpoint, *, roles: Iterable[Role],
          methods: list[str] | None = None, name: str | None = None) -> Route:
    """A Starlette route whose endpoint checks the caller's role before running."""
    allowed = frozenset(roles)

    @functools.wraps(endpoint)
    async def guarded(request: Request) -> Response:
        if allowed:
            require(request, allowed)
        return await endpoint(request)

    built = Route(path, guarded, methods=methods, name=name)
    built.roles = allowed  # type: ignore[attr-defined]
    return built
