"""HTML pages of the console: ``/`` (home), ``/login``, ``/live``, ``/leader``, ``/register``,
``/zones`` (queue zones on a camera snapshot), ``/health`` (health board and alerts),
``/audit`` (the audit log, filtered and paged), ``/admin/users``, ``/admin/tokens``,
``/admin/displays``, ``/admin/outbox`` (notifications), ``/settings`` (My settings, in the user
menu); and ``/api/nav``, the pages the caller may open, read from this same route table
(``route.roles``, ``route.nav`` and ``route.menu``), with the caller's home and settings.

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
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from iocwall.wall.access import ANY_USER, PUBLIC, Role, principal_of, require, route
from iocwall.wall.api.audit import READERS as AUDIT_READERS
from iocwall.wall.frontend import frontend_dir
from iocwall.wall.prefs import Prefs, UserPrefs

LOGIN_PATH = "/login"
LEADER_VIEW = frozenset({Role.LEADER, Role.OPERATOR, Role.ADMIN})   # the indicators' readers
ADMIN_ONLY = frozenset({Role.ADMIN})
HEALTH_VIEW = frozenset({Role.ADMIN, Role.TECHNICIAN, Role.REGISTRAR})   # GET /api/health's

# Where each role lands after login (the page it uses most): the shell's home link and
# login's default target. Each is a page that role may open.
HOME_BY_ROLE: dict[Role, str] = {
    Role.ADMIN: "/", Role.OPERATOR: "/console", Role.REGISTRAR: "/register",
    Role.LEADER: "/leader", Role.TECHNICIAN: "/health",
}

# Security headers (CSP and the rest) come from wall/http/headers.py on every response.
_HEADERS = {"Cache-Control": "no-store"}

# The head every shell page shares, in one place: a page writes <!-- shell:head --> after its
# charset and gets the viewport, the icon, the common style sheet and the app shell (header,
# navigation, clock, language: frontend/shell.js).
SHELL_MARK = "<!-- shell:head -->"
SHELL_HEAD = (
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
    '  <link rel="icon" href="data:,">\n'
    '  <link rel="stylesheet" href="/static/style.css">\n'
    '  <script type="module" src="/static/shell.js"></script>'
)


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
        return HTMLResponse(html.replace(SHELL_MARK, SHELL_HEAD, 1), headers=_HEADERS)

    endpoint.__name__ = f"page_{filename.removesuffix('.html')}"
    return endpoint


def page_route(path: str, filename: str, roles: frozenset[Role], *, nav: str,
               frontend: Path, menu: bool = False) -> Route:
    """A logged-in page for ``roles``, listed in the navigation under the text key ``nav``
    (``menu``: in the user menu instead, e.g. My settings; never a landing page).

    Registered as PUBLIC for the role guard (the page answers an anonymous browser with a
    redirect to /login itself); ``route.roles`` then names the roles that really get it, which
    both tests/test_routes_roles.py and ``/api/nav`` read.
    """
    name = "page_" + filename.removesuffix(".html").replace("-", "_")
    built = route(path, _page(filename, login=roles, frontend=frontend), roles=PUBLIC,
                  methods=["GET"], name=name)
    built.roles = roles  # type: ignore[attr-defined]
    built.nav = nav  # type: ignore[attr-defined]
    built.menu = menu  # type: ignore[attr-defined]
    return built


# The order of the navigation (pages live in several modules' route lists).
NAV_ORDER = ("nav.home", "nav.live", "nav.console", "nav.leader", "nav.register", "nav.zones",
             "nav.health", "nav.users", "nav.tokens", "nav.displays", "nav.outbox", "nav.audit",
             "nav.settings")


def nav_entries(table: Iterable[BaseRoute], role: Role) -> list[dict[str, object]]:
    """The pages of ``table`` that ``role`` may open: ``{"path", "key", "menu"}``, in
    NAV_ORDER (``menu``: shown in the user menu, not the navigation bar)."""
    found: dict[str, dict[str, object]] = {}     # by path: the first route serving it wins
    for r in table:
        if (isinstance(r, Route) and getattr(r, "nav", None) and role in getattr(r, "roles", ())
                and r.path not in found):
            found[r.path] = {"path": r.path, "key": r.nav,  # type: ignore[attr-defined]
                             "menu": bool(getattr(r, "menu", False))}
    rank = {key: i for i, key in enumerate(NAV_ORDER)}
    return sorted(found.values(), key=lambda e: rank.get(str(e["key"]), len(rank)))


def landing_choices(table: Iterable[BaseRoute], role: Role) -> list[dict[str, str]]:
    """The pages ``role`` may land on after login: its navigation, without the menu pages."""
    return [{"path": str(e["path"]), "key": str(e["key"])}
            for e in nav_entries(table, role) if not e["menu"]]


def home_of(table: Iterable[BaseRoute], role: Role, prefs: UserPrefs) -> str:
    """The user's landing page if they chose one their role still opens, else the role's."""
    if prefs.landing and prefs.landing in {e["path"] for e in landing_choices(table, role)}:
        return prefs.landing
    return HOME_BY_ROLE.get(role, "/")


async def nav(request: Request) -> Response:
    """The caller, the pages they may open, their home page and their settings (language,
    default province and wall), for the app shell."""
    who = require(request, ANY_USER)
    mine = UserPrefs()
    if who.user_id is not None:
        mine = await Prefs(request.app.state.services.store).get(who.user_id)
    return JSONResponse({
        "user": who.name, "role": who.role.value, "unit": who.unit, "via": who.via,
        "home": home_of(request.app.routes, who.role, mine),
        "pages": nav_entries(request.app.routes, who.role),
        "prefs": mine.public(),
    })


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
    # /register: the camera registry; the API decides what each role may change there.
    readers = frozenset({Role.ADMIN, Role.OPERATOR, Role.REGISTRAR, Role.TECHNICIAN, Role.LEADER})
    # /zones: queue zones drawn on a snapshot; the zones API scopes registrars to their province.
    editors = frozenset({Role.ADMIN, Role.OPERATOR, Role.REGISTRAR})
    return [
        login,
        page_route("/", "index.html", ANY_USER, nav="nav.home", frontend=frontend),
        page_route("/live", "live.html", ANY_USER, nav="nav.live", frontend=frontend),
        page_route("/leader", "leader.html", LEADER_VIEW, nav="nav.leader", frontend=frontend),
        page_route("/register", "register.html", readers, nav="nav.register",
                   frontend=frontend),
        page_route("/zones", "zones.html", editors, nav="nav.zones", frontend=frontend),
        # /health: the board, availability and alerts; the API scopes a registrar to its province
        page_route("/health", "health.html", HEALTH_VIEW, nav="nav.health", frontend=frontend),
        page_route("/admin/users", "users.html", ADMIN_ONLY, nav="nav.users",
                   frontend=frontend),
        page_route("/admin/tokens", "tokens.html", ADMIN_ONLY, nav="nav.tokens",
                   frontend=frontend),
        page_route("/admin/displays", "displays.html", ADMIN_ONLY, nav="nav.displays",
                   frontend=frontend),
        # /admin/outbox: notifications sent, pending and failed, with Resend (wall/notify/)
        page_route("/admin/outbox", "outbox.html", ADMIN_ONLY, nav="nav.outbox",
                   frontend=frontend),
        # /audit: the audit log's readers, the same roles as GET /api/audit
        page_route("/audit", "audit.html", frozenset(AUDIT_READERS), nav="nav.audit",
                   frontend=frontend),
        page_route("/settings", "settings.html", ANY_USER, nav="nav.settings", menu=True,
                   frontend=frontend),
        route("/api/nav", nav, roles=ANY_USER, methods=["GET"]),
    ]
