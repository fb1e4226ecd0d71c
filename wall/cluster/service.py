"""The cluster part of one controller: the lease, its membership row, the leader duties.

    cluster = ClusterService(config, store, bus)   # after the store and bus are open
    cluster.duties.add(...)                          # what runs on the leader only
    await cluster.start()     # one renewal now (a controller alone leads at once), then a loop
    await cluster.describe(media)                    # GET /api/cluster
    await cluster.stop()      # steps down, releases the lease, leaves; never hangs

The loop renews (or tries to take) the lease every ``lease_renew_s`` and marks this
controller seen. A follower tries again right when the holder's lease expires, and at once
when a leader that stops cleanly says so on the bus (``cluster.lease``).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from iocwall.streams.clock import now_iso
from iocwall.wall.bus import Bus, Event, EventKind, Subscription
from iocwall.wall.cluster.duties import Duties
from iocwall.wall.cluster.lease import Lease
from iocwall.wall.cluster.members import Members
from iocwall.wall.config import Config
from iocwall.wall.store import Store
from iocwall.wall.store.dialect import DB_NOW

if TYPE_CHECKING:
    from iocwall.streams.contract import MediaService

log = logging.getLogger(__name__)
TOPIC_LEASE = "cluster.lease"
STOP_TIMEOUT_S = 5.0
FORGET_EVERY = 600             # rounds between clean-ups of long-gone controllers


def default_url(config: Config) -> str:
    """Where this controller is reached when [cluster] controller_url is empty."""
    server = config.server
    if config.cluster.controller_url:
        return config.cluster.controller_url
    if server.public_url:
        return server.public_url
    host = socket.gethostname() if server.host in ("0.0.0.0", "::", "") else server.host
    return f"{'https' if server.tls_cert else 'http'}://{host}:{server.port}"


class ClusterService:
    def __init__(self, config: Config, store: Store, bus: Bus) -> None:
        """``config``: the whole Config ([cluster], [server], [bus]); ``store``, ``bus``:
        open. The controller's id is its bus id (unique per process)."""
        cfg = config.cluster
        self.config, self.store, self.bus = config, store, bus
        self.me = bus.node_id
        self.lease = Lease(store, self.me, cfg.lease_ttl_s, cfg.lease_renew_s)
        self.members = Members(store, self.me, os.getpid(), default_url(config), now_iso())
        self.duties = Duties(self.lease)
        self._wake = asyncio.Event()
        self._sub: Subscription | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._rounds = 0
        self._failing = False
        # told, each round, the controllers whose row is fresh (wall presence drops the
        # displays a dead controller held: their sockets died with it)
        self._members_seen: list[Callable[[set[str]], None]] = []

    def watch_members(self, callback: Callable[[set[str]], None]) -> None:
        """Call ``callback(live_ids)`` after each renewal round: the controllers seen within
        two renewals and a half (a killed one drops out within about 3 s)."""
        self._members_seen.append(callback)

    def set_url(self, url: str) -> None:
        """The URL once the server listens (port 0 picks it then), unless configured."""
        if not self.config.cluster.controller_url and not self.config.server.public_url:
            self.members.url = url.rstrip("/")
            self._wake.set()             # written at once, not at the next renewal

    async def start(self) -> None:
        await self.lease.ensure_row()
        self._sub = await self.bus.subscribe(TOPIC_LEASE, maxsize=16)
        await self._round()                # a controller alone is the leader from here on
        await self.duties.settled()        # ... with its duties running when start returns
        self._tasks = [asyncio.create_task(self._run(), name="cluster-lease"),
                       asyncio.create_task(self._listen(), name="cluster-listen")]

    async def _round(self) -> float:
        wait = await self.lease.renew()
        await self.members.beat()
        self._rounds += 1
        if self._rounds % FORGET_EVERY == 1:
            await self.members.forget_old()
        if self._members_seen:
            window = 2.5 * self.lease.renew_s
            live = {row["id"] for row in await self.members.live(window)} | {self.me}
            for callback in self._members_seen:
                callback(live)
        if self._failing:
            log.info("cluster: the store answers the lease again")
            self._failing = False
        return wait

    async def _run(self) -> None:
        wait = self.lease.renew_s
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wake.wait()
            self._wake.clear()
            try:
                wait = await self._round()
            except Exception as exc:     # the store is away: the lease's own timer steps down
                if not self._failing:
                    log.warning("cluster: lease renewal failed: %s", exc)
                    self._failing = True
                wait = self.lease.renew_s

    async def _listen(self) -> None:
        assert self._sub is not None
        async for event in self._sub:
            if event.payload.get("released") and event.origin != self.me:
                self._wake.set()          # the leader stopped cleanly: take over now

    async def stop(self) -> None:
        """Stop the loop, step down (the duties stop), free the lease, leave the table."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._sub is not None:
            await self._sub.close()
            self._sub = None
        epoch = 0
        try:
            async with asyncio.timeout(STOP_TIMEOUT_S):
                epoch = await self.lease.release()
        except Exception as exc:
            log.warning("cluster: could not release the lease: %s", exc)
        for what, step in (("stop the leader duties", self.duties.stop),
                           ("leave the controllers table", self.members.leave)):
            try:
                async with asyncio.timeout(STOP_TIMEOUT_S):
                    await step()
            except Exception as exc:
                log.warning("cluster: could not %s: %s", what, exc)
        if epoch:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    await self.bus.publish(TOPIC_LEASE, Event(TOPIC_LEASE, EventKind.STATE,
                                                              {"released": epoch}))

    async def leader_now(self) -> tuple[str | None, int]:
        """(holder, epoch) of the lease as the store says now; holder None once expired."""
        row = await self.store.fetchone(
            f"SELECT holder, epoch, expires_at - {DB_NOW[self.store.dialect]} AS remaining"
            " FROM leader_lease WHERE name = ?", (self.lease.name,))
        if row is None:
            return None, 0
        holder = row["holder"] if float(row["remaining"]) > 0 else None
        return holder, int(row["epoch"])

    async def describe(self, media: MediaService | None) -> dict[str, Any]:
        """GET /api/cluster: controllers, media nodes, store, bus; never a URL's password."""
        cfg = self.config.cluster
        holder, _ = await self.leader_now()
        controllers = [{"id": r["id"], "pid": int(r["pid"]), "url": _no_credentials(r["url"]),
                        "leader": r["id"] == holder}
                       for r in await self.members.live(cfg.lease_ttl_s + cfg.lease_renew_s)]
        nodes = await media.media_nodes() if media is not None else []
        return {"controllers": controllers,
                "media_nodes": [{"id": n.get("id", n.get("node")), "pid": n.get("pid"),
                                 "cameras": n.get("cameras", 0)} for n in nodes],
                "store": {"engine": self.store.dialect, "ok": await self.store.ping()},
                "bus": {"backend": self.config.bus.backend, "ok": await _ping(self.bus)}}


async def _ping(bus: Bus) -> bool:
    try:
        async with asyncio.timeout(2.0):
            return bool(await bus.ping())
    except Exception:
        return False


def _no_credentials(url: str) -> str:
    """A URL without user:password@ (a controller_url may carry one by mistake)."""
    from urllib.parse import urlsplit, urlunsplit
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
