"""HTML pages of the console: ``/`` (home), ``/login``, ``/live``, ``/leader``, ``/register``,
``/zones`` (queue zones on a camera snapshot), ``/audit`` (the audit log, filtered and paged).

The pages are static files in ``frontend/``; their data comes from the JSON
API, which does its own role checks. A page that needs a login redirects an
anonymous browser to ``/login?next=<page>`` instead of answering with a JSON
401, because a person, not a script, is on the other end.

Wiring (by the web app): ``build_app(services, extra_routes=pages.routes())``.
"""
from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from iocwall.wall.access import ANY_USER, PUBLIC, Role, principal_of, require, route
from iocwall.wall.api.audit import READERS as AUDIT_READERS
from iocwall.wall.frontend import frontend_dir

LOGIN_PATH = "/login"
LEADER_VIEW = frozenset({Role.LEADER, Role.OPERATOR, Role.ADMIN})   # the indicators' readers

# Security headers (CSP and the rest) come from wall/http/headers.py on every response.
_HEADERS = {"Cache-Control": "no-store"}


def login_redirect(request: Request) -> RedirectResponse:
    """303 to the login page, coming back to this page (path and query) afterwards."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{LOGIN_PATH}?next={quote(target, safe='/')}", status_code=303)


def _wants_html(request: Request) -> bool:
    """A browser navigating (Accept lists text/html), not a script or API client."""
    return "text/html" in request.headers.get("accept", "")


def _page(filename: str, *, login: Iterable[Role] | None, frontend: Path):
    """An endpoint serving one HTML file, optionally only to logged-in roles."""
    path = frontend / filename
    allowed = frozenset(login) if login is not None else None

    async def endpoint(request: Request) -> Response:
        if allowed is not None:
            who = principal_of(request)
            if who is None and not _wants_html(request):
                require(request, allowed)            # scripts get the API's JSON 401
            if who is None:
                return login_redirect(request)
            if who.role not in allowed:
                return HTMLResponse(
                    "<!doctype html><meta charset=utf-8><title>403</title>"
                    "<p>Không có quyền xem trang này. / You may not view this page.</p>"
                    '<p><a href="/">iocwall</a></p>',
                    status_code=403, headers=_HEADERS,
                )
        try:
            html = await asyncio.to_thread(path.read_text, encoding="utf-8")
        except OSError:
            return HTMLResponse(
                "<!doctype html><meta charset=utf-8>"
                f"<p>{filename}: missing from the installation</p>",
                status_code=500, headers=_HEADERS,
            )
        return HTMLResponse(html, headers=_HEADERS)

    endpoint.__name__ = f"page_{filename.removesuffix('.html')}"
    return endpoint


def routes(frontend: Path | None = None) -> list[Route]:
    """Page routes for the web app. Every page but ``/login`` needs a login.

    ``/`` and ``/live`` are registered with ``roles=PUBLIC`` for the role guard and checks the
    login itself: an anonymous browser (Accept: text/html) gets a 303 to
    ``/login?next=/live``, any other anonymous client the API's JSON 401, a
    logged-in role outside ``route.roles`` a 403. ``route.roles`` is set to the
    roles that really get each page, so role-enumerating tests cover it.
    """
    frontend = frontend or frontend_dir()
    login = route(LOGIN_PATH, _page("login.html", login=None, frontend=frontend),
                  roles=PUBLIC, methods=["GET"], name="page_login")
    live = route("/live", _page("live.html", login=ANY_USER, frontend=frontend),
                 roles=PUBLIC, methods=["GET"], name="page_live")
    live.roles = ANY_USER  # type: ignore[attr-defined]
    home = route("/", _page("index.html", login=ANY_USER, frontend=frontend),
                 roles=PUBLIC, methods=["GET"], name="page_home")
    home.roles = ANY_USER  # type: ignore[attr-defined]
    leader = route("/leader", _page("leader.html", login=LEADER_VIEW, frontend=frontend),
                   roles=PUBLIC, methods=["GET"], name="page_leader")
    leader.roles = LEADER_VIEW  # type: ignore[attr-defined]
    # /register: the camera registry; the API decides what each role may change there.
    readers = frozenset({Role.ADMIN, Role.OPERATOR, Role.REGISTRAR, Role.TECHNICIAN, Role.LEADER})
    register = route("/register", _page("register.html", login=readers, frontend=frontend),
                     roles=PUBLIC, methods=["GET"], name="page_register")
    register.roles = readers  # type: ignore[attr-defined]
    # /zones: queue zones drawn on a snapshot; the zones API scopes registrars to their province.
    editors = frozenset({Role.ADMIN, Role.OPERATOR, Role.REGISTRAR})
    zones = route("/zones", _page("zones.html", login=editors, frontend=frontend),
                  roles=PUBLIC, methods=["GET"], name="page_zones")
    zones.roles = editors  # type: ignore[attr-defined]
    # /audit: the audit log's readers, the same roles as GET /api/audit
    auditors = frozenset(AUDIT_READERS)
    audit = route("/audit", _page("audit.html", login=auditors, frontend=frontend),
                  roles=PUBLIC, methods=["GET"], name="page_audit")
    audit.roles = auditors  # type: ignore[attr-defined]
    return [login, live, home, leader, register, zones, audit]
