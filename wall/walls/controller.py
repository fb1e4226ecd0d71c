"""The wall controller: pushes layouts to displays, collects acks, tracks their health.

Each process runs one controller. A push is saved in the store, then announced on
the bus (``wall.push``); every controller forwards it to the displays connected to
it, and their acks travel back on the bus (``wall.ack``) to the controller that
pushed. So a display on controller A sees a push made on controller B.

Latency: sending a push reads nothing from the database (each link keeps the layout
it was last sent, the push carries the wall's open alarms), so the fsync that makes
a push durable (``push(..., record=...)``: the audit entry) can run while the
displays apply it; the operator is answered once both are done.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from iocwall.layouts import Layout, Size, diff
from iocwall.layouts.streams import DEFAULT_SCREEN, StreamSizes, stream_plan
from iocwall.wall.bus import Bus, BusDown, Event, EventKind, Subscription
from iocwall.wall.bus.errors import BusLostAfterSave
from iocwall.wall.walls.presence import NodeState, NodeStatus, Presence
from iocwall.wall.walls.protocol import (
    TOPIC_ACK,
    TOPIC_ALARM,
    TOPIC_NODE,
    TOPIC_PUSH,
    TOPIC_REPLAY,
    TOPIC_REVOKE,
    Health,
    Incoming,
    MessageType,
    layout_message,
    replay_message,
)
from iocwall.wall.walls.store import WallStore

log = logging.getLogger(__name__)
Send = Callable[[dict[str, Any]], Awaitable[None]]
Record = Callable[["PushResult"], Awaitable[None]]
Close = Callable[[int, str], Awaitable[None]]
REVOKED_CLOSE = 4403          # WebSocket close code: this display node was revoked


async def _no_close(code: int, reason: str) -> None:
    return None


@dataclass
class DisplayLink:
    """One connected display page (a WebSocket), as the controller sees it."""
    conn: str
    node: str
    wall: str
    monitor: str
    send: Send
    version: int = 0             # last layout version sent to it
    layout: Layout | None = None  # ... and that layout (the base of the next diff)
    close: Close = _no_close     # end the socket (code, reason), e.g. when the node is revoked
    screen: Size = DEFAULT_SCREEN  # its screen in device pixels: what stream choice uses
    plan: dict[str, dict[str, str]] = field(default_factory=dict)  # streams it was told


@dataclass
class PushResult:
    push_id: str
    versions: dict[str, int]
    expected: set[str]
    acked: set[str] = field(default_factory=set)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def public(self) -> dict[str, Any]:
        return {"push_id": self.push_id, "versions": self.versions,
                "expected": len(self.expected), "acked": len(self.acked & self.expected),
                "complete": self.expected <= self.acked}


class WallController:
    def __init__(self, walls: WallStore, bus: Bus, heartbeat_timeout_s: float = 5.0) -> None:
        self.walls = walls
        self.bus = bus
        self.presence = Presence(heartbeat_timeout_s)
        self._links: dict[str, DisplayLink] = {}
        self._pending: dict[str, PushResult] = {}
        self._sub: Subscription | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.alarm_state: Callable[[str], Awaitable[list[dict[str, Any]]]] | None = None
        # a display node revoked (here or on another controller): end what this process
        # serves it besides its sockets (its WHEP viewers on this controller's media)
        self.revoked: Callable[[str], Awaitable[object]] | None = None
        # camera id -> its streams' sizes (the media server's); none: no stream to play
        self.stream_sizes: StreamSizes = lambda camera: {}

    async def start(self) -> None:
        self._sub = await self.bus.subscribe("wall.*", maxsize=4096)
        hook = getattr(self.bus, "on_reconnect", None)     # only a bus that can go away
        if hook is not None:
            hook(self.resync)
        self._tasks = [asyncio.create_task(self._read(), name="wall-bus"),
                       asyncio.create_task(self._watch(), name="wall-presence")]

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.close()
        for task in self._tasks:
            task.cancel()
        # gather, not `await task` in suppress(CancelledError): that swallows our own cancel
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    # -- displays

    async def attach(self, link: DisplayLink) -> None:
        """A display connected: register it and send it what its monitor shows now."""
        self._links[link.conn] = link
        await self._announce(link, Health())
        layout = await self.walls.layout(link.wall, link.monitor)
        await self._send_layout(link, "", layout)

    async def detach(self, link: DisplayLink) -> None:
        self._links.pop(link.conn, None)
        with contextlib.suppress(Exception):
            await self.bus.publish(TOPIC_NODE, Event(TOPIC_NODE, EventKind.DELETED,
                                                     {"conn": link.conn}))

    async def receive(self, link: DisplayLink, message: Incoming) -> None:
        if message.type is MessageType.ACK:
            await self._tell(TOPIC_ACK, Event(TOPIC_ACK, EventKind.STATE, {
                "push_id": message.push_id, "conn": link.conn, "version": message.version}))
        elif message.type is MessageType.HEARTBEAT and message.health is not None:
            await self._announce(link, message.health)
        elif message.type is MessageType.VIEWPORT and message.screen is not None:
            link.screen = message.screen
            # a new size may move tiles across a stream's size: tell the page what to play
            if link.layout is not None and self._plan(link, link.layout) != link.plan:
                await self._send_layout(link, "", link.layout)

    async def _announce(self, link: DisplayLink, health: Health) -> None:
        await self._tell(TOPIC_NODE, Event(TOPIC_NODE, EventKind.STATE, {
            "conn": link.conn, "node": link.node, "wall": link.wall, "monitor": link.monitor,
            "health": health.to_json()}))

    async def _tell(self, topic: str, event: Event) -> None:
        """Presence and acks: lost while the bus is down, never the display's socket. A
        display keeps its layout and its video through a Redis outage; its next heartbeat
        after Redis is back makes it known again."""
        try:
            await self.bus.publish(topic, event)
        except Exception as exc:  # noqa: BLE001  (redis errors, a closing bus)
            log.debug("bus: %s not announced: %s", topic, exc)

    async def resync(self) -> None:
        """Send each display here its monitor's current layout if it has another version.
        After a bus outage: a push made meanwhile on a controller that still reached Redis
        never got here, and the store has it."""
        for link in self.links():
            layout = await self.walls.layout(link.wall, link.monitor)
            if (layout.version if layout else 0) != link.version:
                log.info("display %s: layout v%d sent again after a bus outage", link.conn,
                         layout.version if layout else 0)
                await self._send_layout(link, "", layout)

    def links(self) -> list[DisplayLink]:
        return list(self._links.values())

    async def disconnect(self, node: str) -> None:
        """Close every socket of display ``node``: here at once, on other controllers
        through the bus."""
        await self._close_node(node)
        await self.bus.publish(TOPIC_REVOKE, Event(TOPIC_REVOKE, EventKind.STATE,
                                                   {"node": node}))

    async def _close_node(self, node: str) -> None:
        for link in [lk for lk in self.links() if lk.node == node]:
            self._links.pop(link.conn, None)     # nothing more is sent to it
            with contextlib.suppress(Exception):
                await link.close(REVOKED_CLOSE, "revoked")

    # -- pushes

    async def push(self, wall: str, layouts: dict[str, Layout], by: str,
                   wait_s: float = 0.0, record: Record | None = None,
                   epoch: int | None = None) -> PushResult:
        """Save ``layouts`` (monitor -> layout) as new versions and send them to the displays.

        Waits up to ``wait_s`` for an ack from every display up on those monitors.
        Without ``record`` the save is fsynced before anything is sent. With it, the
        save is committed without fsync (a display or controller that reads it after
        this sees it; a process crash keeps it), the displays get it at once, and
        ``record(result)`` (a durable commit: the audit entry, whose fsync takes the
        layout rows with it) runs meanwhile; push returns when both are done.
        ``epoch``: the leader's, for a push a leader duty makes (an alarm): the displays
        refuse it once they have seen a newer leader (streams/leadership.py, Fence).
        """
        saved = await self.walls.save_layouts(wall, layouts, by, durable=record is None,
                                              epoch=epoch)
        return await self.announce(wall, saved, wait_s, record, epoch)

    async def announce(self, wall: str, layouts: dict[str, Layout],
                       wait_s: float = 0.0, record: Record | None = None,
                       epoch: int | None = None) -> PushResult:
        """Send already-current layouts to the displays (used by push, recall, alarms)."""
        push_id = uuid.uuid4().hex[:16]
        result = PushResult(push_id, {m: lay.version for m, lay in layouts.items()},
                            self._expected(wall, set(layouts)))
        self._pending[push_id] = result
        alarms = await self.alarm_state(wall) if self.alarm_state else []
        try:
            try:
                for monitor, layout in layouts.items():
                    await self.bus.publish(TOPIC_PUSH, Event(TOPIC_PUSH, EventKind.COMMAND, {
                        "push_id": push_id, "wall": wall, "monitor": monitor,
                        "layout": layout.to_json(), "alarms": alarms,
                        **({} if epoch is None else {"epoch": epoch})}))
            except BusDown as exc:
                # Redis died after the route's check: the layouts are saved, so their audit
                # entry is written too (no saved change goes unaudited), and the displays
                # get them from the resync when the bus is back.
                log.warning("wall: push %s saved but not announced: %s", push_id, exc)
                if record is not None:
                    await record(result)
                raise BusLostAfterSave() from None
            await asyncio.gather(self._wait_acks(result, wait_s),
                                 record(result) if record else asyncio.sleep(0))
        finally:
            if wait_s > 0:
                self._pending.pop(push_id, None)
            else:
                asyncio.get_running_loop().call_later(30, self._pending.pop, push_id, None)
        return result

    async def replay(self, wall: str, monitor: str, tile: str, camera: str,
                     start: str | None) -> int:
        """Tell the displays of ``monitor`` (on every controller, through the bus) to replay
        ``tile`` from ``start``, or to go live (None). Returns how many displays are up there."""
        await self.bus.publish(TOPIC_REPLAY, Event(TOPIC_REPLAY, EventKind.COMMAND,
                                                   replay_message(wall, monitor, tile, camera,
                                                                  start)))
        return len(self._expected(wall, {monitor}))

    def _expected(self, wall: str, monitors: set[str]) -> set[str]:
        """Who must ack a push: every display up by its heartbeats (on any controller), and
        every display whose socket is open here, late heartbeats or not. The push is sent to
        each of those; a display slow to beat under load is still there, and one that is hung
        shows as an incomplete push instead of being left out of the count."""
        here = {link.conn for link in self._links.values()
                if link.wall == wall and link.monitor in monitors}
        return self.presence.up(wall, monitors) | here

    @staticmethod
    async def _wait_acks(result: PushResult, wait_s: float) -> None:
        if wait_s > 0 and result.expected:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait_s):   # not wait_for: see tap_router.py
                    await result.done.wait()

    async def _send_layout(self, link: DisplayLink, push_id: str, layout: Layout | None,
                           alarms: list[dict[str, Any]] | None = None,
                           epoch: int | None = None) -> None:
        if alarms is None:
            alarms = await self.alarm_state(link.wall) if self.alarm_state else []
        plan = self._plan(link, layout) if layout else {}
        message = layout_message(push_id, link.wall, link.monitor, layout,
                                 diff(link.layout, layout) if layout else None, alarms, plan)
        if epoch is not None:
            message["epoch"] = epoch
        link.version = layout.version if layout else 0
        link.layout = layout
        link.plan = plan
        try:
            await link.send(message)
        except Exception as exc:  # noqa: BLE001  (a closing socket: its handler detaches it)
            log.info("display %s: send failed: %s", link.conn, exc)

    def _plan(self, link: DisplayLink, layout: Layout) -> dict[str, dict[str, str]]:
        return stream_plan(layout, link.screen, self.stream_sizes)

    # -- bus

    async def _read(self) -> None:
        assert self._sub is not None
        async for event in self._sub:
            try:
                await self._on_event(event)
            except Exception:
                log.exception("wall event %s failed", event.topic)

    async def _on_event(self, event: Event) -> None:
        p = event.payload
        if event.topic == TOPIC_PUSH:
            layout = Layout.from_json(p["layout"])
            for link in self.links():
                if (link.wall, link.monitor) == (p["wall"], p["monitor"]):
                    await self._send_layout(link, p["push_id"], layout, p.get("alarms"),
                                            p.get("epoch"))
        elif event.topic == TOPIC_ACK:
            self.presence.answered(p["conn"])
            pending = self._pending.get(p["push_id"])
            if pending is not None:
                pending.acked.add(p["conn"])
                if pending.expected <= pending.acked:
                    pending.done.set()
        elif event.topic == TOPIC_NODE:
            if event.kind is EventKind.DELETED:
                self.presence.gone(p["conn"])
            else:
                self.presence.seen(NodeState(p["conn"], p["node"], p["wall"], p["monitor"],
                                             event.origin, NodeStatus.UP,
                                             health=Health.from_json(p["health"])))
        elif event.topic == TOPIC_REVOKE:
            await self._close_node(p["node"])
            if self.revoked is not None:
                await self.revoked(p["node"])
        elif event.topic == TOPIC_REPLAY:
            for link in self.links():
                if (link.wall, link.monitor) == (p.get("wall"), p.get("monitor")):
                    with contextlib.suppress(Exception):
                        await link.send(p)
        elif event.topic == TOPIC_ALARM:
            for link in self.links():
                if link.wall == p.get("wall"):
                    with contextlib.suppress(Exception):
                        await link.send({"type": MessageType.ALARM.value, **p})

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            for state in self.presence.expire():
                log.warning("display %s (%s/%s) missed its heartbeats: down",
                            state.node, state.wall, state.monitor)
