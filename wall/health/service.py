"""The health loop of one server: sample the board, count availability, evaluate the rules.

    health = HealthService(services)       # Services builds it; notify: wall/health/notify.py
    await health.start()                   # adopts open alerts, then samples every sample_s
                                           # and probes idle cameras every probe_s (probe.py)
    health.board                           # the latest Board (None before the first sample)
    await health.stop()                    # flushes availability; never hangs

Every alert change goes three ways: the notifier (``notify.alert_changed``), the walls'
``alarms`` tiles (the wall's own alarm topic, once per wall, as the queue alarms travel) and
the log. Each is guarded: a failing notifier or bus never stops the loop.

With several controllers (wall/cluster/) every one samples its own board (GET /api/health
answers everywhere), but only the lease holder probes idle cameras, counts availability and
evaluates the rules (late reports included), its alert writes fenced with its epoch. The
others follow the alerts in the store, and judge one rule themselves: controller_down, when
they see nobody holding the lease.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from iocwall.streams.clock import now_iso
from iocwall.wall import provinces
from iocwall.wall.access import Principal
from iocwall.wall.bus import Event, EventKind
from iocwall.wall.cluster.duties import leads, write_epoch
from iocwall.wall.cluster.lease import Lease, fenced
from iocwall.wall.health.alerts import Alert, AlertBook
from iocwall.wall.health.availability import Availability
from iocwall.wall.health.board import Board
from iocwall.wall.health.cameras import camera_components, media_node_components
from iocwall.wall.health.model import Component, Kind
from iocwall.wall.health.nodes import DisplayProbe, WorkerProbe
from iocwall.wall.health.notify import Notifier, NullNotifier
from iocwall.wall.health.probe import CameraProber
from iocwall.wall.health.rules import Extras, evaluate
from iocwall.wall.health.system import (
    certificate_component,
    controller_component,
    disk_component,
    ping_component,
)
from iocwall.wall.walls.protocol import TOPIC_ALARM

if TYPE_CHECKING:
    from iocwall.wall.services import Services

log = logging.getLogger(__name__)
PING_TIMEOUT_S = 5.0
REPORTS_EVERY_S = 60.0      # the reporting calendar changes by the day: no need to ask often
CONTROLLER_RULE = "controller_down"    # judged by every controller, leader or not


class HealthService:
    def __init__(self, services: Services, notify: Notifier | None = None,
                 leadership: Lease | None = None) -> None:
        """``services``: the process's Services (started up to the store and bus);
        ``notify``: where alert changes go (default: nowhere, see notify.py);
        ``leadership``: the leader lease (None: this process alone does everything; else
        Services calls ``lead``/``follow`` as the lease comes and goes)."""
        self._svc = services
        self.config = services.config.alerts
        self.alerts = AlertBook(services.store, self.config.resolve_hold_s)
        self.availability = Availability(services.store, self.config.sample_s,
                                         self.config.availability_flush_s)
        self.notify: Notifier = notify or NullNotifier()
        self.leader: Lease | None = leadership
        self.board: Board | None = None
        self._displays, self._workers = DisplayProbe(), WorkerProbe()
        self._reports: tuple[float, tuple[tuple[str, str], ...]] = (-REPORTS_EVERY_S, ())
        self._task: asyncio.Task[None] | None = None
        # cameras nobody pulls are judged by a cheap RTSP probe instead (probe.py)
        self.prober = (CameraProber(services.registry, services.media, self.config)
                       if services.media is not None else None)

    async def start(self) -> None:
        await self.alerts.load()
        self._svc.indicators.availability = self.province_availability
        if self.config.enabled:
            self._task = asyncio.create_task(self._run(), name="health")
            if self.prober is not None and self.leader is None:
                await self.prober.start()

    async def lead(self, epoch: int) -> None:
        """This controller took the lease: adopt the open alerts, probe idle cameras."""
        await self.alerts.load()
        if self.config.enabled and self.prober is not None:
            await self.prober.start()

    async def follow(self) -> None:
        """The lease went elsewhere: the prober stops (the rules check ``leads`` each tick)."""
        if self.prober is not None:
            await self.prober.stop()

    async def stop(self) -> None:
        if self.prober is not None:
            await self.prober.stop()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        try:
            await self.availability.flush()
        except Exception:
            log.exception("health: last availability flush failed")

    async def _run(self) -> None:
        # the first sample one period after start: the server's own start goes first
        await asyncio.sleep(self.config.sample_s)
        while True:
            started = time.monotonic()
            try:
                await self.tick()
            except Exception:
                log.exception("health sample failed")
            await asyncio.sleep(max(0.0, self.config.sample_s - (time.monotonic() - started)))

    async def tick(self) -> None:
        board = await self.collect()
        self.board = board
        if not leads(self.leader):
            await self._follow_tick(board)
            return
        epoch = write_epoch(self.leader)       # decided now: fenced when written
        self.alerts.fence = lambda conn: fenced(conn, epoch)
        self.availability.sample(board.cameras())
        if self.availability.due():
            try:
                await self.availability.flush()
            except Exception:
                log.exception("health: availability flush failed; kept for the next one")
        conditions = evaluate(board, self.config, await self._extras())
        for alert in await self.alerts.step(conditions):
            await self.announce(alert, epoch)

    async def _follow_tick(self, board: Board) -> None:
        """Not the leader: the alerts as the leader keeps them (the displays connected here
        show them), and controller_down, which only a controller without a leader sees."""
        await self.alerts.load()
        self.alerts.fence = lambda conn: None
        conditions = [c for c in evaluate(board, self.config, Extras())
                      if c.rule == CONTROLLER_RULE]
        for alert in await self.alerts.step(conditions, rules=frozenset({CONTROLLER_RULE})):
            await self.announce(alert)

    async def collect(self) -> Board:
        svc, cfg = self._svc, self.config
        parts: list[Component] = []
        if svc.media is not None:
            parts += await camera_components(svc.media, svc.registry, cfg.camera_min_fps,
                                             self.prober.results if self.prober else None)
            parts += await media_node_components(svc.media)
        wall = svc.wall
        parts += self._displays.components(wall.controller.presence if wall else None,
                                           await wall.watched_nodes() if wall else None)
        parts += self._workers.components(svc.analytics)
        parts.append(controller_component(svc.bus.node_id, svc.uptime_s(), self.leader))
        parts.append(ping_component(Kind.STORE, await self._ping(svc.store.ping), "store"))
        parts.append(ping_component(Kind.BUS, await self._ping(svc.bus.ping), "bus"))
        parts.append(await disk_component(svc.config.data_path, cfg.disk_free_min_percent))
        parts.append(await certificate_component(cfg.certificate_file,
                                                 cfg.certificate_warn_days))
        return Board(now_iso(), tuple(parts))

    async def _ping(self, ping: Any) -> bool:
        try:
            async with asyncio.timeout(PING_TIMEOUT_S):
                return bool(await ping())
        except Exception:           # a timeout or an error: the component is down
            return False

    async def _extras(self) -> Extras:
        alarms: list[dict[str, Any]] = []
        wall = self._svc.wall
        if wall is not None and "queue_over" not in self.config.disabled:
            for w in await wall.walls.walls():
                alarms += [{**a, "wall": w.id} for a in await wall.alarms.open_alarms(w.id)]
        return Extras(tuple(alarms), await self._late_reports())

    async def _late_reports(self) -> tuple[tuple[str, str], ...]:
        """Provinces late or missing with the last due month; none while nobody reports at
        all (a fresh install must not raise 34 alerts)."""
        at, cached = self._reports
        if "report_late" in self.config.disabled or time.monotonic() - at < REPORTS_EVERY_S:
            return cached
        report = await self._svc.indicators.reporting()
        units = report["units"]
        late: tuple[tuple[str, str], ...] = ()
        if any(u["state"] in ("on_time", "late") for u in units):
            late = tuple((provinces.code_of(u["province"]), u["state"]) for u in units
                         if u["state"] in ("late", "missing"))
        self._reports = (time.monotonic(), late)
        return late

    async def province_availability(self, scope: str) -> float | None:
        """The indicator's value: ``scope`` is a province's name as the indicators name it
        ("" = the nation); availability is stored by province code."""
        return await self.availability.province_share(provinces.code_of(scope) if scope else "")

    async def acknowledge(self, alert_id: int, who: Principal, client: str = "") -> Alert:
        alert = await self.alerts.acknowledge(alert_id, who.name)
        await self._svc.audit.record(who, "alert.ack", f"alert:{alert.id}",
                                     {"state": "raised"},
                                     {"state": alert.state, "rule": alert.rule,
                                      "subject": alert.subject}, client,
                                     province=alert.province or None)
        await self.announce(alert)
        return alert

    async def announce(self, alert: Alert, epoch: int | None = None) -> None:
        """``epoch``: the leader's, when its rules changed the alert (the displays' fence)."""
        try:
            await self.notify.alert_changed(alert.notice())
        except Exception:
            log.exception("notifier failed for alert %s", alert.id)
        wall = self._svc.wall
        if wall is None:
            return
        try:
            payload = {"state": alert.state, "alert": alert.id, "rule": alert.rule,
                       "severity": alert.severity, "name": alert.title_vi,
                       "name_en": alert.title_en, "subject": alert.subject,
                       **({} if epoch is None else {"epoch": epoch})}
            for w in await wall.walls.walls():
                await self._svc.bus.publish(TOPIC_ALARM, Event(
                    TOPIC_ALARM, EventKind.ALERT, {"wall": w.id, **payload}))
        except Exception:
            log.exception("alert %s: could not reach the walls", alert.id)
