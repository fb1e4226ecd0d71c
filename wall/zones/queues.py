"""Live queue counts per camera and zone: kept for /api/queues, announced on the bus.

The analytics tap hands every worker result to :meth:`QueueBoard.update` (on the
event loop). Each (camera, zone) keeps its newest count; a change of the count,
or 5 s without one, is published as a :class:`QueueReading` (the bus's one queue
message, read by the indicators and the wall's alarm rules), and crossing
``alert_waiting`` upwards or back is an ALERT on ``analytics.alert.<camera>``.

Every row of ``/api/queues`` says how old its count is (``captured_at``, the counted
frame's capture time, and ``age_ms``) and in which state it is (:class:`CountState`):
a count older than ``max_age_s`` is never shown as current (``waiting`` null, state
``stale``), and when analytics cannot run at all (the worker's extra or weights
missing) every zone is ``off`` with the reason.
"""
from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from iocwall.analytics.messages import Result
from iocwall.streams.clock import iso_from_epoch
from iocwall.wall.access import Role, principal_of, route
from iocwall.wall.bus import Bus
from iocwall.wall.bus.events import Event, EventKind
from iocwall.wall.bus.queue import ALERT_TOPIC, QueueReading

if TYPE_CHECKING:                   # media_api imports Services, which imports this module
    from iocwall.wall.media_api import CameraAccess

log = logging.getLogger(__name__)
REPUBLISH_S = 5.0
READERS = frozenset({Role.ADMIN, Role.OPERATOR, Role.LEADER, Role.TECHNICIAN, Role.DISPLAY})
MAX_AGE_S = 2.0


class CountState(str, enum.Enum):
    LIVE = "live"          # a count younger than max_age_s
    STALE = "stale"        # the last count is too old to show as current
    OFF = "off"            # analytics cannot run here (reason says why)


@dataclass
class QueueState:
    camera: str
    zone: str
    waiting: int
    wait_estimate_s: float | None
    served_per_hour: float
    captured: float            # time.time() of the counted frame
    counted: float             # when the worker finished it
    worker: str
    detected: int | None = None   # people the detector found in the zone on that frame
    published: float = 0.0     # time.monotonic() of the last bus event
    alerting: bool = False

    def to_json(self, now: float | None = None, max_age_s: float = MAX_AGE_S) -> dict:
        """The row of /api/queues; a count older than ``max_age_s`` has no ``waiting``."""
        age = (time.time() if now is None else now) - self.captured
        fresh = age <= max_age_s
        return {"camera": self.camera, "zone": self.zone,
                "state": (CountState.LIVE if fresh else CountState.STALE).value,
                "waiting": self.waiting if fresh else None,
                "detected": self.detected if fresh else None,
                "wait_estimate_s": self.wait_estimate_s if fresh else None,
                "served_per_hour": self.served_per_hour,
                "captured_at": iso_from_epoch(self.captured),
                "updated_at": iso_from_epoch(self.captured),
                "age_ms": max(0, round(age * 1000)),
                "delay_ms": round((self.counted - self.captured) * 1000),
                "worker": self.worker}


def _empty_row(camera: str, zone: str, state: CountState, reason: str = "") -> dict:
    return {"camera": camera, "zone": zone, "state": state.value, "waiting": None,
            "detected": None, "wait_estimate_s": None, "served_per_hour": None,
            "captured_at": None, "updated_at": None, "age_ms": None, "delay_ms": None,
            "worker": "", **({"reason": reason} if reason else {})}


ProvinceOf = Callable[[str], Awaitable[str]]


async def _no_province(camera: str) -> str:
    return ""


