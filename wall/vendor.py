"""Third-party front-end files, served from frontend/node_modules through an allow-list.

Only the files named here are reachable (npm installs them at set-up; nothing is
downloaded at run time), at ``/static/vendor/<name>``; this route is matched
before the /static mount.
"""
from __future__ import annotations

from pathlib import Path

from iocwall.wall.access import PUBLIC, route
from iocwall.wall.errors import ApiError
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

NODE_MODULES = Path(__file__).resolve().parent.parent / "frontend" / "node_modules"
ALLOWED = {
    "uPlot.esm.js": ("uplot/dist/uPlot.esm.js", "text/javascript; charset=utf-8"),
    "uPlot.min.css": ("uplot/dist/uPlot.min.css", "text/css; charset=utf-8"),
}


async def vendor_file(request: Request) -> Response:
    name = request.path_params["name"]
    entry = ALLOWED.get(name)
    if entry is None:
        raise ApiError(404, "not_found", f"no vendored file '{name}'")
    path = NODE_MODULES / entry[0]
    if not path.is_file():
        raise ApiError(404, "not_found", f"{entry[0]} is not installed: run `make` (npm install)")
    return FileResponse(path, media_type=entry[1],
                        headers={"Cache-Control": "public, max-age=86400"})


def routes() -> list[Route]:
    return [route("/static/vendor/{name}", vendor_file, roles=PUBLIC, methods=["GET"])]
