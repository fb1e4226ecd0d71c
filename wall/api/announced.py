"""Routes whose writes must be announced on the bus: refused while the bus is down.

    route(path, announced(push_layout), roles=PUSH, methods=["PUT"])

The check runs before the endpoint reads its body or touches the store, so a refused
request changed nothing (see wall/bus/errors.py for why such writes are refused).
Reads, logins and writes that nobody else must hear of are not wrapped: they keep
working while Redis is down.
"""
from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from iocwall.wall.api.common import services
from iocwall.wall.bus.errors import require_bus

Endpoint = Callable[[Request], Awaitable[Response]]


def announced(endpoint: Endpoint) -> Endpoint:
    """``endpoint`` behind a bus check (for state-changing methods only)."""
    @functools.wraps(endpoint)
    async def checked(request: Request) -> Response:
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            await require_bus(services(request).bus)
        return await endpoint(request)
    checked.announced = True  # type: ignore[attr-defined]
    return checked
