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
from iocwall.wall.http.body import JSON_TYPE, check_content_type
from iocwall.wall.http.params import Int64Convertor  # noqa: F401  (registers "int64")


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


def require_person(request: Request) -> Principal:
    """The caller, if a person logged in with a password; 403 for bearer tokens.

    Tokens may not mint tokens or create and change accounts: a leaked token must not
    be able to make itself permanent (a new token, a new admin, a reset password).
    """
    who = principal_of(request)
    if who is None:
        raise ApiError(401, "unauthenticated", "log in first / hãy đăng nhập")
    if who.via == "token":
        raise ApiError(403, "needs_person", "a token may not do this; log in as a person "
                       "/ mã truy cập không được làm việc này, hãy đăng nhập")
    return who


def route(path: str, endpoint: Endpoint, *, roles: Iterable[Role],
          methods: list[str] | None = None, name: str | None = None,
          accepts: str = JSON_TYPE) -> Route:
    """A Starlette route whose endpoint checks the caller's role before running.

    accepts: the only body type its state-changing requests may send (415 otherwise).
    ``{id:int}`` in ``path`` is matched as ``{id:int64}``: an id SQLite can hold.
    """
    allowed = frozenset(roles)

    @functools.wraps(endpoint)
    async def guarded(request: Request) -> Response:
        if allowed:
            require(request, allowed)
        check_content_type(request, accepts)
        return await endpoint(request)

    built = Route(path.replace(":int}", ":int64}"), guarded, methods=methods, name=name)
    built.roles = allowed  # type: ignore[attr-defined]
    built.accepts = accepts  # type: ignore[attr-defined]
    return built
