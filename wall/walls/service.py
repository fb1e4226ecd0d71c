"""Everything the wall part holds in one process: store, controller, pairing, alarms.

Created and stopped by ``Services`` (wall/services.py); the routes reach it as
``services.wall``.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from iocwall.layouts import Size
from iocwall.wall.access import Principal, Role
from iocwall.wall.auth import LoginLimiter, session_secret
from iocwall.wall.health.alerts import AlertBook
from iocwall.wall.walls.alarms import AlarmEngine
from iocwall.wall.walls.controller import WallController
from iocwall.wall.walls.pairing import TOKEN_LABEL, Pairing, node_of
from iocwall.wall.walls.store import WallStore

if TYPE_CHECKING:                   # services.py creates this service and imports this module
    from iocwall.wall.services import Services

DEMO_WALL = "demo"
DEMO_NODE = "demo"
log = logging.getLogger(__name__)


class WallService:
    def __init__(self, services: Services) -> None:
        """``services``: the process's Services, already started up to the bus."""
        self._services = services
        self.config = services.config.wall
        self.walls = WallStore(services.store)
        self.controller = WallController(self.walls, services.bus,
                                         self.config.heartbeat_timeout_s)
        self.alarms = AlarmEngine(services.store, services.bus, self.controller,
                                  services.audit, services.config.replay.pre_alarm_seconds,
                                  services.leadership)
        self.pairing: Pairing | None = None
        self._alerts = AlertBook(services.store, 0.0)    # read only: the open health alerts
        # Anonymous pairing starts, per address: every start counts (the login limiter's
        # counting and doubling block, with the "name" fixed).
        self.pair_limiter = LoginLimiter(services.store, self.config.pair_per_address,
                                         self.config.pair_per_address, self.config.pair_window_s,
                                         max_block_s=self.config.pair_window_s * 16,
                                         scope="pair")

    async def start(self) -> None:
        secret = await session_secret(self._services.config.auth, self._services.config.data_path)
        self.pairing = Pairing(self._services.store, self.walls, self._services.tokens, secret,
                               self.config.pair_ttl_s, self.config.pair_max_open)
        self.controller.alarm_state = self.alarm_state
        self.controller.revoked = self._end_display_viewers
        self.controller.stream_sizes = self.stream_sizes
        await self.controller.start()
        await self.alarms.start()
        await self.ensure_demo()

    async def alarm_state(self, wall: str) -> list[dict[str, Any]]:
        """What a display's alarms tiles show when it (re)connects or gets a layout: the
        wall's open queue alarms and the open health alerts, in the live messages' shape."""
        shown = [{**a, "alarm": a["id"], "state": "raised"}
                 for a in await self.alarms.open_alarms(wall)]
        # from the store, not this process's health service: the alert rules may run on
        # another controller (the leader), and an ack anywhere must show here at once
        for alert in await self._alerts.open_now():
            shown.append({"alert": alert.id, "state": alert.state, "rule": alert.rule,
                          "severity": alert.severity, "name": alert.title_vi,
                          "name_en": alert.title_en, "subject": alert.subject})
        return shown

    async def watched_nodes(self) -> set[str]:
        """Display nodes the health board keeps showing when they vanish: the paired ones
        (approved, not revoked) and the demo's open display."""
        paired = {n["node"] for n in await self.pairing.nodes()} if self.pairing else set()
        return paired | ({DEMO_NODE} if self.config.demo_open_display else set())

    async def ensure_demo(self) -> None:
        """The demo wall, once the demo's cameras exist (they arrive through the registry)."""
        if self.config.demo_open_display:
            from iocwall.wall.walls.demo import ensure_demo_wall
            await ensure_demo_wall(self.walls, sorted(await self.camera_ids()))

    async def stop(self) -> None:
        await self.alarms.stop()
        await self.controller.stop()

    async def revoke_display(self, node: str) -> dict[str, int] | None:
        """Revoke display ``node``: token and sessions (one transaction), then its open
        WebSockets and WHEP viewers. None if there is no such node; else what was ended."""
        assert self.pairing is not None
        if not await self.pairing.revoke(node):
            return None
        await self.controller.disconnect(node)     # other controllers end theirs on the bus
        return {"viewers_ended": await self._end_display_viewers(node)}

    async def _end_display_viewers(self, node: str) -> int:
        return await self._end_viewers({f"display:{node}", f"token:{TOKEN_LABEL}{node}"})

    async def _end_viewers(self, users: set[str]) -> int:
        media = self._services.media
        if media is None:
            return 0
        ended = 0
        for ref in await media.session_refs():
            if ref.user in users:
                try:
                    ended += bool(await media.whep_delete(ref.id))
                except Exception as exc:    # one media node down must not stop the revoke
                    log.warning("viewer %s not ended: %s", ref.id, exc)
        return ended

    async def camera_ids(self) -> set[str]:
        media = self._services.media
        return {c.id for c in await media.cameras()} if media is not None else set()

    async def cameras_shown(self) -> set[str]:
        """Every camera some monitor's current layout shows (the registry's "on the wall")."""
        shown: set[str] = set()
        for wall in await self.walls.walls():
            for monitor in wall.monitors:
                layout = await self.walls.layout(wall.id, monitor.id)
                if layout is not None:
                    shown |= set(layout.cameras())
        return shown

    def stream_sizes(self, camera_id: str) -> dict[str, Size]:
        """The camera's streams and their sizes as the media server knows them (0x0: not
        pulled yet), for the controller's stream choice."""
        media = self._services.media
        # the contract's one synchronous read (stream choice runs inside a sync diff)
        known = media.known_cameras() if media is not None else []
        cam = next((c for c in known if c.id == camera_id), None)
        if cam is None:
            return {}
        return {name: Size(h.width, h.height) for name, h in cam.streams.items()}

    async def display_monitors(self, who: Principal | None) -> set[tuple[str, str]]:
        """(wall, monitor) pairs a display principal is bound to."""
        node = node_of(who)
        if node is None:
            return set()
        if node == DEMO_NODE:
            wall = await self.walls.find_wall(DEMO_WALL)
            return {(DEMO_WALL, m.id) for m in wall.monitors} if wall else set()
        rows = await self._services.store.fetchall(
            "SELECT wall, id FROM monitors WHERE node = ?", (node,))
        return {(r["wall"], r["id"]) for r in rows}

    async def camera_allowed(self, who: Principal | None, camera: str) -> bool:
        """Users with a viewer role see every camera; a display only those on its layouts."""
        return await self._display_may(who, camera, counts=False)

    async def counts_allowed(self, who: Principal | None, camera: str) -> bool:
        """The same rule for queue counts: a display reads the counts its layouts show
        (their cameras, and the cameras its queue tiles count), no others."""
        return await self._display_may(who, camera, counts=True)

    async def _display_may(self, who: Principal | None, camera: str, *, counts: bool) -> bool:
        if who is None:
            return False
        if who.role is not Role.DISPLAY:
            return True
        for wall, monitor in await self.display_monitors(who):
            layout = await self.walls.layout(wall, monitor)
            if layout is not None and camera in (layout.counted_cameras() if counts
                                                 else layout.cameras()):
                return True
        return False


def demo_principal() -> Principal:
    """Who a loopback demo display page is, when [wall] demo_open_display is on."""
    return Principal(name=f"display:{DEMO_NODE}", role=Role.DISPLAY, via="demo")