class QueueBoard:
    def __init__(self, bus: Bus | None, alert_waiting: int = 0,
                 province_of: ProvinceOf = _no_province, max_age_s: float = MAX_AGE_S) -> None:
        """bus: where readings go (set later when the bus opens after us); alert_waiting:
        ALERT above this many people (0 = never); province_of: a camera's province;
        max_age_s: an older count is shown as stale, never as current."""
        self.bus = bus
        self.alert_waiting = alert_waiting
        self.province_of = province_of
        self.max_age_s = max_age_s
        self.states: dict[tuple[str, str], QueueState] = {}
        self.expected: dict[str, set[str]] = {}     # camera -> its zones, counted or not
        self.off_reason = ""
        self.boxes: dict[str, list[list[float]]] = {}   # camera -> its newest counted boxes
        self._publishing: set[asyncio.Task[None]] = set()

    def expect(self, camera: str, zones: set[str]) -> None:
        """The camera's zones now (each listed as off when analytics cannot run)."""
        if zones:
            self.expected[camera] = set(zones)
        else:
            self.expected.pop(camera, None)

    def set_off(self, reason: str) -> None:
        """Analytics cannot run (``reason`` says what to install or which file is missing);
        "" when it can again."""
        self.off_reason = reason

    def update(self, result: Result) -> None:
        self.boxes[result.camera] = [[b.x1, b.y1, b.x2, b.y2] for b in result.boxes]
        for count in result.zones:
            key = (result.camera, count.zone)
            old = self.states.get(key)
            state = QueueState(result.camera, count.zone, count.waiting, count.wait_estimate_s,
                               count.served_per_hour, result.capture_ts, result.counted_ts,
                               result.worker, count.detected)
            if old is not None:
                state.published, state.alerting = old.published, old.alerting
            self.states[key] = state
            changed = old is None or old.waiting != state.waiting
            if changed or time.monotonic() - state.published > REPUBLISH_S:
                state.published = time.monotonic()
                self._publish(EventKind.STATE, state)
            self._check_alert(state)

    def _check_alert(self, state: QueueState) -> None:
        if not self.alert_waiting:
            return
        over = state.waiting > self.alert_waiting
        if over != state.alerting:
            state.alerting = over
            self._publish(EventKind.ALERT, state, {"over": over, "threshold": self.alert_waiting})

    def _publish(self, kind: EventKind, state: QueueState, extra: dict | None = None) -> None:
        if self.bus is None:
            return
        task = asyncio.get_running_loop().create_task(self._send(kind, state, extra or {}))
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)

    async def _send(self, kind: EventKind, state: QueueState, extra: dict) -> None:
        try:
            province = await self.province_of(state.camera)
            if kind is EventKind.ALERT:
                topic = ALERT_TOPIC.format(camera=state.camera)
                event = Event(topic, kind, {**state.to_json(), "province": province, **extra})
            else:
                wait = state.wait_estimate_s
                event = QueueReading(state.camera, state.zone, state.waiting,
                                     None if wait is None else round(wait / 60, 2), province,
                                     iso_from_epoch(state.captured),
                                     state.served_per_hour).event()
            await self.bus.publish(event.topic, event)  # type: ignore[union-attr]
        except Exception as exc:           # a bus hiccup loses one update, never the board
            log.warning("queue event for %s/%s not published: %s", state.camera, state.zone, exc)

    def forget(self, camera: str, keep: set[str] | frozenset[str] = frozenset()) -> None:
        """Drop the camera's zones other than ``keep`` (zones removed or renamed)."""
        for key in [k for k in self.states if k[0] == camera and k[1] not in keep]:
            del self.states[key]
        if camera in self.expected:
            self.expect(camera, self.expected[camera] & set(keep))
        if not keep:
            self.boxes.pop(camera, None)

    def rows(self, camera: str | None = None, boxes: bool = False) -> list[dict]:
        """with ``boxes``: each live row carries its camera's boxes of the counted frame
        ([x1, y1, x2, y2] in the zones' pixels), for tiles that draw them."""
        now = time.time()
        keys = set(self.states) | {(cam, z) for cam, zones in self.expected.items()
                                   for z in zones}
        out = []
        for key in sorted(keys):
            if camera is not None and key[0] != camera:
                continue
            state = self.states.get(key)
            if self.off_reason:
                out.append(_empty_row(*key, CountState.OFF, self.off_reason))
            elif state is not None:     # a zone not counted yet has no row (as before)
                row = state.to_json(now, self.max_age_s)
                if boxes and row["state"] == CountState.LIVE.value:
                    row["boxes"] = self.boxes.get(key[0], [])
                out.append(row)
        return out


def routes(board: QueueBoard, access: CameraAccess | None = None) -> list[BaseRoute]:
    """access: may this caller read this camera's counts? (the walls' rule for cameras and
    WHEP, also counting its queue tiles' cameras: a display reads only what its layouts
    show); None = every camera."""
    async def list_queues(request: Request) -> Response:
        camera = request.query_params.get("camera") or None
        boxes = request.query_params.get("boxes", "") in ("1", "true")
        rows = board.rows(camera, boxes)
        who = principal_of(request)
        if access is not None and who is not None and who.role is Role.DISPLAY:
            allowed = {cam: await access(who, cam) for cam in {r["camera"] for r in rows}}
            rows = [r for r in rows if allowed[r["camera"]]]
        return JSONResponse(rows)

    return [route("/api/queues", list_queues, roles=READERS, methods=["GET"])]
