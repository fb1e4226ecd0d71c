"""The route table: every page, API and socket the server answers, in one place.

Each entry is built with ``iocwall.wall.access.route`` (or ``websocket_route``), so it
declares its roles; tests/test_routes_roles.py walks this table and checks that every
protected route refuses anonymous callers and the roles it does not name. build_app
serves exactly this table (plus what a caller adds, e.g. the demo's pages), before
the static files.
"""
from __future__ import annotations

from starlette.routing import BaseRoute

from iocwall.wall import media_api, pages, replay_api, search
from iocwall.wall.access import Principal, Role
from iocwall.wall.api import allowed, audit, health, prefs, session, tokens, users
from iocwall.wall.cluster import api as cluster_api
from iocwall.wall.health import api as health_api
from iocwall.wall.indicators import api as indicators_api
from iocwall.wall.notify import api as notify_api
from iocwall.wall.registry import api as registry_api
from iocwall.wall.services import Services
from iocwall.wall.walls import api as wall_api
from iocwall.wall.walls import replay_push
from iocwall.wall.walls import ws as wall_ws
from iocwall.wall.zones import api as zones_api
from iocwall.wall.zones import queues


def route_table(services: Services) -> list[BaseRoute]:
    """The server's routes for ``services`` (the media routes only when it has media)."""
    def analytics_metrics() -> str:
        analytics = services.analytics
        return analytics.metrics_text() if analytics is not None else ""  # type: ignore[attr-defined]

    access = camera_access(services)
    media = services.media
    exporters = [Role(r) for r in services.config.replay.export_roles]
    media_routes = ([*media_api.routes(media, access, analytics_metrics),
                     *replay_api.routes(media, access, exporters)]
                    if media is not None else [])
    return [
        # accounts, sessions, audit, health
        *health.routes(), *session.routes(), *prefs.routes(), *users.routes(), *tokens.routes(),
        *audit.routes(), *search.routes(), *notify_api.routes(), *allowed.routes(),
        *health_api.routes(), *cluster_api.routes(),
        # pages, registry, media, indicators, walls, queues and zones
        *pages.routes(), *registry_api.routes(), *media_routes, *indicators_api.routes(),
        *wall_api.routes(), *replay_push.routes(), *wall_ws.routes(),
        *queues.routes(services.queues, counts_access(services)),
        *zones_api.routes(access),
    ]


def camera_access(services: Services) -> media_api.CameraAccess:
    """A display session may open only the cameras on its layouts (walls decide)."""
    async def allowed(principal: Principal | None, camera: str) -> bool:
        return services.wall is None or await services.wall.camera_allowed(principal, camera)
    return allowed


def counts_access(services: Services) -> media_api.CameraAccess:
    """A display session reads only the queue counts its layouts show (walls decide)."""
    async def allowed(principal: Principal | None, camera: str) -> bool:
        return services.wall is None or await services.wall.counts_allowed(principal, camera)
    return allowed
