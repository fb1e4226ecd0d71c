"""The web app: the route table, the request guards, JSON errors, static frontend.

    app = build_app(services, extra_routes=[route("/live", live_page, roles=PUBLIC)])

The server's routes are listed in one place, wall/routes.py. ``extra_routes`` is
where a caller adds its own (the demo's pages, a test's probe); they come after the
table and before the static files. Build them with ``iocwall.wall.access.route`` so
that their roles are declared and tested, their path ids fit int64 and their bodies
are JSON (see wall/http/).
"""
from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect
from starlette.routing import BaseRoute

from iocwall.wall.auth import AuthMiddleware
from iocwall.wall.auth.proxies import TrustedProxies
from iocwall.wall.errors import (
    ApiError,
    MiddlewareApiErrors,
    api_error_handler,
    client_gone_handler,
    http_error_handler,
    server_error_handler,
)
from iocwall.wall.frontend import frontend_dir as default_frontend_dir
from iocwall.wall.http.body import BodyLimitMiddleware
from iocwall.wall.http.headers import SecurityHeadersMiddleware, security_headers
from iocwall.wall.http.hosts import HostCheckMiddleware, HostPolicy
from iocwall.wall.http.static import static_route
from iocwall.wall.routes import route_table
from iocwall.wall.services import Services
from iocwall.wall.walls.session import DisplaySessionMiddleware


def build_app(services: Services, extra_routes: Sequence[BaseRoute] = (),
              frontend_dir: Path | None = None) -> Starlette:
    """The ASGI app for ``services``.

    services: the process's Services; started by the lifespan if not started yet
        (and then also stopped by it), otherwise left to its owner.
    extra_routes: more routes, after the route table (wall/routes.py) and before the
        static files.
    frontend_dir: folder behind /static (its allow-list: wall/http/static.py);
        default: frontend/. The pages themselves come from wall/pages.py.
    """
    frontend = frontend_dir or default_frontend_dir()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        owned = not services.started
        if owned:
            await services.start()
        try:
            yield
        finally:
            if owned:
                await services.stop()

    server = services.config.server
    routes: list[BaseRoute] = [*route_table(services), *extra_routes, static_route(frontend)]
    app = Starlette(
        routes=routes,
        # Outermost first: every response gets the headers, a foreign Host or an
        # oversized body is refused before anyone looks at the request.
        middleware=[Middleware(SecurityHeadersMiddleware, https=server.https),
                    Middleware(HostCheckMiddleware, policy=HostPolicy(server)),
                    Middleware(BodyLimitMiddleware, limit=server.max_body_bytes),
                    Middleware(TrustedProxies, proxies=server.trusted_proxies),
                    Middleware(MiddlewareApiErrors),     # e.g. store down at session lookup
                    Middleware(AuthMiddleware, services=services),
                    Middleware(DisplaySessionMiddleware, services=services)],
        exception_handlers={ApiError: api_error_handler, HTTPException: http_error_handler,
                            ClientDisconnect: client_gone_handler,
                            Exception: server_error_handler},
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.security_headers = security_headers(server.https)    # for 500s: wall/errors.py
    return app
