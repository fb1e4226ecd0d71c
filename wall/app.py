"""The web app: Starlette routes, the auth middleware, JSON errors, static frontend.

    app = build_app(services, extra_routes=[route("/live", live_page, roles=PUBLIC)])

``extra_routes`` is where other parts plug in their pages and APIs (the
/live page, media endpoints); they come before the static mount. Build them
with ``iocwall.wall.access.route`` so that their roles are declared and tested.
"""
from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from iocwall.wall.access import PUBLIC, route
from iocwall.wall.api import audit, health, session, tokens, users
from iocwall.wall.auth import AuthMiddleware
from iocwall.wall.errors import (ApiError, api_error_handler, http_error_handler,
                                 server_error_handler)
from iocwall.wall.services import Services
from iocwall.wall.walls.session import DisplaySessionMiddleware

FRONTEND_DIR = Path(__file__).resolve().parent.parent / "frontend"


def api_routes() -> list[BaseRoute]:
    return [*health.routes(), *session.routes(), *users.routes(), *tokens.routes(),
            *audit.routes()]


def build_app(services: Services, extra_routes: Sequence[BaseRoute] = (),
              frontend_dir: Path | None = None) -> Starlette:
    """The ASGI app for ``services``.

    services: the process's Services; started by the lifespan if not started yet
        (and then also stopped by it), otherwise left to its owner.
    extra_routes: more routes (pages, media APIs), matched before the static files.
    frontend_dir: folder served at /static (index.html also at /); default: frontend/.
    """
    frontend = frontend_dir or FRONTEND_DIR

    async def index(request: Request) -> Response:
        page = frontend / "index.html"
        if not page.is_file():
            raise HTTPException(404, "no frontend/index.html yet")
        return FileResponse(page)

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

    routes: list[BaseRoute] = [
        *api_routes(),
        *extra_routes,
        route("/", index, roles=PUBLIC, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=frontend, check_dir=False), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(AuthMiddleware, services=services),
                    Middleware(DisplaySessionMiddleware, services=services)],
        exception_handlers={ApiError: api_error_handler, HTTPException: http_error_handler,
                            Exception: server_error_handler},
        lifespan=lifespan,
    )
    app.state.services = services
    return app
