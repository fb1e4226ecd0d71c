"""Everything one server process holds, created in one place and stopped in reverse order.

    services = Services(config)              # nothing opened yet
    admin = await services.start()           # store + migrations, bus, auth, first admin
    ...                                      # build_app(services) serves it
    await services.stop()                    # never hangs; safe to call twice

``media`` is the media server (streams/), attached by the caller; when it has
async ``start()``/``stop()`` methods, Services calls them after/before the rest.
"""
from __future__ import annotations

import contextlib
import logging
import time
from typing import Any, Protocol, runtime_checkable

from iocwall.wall.audit import AuditAction, AuditLog
from iocwall.wall.auth import (AdminBootstrap, LoginLimiter, Passwords, Sessions, Tokens, Users,
                               ensure_admin, session_secret)
from iocwall.wall.bus import Bus, open_bus
from iocwall.wall.config import Config
from iocwall.wall.queues import QueueBoard
from iocwall.wall.store import Store

log = logging.getLogger(__name__)


@runtime_checkable
class Startable(Protocol):
    async def start(self) -> Any: ...
    async def stop(self) -> Any: ...


class Services:
    def __init__(self, config: Config, *, media: object | None = None,
                 node_id: str | None = None, passwords: Passwords | None = None) -> None:
        """``config``: validated Config; ``media``: the media server or None; ``node_id``:
        this process's id on the bus (random if None); ``passwords``: a hasher (tests may
        pass cheaper argon2 parameters)."""
        self.config = config
        self.media = media
        self.node_id = node_id
        self.passwords = passwords or Passwords()
        self.store = Store(config.data_path / config.storage.path)
        self.users = Users(self.store, self.passwords)
        self.tokens = Tokens(self.store)
        self.audit = AuditLog(self.store)
        self.queues = QueueBoard(None, config.analytics.alert_waiting)
        self.analytics: Startable | None = None
        self.limiter = LoginLimiter(config.auth.login_max_failures, config.auth.login_window_s)
        self._bus: Bus | None = None
        self._sessions: Sessions | None = None
        self.started_at = time.monotonic()
        self.started = False
        self._media_started = False

    @property
    def bus(self) -> Bus:
        if self._bus is None:
            raise RuntimeError("services not started")
        return self._bus

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
            await self.store.open()
            self._bus = await open_bus(self.config.bus, self.node_id)
            auth = self.config.auth
            self._sessions = Sessions(self.store, await session_secret(auth, self.store),
                                      auth.session_max_age_s, auth.cookie_secure)
            await self._sessions.purge_expired()
            admin = await ensure_admin(self.users, auth)
            if admin is not None:
                await self.audit.record("system", AuditAction.USER_CREATE,
                                        f"user:{admin.user.username}", None, admin.user.summary())
            self.queues.bus = self._bus
            if isinstance(self.media, Startable):
                await self.media.start()
                self._media_started = True
                await self._start_analytics()
        except BaseException:
            await self.stop()
            raise
        self.started_at = time.monotonic()
        self.started = True
        return admin

    async def stop(self) -> None:
        """Stop media, then the bus, then the store; each step runs even if one fails."""
        self.started = False
        if self.analytics is not None:
            with _logged("analytics"):
                await self.analytics.stop()
            self.analytics = None
        if self._media_started and isinstance(self.media, Startable):
            self._media_started = False
            with _logged("media"):
                await self.media.stop()
        if self._bus is not None:
            with _logged("bus"):
                await self._bus.close()
        with _logged("store"):
            await self.store.close()

    async def _start_analytics(self) -> None:
        """Tap the cameras with queue zones; nothing is bound when there are none."""
        cfg = self.config.analytics
        if not (cfg.enabled and cfg.zones):
            return
        from iocwall.wall.analytics import AnalyticsService
        self.analytics = AnalyticsService(cfg, self.media, self.queues)
        await self.analytics.start()

    def uptime_s(self) -> float:
        return time.monotonic() - self.started_at


@contextlib.contextmanager
def _logged(what: str):  # type: ignore[no-untyped-def]
    try:
        yield
    except Exception:
        log.exception("error while stopping the %s", what)
