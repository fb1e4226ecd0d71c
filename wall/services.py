"""Everything one server process holds, created in one place and stopped in reverse order.

    services = Services(config)              # nothing opened yet
    admin = await services.start()           # store + migrations, bus, auth, first admin
    ...                                      # build_app(services) serves it
    await services.stop()                    # never hangs; safe to call twice

``media`` is the media service (streams/contract.py: ``MediaService``, in this
process or in media processes), attached by the caller; Services starts it after
the rest and stops it first.

``cluster`` (wall/cluster/) holds the leader lease: several controllers may share one
store, and the duties that must run once (alarm and alert rules, the health prober,
analytics, camera placement) run on the lease holder only. ``leadership`` is that lease.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from iocwall.wall.audit import AuditAction, AuditLog
from iocwall.wall.auth import (
    AdminBootstrap,
    LoginLimiter,
    Passwords,
    Sessions,
    Tokens,
    Users,
    ensure_admin,
    session_secret,
)
from iocwall.wall.auth.key_check import check_session_key
from iocwall.wall.bounded_pool import BoundedPool
from iocwall.wall.bus import Bus, open_bus
from iocwall.wall.config import Config
from iocwall.wall.indicators.demo_data import load_demo
from iocwall.wall.indicators.registry import Registry as IndicatorRegistry
from iocwall.wall.indicators.service import IndicatorService
from iocwall.wall.private_files import private_dir
from iocwall.wall.registry.crypto import SecretBox
from iocwall.wall.registry.store import Change, Registry
from iocwall.wall.store import store_for
from iocwall.wall.zones.queues import QueueBoard
from iocwall.wall.zones.store import ZoneStore

if TYPE_CHECKING:
    from iocwall.analytics.messages import ZoneSpec
    from iocwall.streams.contract import MediaService
    from iocwall.streams.leadership import Leadership
    from iocwall.wall.cluster.service import ClusterService
    from iocwall.wall.health.service import HealthService
    from iocwall.wall.registry.follow import RegistryFollow
    from iocwall.wall.registry.sync import MediaSync
    from iocwall.wall.walls.service import WallService
    from iocwall.wall.zones.follow import ZoneFollow

log = logging.getLogger(__name__)


@runtime_checkable
class Startable(Protocol):
    async def start(self) -> Any: ...
    async def stop(self) -> Any: ...


class Services:
    def __init__(self, config: Config, *, media: MediaService | None = None,
                 node_id: str | None = None, passwords: Passwords | None = None) -> None:
        """``config``: validated Config; ``media``: the media server or None; ``node_id``:
        this process's id on the bus (random if None); ``passwords``: a hasher (tests may
        pass cheaper argon2 parameters)."""
        self.config = config
        self.media = media
        self.node_id = node_id
        self._own_passwords = passwords is None
        self.passwords = passwords or Passwords(workers=config.auth.password_checks,
                                                queue=config.auth.password_queue)
        self.store = store_for(config.storage, config.data_path)
        self.users = Users(self.store, self.passwords)
        self.tokens = Tokens(self.store, config.auth.token_ttl_days, config.auth.token_max_ttl_days)
        self.audit = AuditLog(self.store)
        self.indicators = IndicatorService(self.store, self.audit,
                                           IndicatorRegistry.load(config.indicators.registry),
                                           media=media)
        key_file = config.data_path / config.registry.key_file
        self.registry = Registry(self.store, SecretBox(key_file))
        # Spreadsheet imports parse untrusted files: one at a time, two waiting, the rest 503.
        self.imports = BoundedPool("import", "too many imports at once; try again in a moment "
                                   "/ máy chủ đang bận nhập tệp, hãy thử lại sau giây lát",
                                   workers=1, queue=2)
        self.queues = QueueBoard(None, config.analytics.alert_waiting, self._camera_province,
                                 config.analytics.max_count_age_s)
        self.zones = ZoneStore(self.store)
        self.analytics: Startable | None = None
        from iocwall.wall.notify.service import NotifyService
        # alerts reach people through this: services.notify.notifier.alert_changed(notice)
        self.notify = NotifyService(config, self.store, self.audit, self.users)
        auth = config.auth
        # in the store: every controller of a site counts the same guesses
        self.limiter = LoginLimiter(self.store, auth.login_max_failures,
                                    auth.login_max_failures_per_address,
                                    auth.login_window_s, auth.login_max_block_s)
        self._bus: Bus | None = None
        self._zone_follow: ZoneFollow | None = None
        self._registry_follow: RegistryFollow | None = None
        self.wall: WallService | None = None     # once started
        # `iocwall demo` only: its simulated cameras' login, shown to registrars (demo data)
        self.demo_camera_login: dict[str, str] | None = None
        self.health: HealthService | None = None  # once started: board, availability, alerts
        self.cluster: ClusterService | None = None  # once the store and bus are open
        self._cluster_started = False
        self._sessions: Sessions | None = None
        self.started_at = time.monotonic()
        self.started = False
        self._media_started = False
        self._media_sync: MediaSync | None = None
        self._replay_task: asyncio.Task[None] | None = None

    @property
    def bus(self) -> Bus:
        if self._bus is None:
            raise RuntimeError("services not started")
        return self._bus

    @property
    def leadership(self) -> Leadership:
        """The leader lease (wall/cluster/lease.py), once the store and bus are open."""
        if self.cluster is None:
            raise RuntimeError("services not started")
        return self.cluster.lease

    @property
    def sessions(self) -> Sessions:
        if self._sessions is None:
            raise RuntimeError("services not started")
        return self._sessions

    async def start(self) -> AdminBootstrap | None:
        """Open everything; returns what ensure_admin did (with a generated password, if any)."""
        if self.started:
            return None
        try:
            private_dir(self.config.data_path)     # raises UnsafeDataDir if others can read it
            await self.store.open()
            self._bus = await open_bus(self.config.bus, self.node_id)
            from iocwall.wall.cluster.service import ClusterService
            self.cluster = ClusterService(self.config, self.store, self._bus)
            auth = self.config.auth
            secret = await session_secret(auth, self.config.data_path)
            await check_session_key(self.store, secret)   # shared store: one key for all
            self._sessions = Sessions(self.store, secret, auth.session_max_age_s,
                                      auth.cookie_secure or self.config.server.https)
            await self._sessions.purge_expired()
            await self.indicators.start(self._bus)
            if self.config.indicators.demo_data:
                await load_demo(self.indicators)
            admin = await ensure_admin(self.users, auth)
            if admin is not None:
                await self.audit.record("system", AuditAction.USER_CREATE,
                                        f"user:{admin.user.username}", None, admin.user.summary())
            await self.notify.start()          # refuses [notify] settings that cannot work
            self.queues.bus = self._bus
            self.zones.listen(self._zones_changed)
            from iocwall.wall.zones.follow import ZoneFollow
            self._zone_follow = ZoneFollow(self._bus, self.zones)   # edits in other processes
            await self._zone_follow.start()
            await self._follow_registry()
            await self.zones.seed(self.config.analytics.zones, "config")
            from iocwall.wall.walls.service import WallService
            self.wall = WallService(self)           # after the registry: the walls' cameras
            await self.wall.start()
            self.cluster.watch_members(self.wall.controller.presence.keep_controllers)
            await self._choose_replay()
            if self.media is not None:
                # before start: a media service that places cameras (media nodes) must never
                # do so under its default sole leadership while another controller leads
                self.media.follow_leader(self.leadership)
                await self.media.start()
                self._media_started = True
                self._lead_analytics()
            await self._start_health()
            # last: taking the lease starts the leader duties registered above
            await self.cluster.start()
            self._cluster_started = True
        except BaseException:
            await self.stop()
            raise
        self.started_at = time.monotonic()
        self.started = True
        return admin

    async def _follow_registry(self) -> None:
        """Seed the registry from config.toml (first start), then let the media server
        follow it: every registered camera now, every change as it happens."""
        from iocwall.wall.registry.seed import seed_from_config
        from iocwall.wall.registry.sync import MediaSync
        reg = self.config.registry
        self.registry.box.check()
        await seed_from_config(self.registry, self.store, self.config.cameras,
                               reg.seed_province, reg.seed_centre)
        if self.media is not None:
            self._media_sync = MediaSync(self.registry, self.media)
            await self._media_sync.load()
        self.indicators.camera_units.update(
            {cam.id: cam.province for cam in await self.registry.cameras()})
        self.registry.listen(self._note_camera_unit)
        from iocwall.wall.registry.follow import RegistryFollow
        self._registry_follow = RegistryFollow(self.bus, self.registry)  # edits elsewhere
        await self._registry_follow.start()

    async def _note_camera_unit(self, change: Change) -> None:
        """Keep the indicators' camera -> unit map (live tiles per province) current."""
        if change.camera is None:
            self.indicators.camera_units.pop(change.camera_id, None)
        else:
            self.indicators.camera_units[change.camera_id] = change.camera.province

    async def _choose_replay(self) -> None:
        """[replay] cameras = "wall": buffer the cameras on a wall or with zones, judged now
        and then every few seconds (wall/replay_follow.py)."""
        from iocwall.wall import replay_follow
        sync = self._media_sync
        if sync is None or self.config.replay.cameras != "wall":
            return
        await sync.set_replay(await replay_follow.wanted(self))
        self._replay_task = asyncio.create_task(replay_follow.follow(self, sync),
                                                name="replay-follow")

    async def stop(self) -> None:
        """Stop media, then the bus, then the store; each step runs even if one fails."""
        self.started = False
        if self.cluster is not None and self._cluster_started:
            self._cluster_started = False
            with _logged("cluster"):
                await self.cluster.stop()        # duties stop, the lease is released
        if self._replay_task is not None:
            self._replay_task.cancel()
            await asyncio.gather(self._replay_task, return_exceptions=True)
            self._replay_task = None
        if self.health is not None:
            with _logged("health"):
                await self.health.stop()
            self.health = None
        if self.analytics is not None:
            with _logged("analytics"):
                await self.analytics.stop()
            self.analytics = None
        if self.wall is not None:
            with _logged("wall"):
                await self.wall.stop()
            self.wall = None
        if self._media_started and self.media is not None:
            self._media_started = False
            with _logged("media"):
                await self.media.stop()
        with _logged("notify"):
            await self.notify.stop()
        with _logged("indicators"):
            await self.indicators.stop()
        if self._zone_follow is not None:
            with _logged("zones follow"):
                await self._zone_follow.stop()
            self._zone_follow = None
        if self._registry_follow is not None:
            with _logged("registry follow"):
                await self._registry_follow.stop()
            self._registry_follow = None
        if self._bus is not None:
            with _logged("bus"):
                await self._bus.close()
        with _logged("store"):
            await self.store.close()
        if self._own_passwords:
            self.passwords.close()
        self.imports.close()

    async def _zones_changed(self, camera: str, zones: list[ZoneSpec]) -> None:
        """Removed or renamed zones leave /api/queues here, tapped here or not."""
        self.queues.forget(camera, {z.id for z in zones})

    async def _camera_province(self, camera: str) -> str:
        """The province a camera is registered in ("" when it is not)."""
        found = await self.registry.get(camera)
        return found.province if found is not None else ""

    def _lead_analytics(self) -> None:
        """Analytics (taps + the frame router) run on the leader only: started when this
        controller takes the lease, stopped when it loses it. Counts reach every
        controller through the bus."""
        if not self.config.analytics.enabled or self.media is None:
            return
        assert self.cluster is not None
        self.zones.listen(self._analytics_zones)
        self.cluster.duties.add("analytics", self._start_analytics, self._stop_analytics)

    async def _start_analytics(self, epoch: int = 0) -> None:
        """Tap the cameras with queue zones, and follow the zones as they change; the
        ZeroMQ port is bound only once a camera has zones."""
        cfg = self.config.analytics
        if not cfg.enabled or self.media is None or self.analytics is not None:
            return
        from iocwall.wall.zones.analytics import AnalyticsService
        analytics = AnalyticsService(cfg, self.media, self.queues)
        self.analytics = analytics
        await analytics.start(await self.zones.all())

    async def _stop_analytics(self) -> None:
        analytics, self.analytics = self.analytics, None
        if analytics is not None:
            await analytics.stop()

    async def _analytics_zones(self, camera: str, zones: list[ZoneSpec]) -> None:
        analytics = self.analytics
        if analytics is not None:
            await analytics.set_zones(camera, zones)  # type: ignore[attr-defined]

    async def _start_health(self) -> None:
        """The health board and alert rules, once everything they watch is up; alert
        changes go to the outbox (wall/notify/), which sends them to people."""
        from iocwall.wall.health.service import HealthService
        assert self.cluster is not None
        self.health = HealthService(self, notify=self.notify.notifier,
                                    leadership=self.cluster.lease)
        await self.health.start()
        self.cluster.duties.add("health prober and alert rules", self.health.lead,
                                self.health.follow)

    def uptime_s(self) -> float:
        return time.monotonic() - self.started_at


@contextlib.contextmanager
def _logged(what: str):  # type: ignore[no-untyped-def]
    try:
        yield
    except Exception:
        log.exception("error while stopping the %s", what)
