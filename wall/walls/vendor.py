"""Third-party front-end files from npm (frontend/node_modules), served by an allow-list.

Only the built files named here are reachable, so nothing else in node_modules
(sources, package metadata) is ever served. Pages work offline: npm installs the
packages at install time (frontend/package.json), nothing is fetched at run time.
"""
from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from iocwall.wall.access import PUBLIC, route
from iocwall.wall.errors import ApiError
from iocwall.wall.pages import FRONTEND

ALLOWED: dict[tuple[str, str], str] = {
    ("gridstack", "gridstack-all.js"): "gridstack/dist/gridstack-all.js",
    ("gridstack", "gridstack.min.css"): "gridstack/dist/gridstack.min.css",
}
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


def routes(frontend: Path = FRONTEND) -> list[Route]:
    modules = frontend / "node_modules"

    async def vendor(request: Request) -> Response:
        key = (request.path_params["package"], request.path_params["file"])
        relative = ALLOWED.get(key)
        path = modules / relative if relative else None
        if path is None or not path.is_file():
            raise ApiError(404, "not_found", "no such vendored file (run make / npm install)")
        return FileResponse(path, media_type=TYPES[path.suffix],
                            headers={"Cache-Control": "public, max-age=3600",
                                     "X-Content-Type-Options": "nosniff"})

    return [route("/vendor/{package}/{file}", vendor, roles=PUBLIC, methods=["GET"],
                  name="vendor")]
