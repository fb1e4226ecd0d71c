"""``/static/<name>``: only the files pages need, never the rest of ``frontend/``.

Served to anyone (the login page needs its script and style before a login):
- our own files at the top of ``frontend/`` whose suffix is in ``SUFFIXES``
  (scripts, styles, images, fonts). HTML is not served here: each page has its
  own route in ``wall/pages.py``, which asks for a login where needed.
- vendored npm files at ``/static/vendor/<name>``, each listed in ``VENDORED``
  (URL name -> path inside ``frontend/node_modules``). Adding a library is one line::

      VENDORED = {"echarts.min.js": "echarts/dist/echarts.min.js"}

  and ``<script src="/static/vendor/echarts.min.js">`` in the page.

Everything else (``package.json``, lock files, the rest of ``node_modules``, dot
files, sub-folders, source maps) is a 404, exactly like a file that does not exist.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from iocwall.wall.access import PUBLIC, route
from iocwall.wall.errors import ApiError

SUFFIXES = frozenset({".js", ".mjs", ".css", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp",
                      ".ico", ".woff", ".woff2", ".ttf", ".otf"})
# URL name under /static/vendor/ -> file inside frontend/node_modules (installed by npm).
VENDORED: dict[str, str] = {
    "uPlot.esm.js": "uplot/dist/uPlot.esm.js",        # indicator sparklines
    "uPlot.min.css": "uplot/dist/uPlot.min.css",
    "gridstack-all.js": "gridstack/dist/gridstack-all.js",   # the console's drag and drop
    "gridstack.min.css": "gridstack/dist/gridstack.min.css",
}

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def resolve(frontend: Path, vendored: Mapping[str, str], path: str) -> Path | None:
    """The file behind ``/static/<path>``, or None when it is not ours to serve."""
    folder, _, name = path.rpartition("/")
    if not _NAME.match(name):
        return None
    if folder == "vendor" and name in vendored:
        modules = (frontend / "node_modules").resolve()
        candidate = (modules / vendored[name]).resolve()
        return candidate if candidate.is_relative_to(modules) and candidate.is_file() else None
    if folder or Path(name).suffix.lower() not in SUFFIXES:
        return None
    top = frontend.resolve()
    candidate = (top / name).resolve()
    # A symlink out of frontend/ would widen the list behind our back.
    return candidate if candidate.parent == top and candidate.is_file() else None


def static_route(frontend: Path, vendored: Mapping[str, str] | None = None) -> Route:
    """The ``/static/{path}`` route over ``frontend`` (default list: ``VENDORED``)."""
    listed = dict(VENDORED if vendored is None else vendored)

    async def static_file(request: Request) -> Response:
        found = resolve(frontend, listed, request.path_params["path"])
        if found is None:
            raise ApiError(404, "not_found", "no such file / không có tệp này")
        return FileResponse(found, headers={"Cache-Control": "no-cache"})

    return route("/static/{path:path}", static_file, roles=PUBLIC, methods=["GET"],
                 name="static")
