"""Live queue counts per camera and zone: kept for /api/queues, announced on the bus.

The analytics tap hands every worker result to :meth:`QueueBoard.update` (on the
event loop). Each (camera, zone) keeps its newest count; a change of the count,
or 5 s without one, is published as ``queue.<camera>.<zone>`` (STATE), and
crossing ``alert_waiting`` upwards or back is an ALERT, so the wall's alarm
rules and the indicator store subscribe to the bus instead of polling.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from iocwall.analytics.messages import Result
from iocwall.streams.clock import iso_from_epoch
from iocwall.wall.access import Role, route
from iocwall.wall.bus import Bus
from iocwall.wall.bus.events import Event, EventKind

log = logging.getLogger(__name__)
REPUBLISH_S = 5.0
READERS = frozenset({Role.ADMIN, Role.OPERATOR, Role.LEADER, Role.TECHNICIAN, Role.DISPLAY})


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
    published: float = 0.0     # time.monotonic() of the last bus event
    alerting: bool = False

    def to_json(self) -> dict:
        return {"camera": self.camera, "zone": self.zone, "waiting": self.waiting,
                "wait_estimate_s": self.wait_estimate_s,
                "served_per_hour": self.served_per_hour,
                "updated_at": iso_from_epoch(self.captured),
                "delay_ms": round((self.counted - self.captured) * 1000),
                "worker": self.worker}


class QueueBoard:
    def __init__(self, bus: Bus | None, alert_waiting: int = 0) -> None:
        self.bus = bus
        self.alert_waiting = alert_waiting
        self.states: dict[tuple[str, str], QueueState] = {}
        self._publishing: set[asyncio.Task[None]] = set()

    def update(self, result: Result) -> None:
        for count in result.zones:
            key = (result.camera, count.zone)
            old = self.states.get(key)
            state = QueueState(result.camera, count.zone, count.waiting, count.wait_estimate_s,
                               count.served_per_hour, result.capture_ts, result.counted_ts,
                               result.worker)
            if old is not None:
                state.published, state.alerting = old.published, old.alerting
            self.states[key] = state
            changed = old is None or old.waiting != state.waiting
            if changed or time.monotonic() - state.published > REPUBLISH_S:
                state.published = time.monotonic()
                self._publish(f"queue.{result.camera}.{count.zone}", EventKind.STATE, state)
            self._check_alert(state)

    def _check_alert(self, state: QueueState) -> None:
        if not self.alert_waiting:
            return
        over = state.waiting > self.alert_waiting
        if over != state.alerting:
            state.alerting = over
            self._publish(f"queue.{state.camera}.{state.zone}", EventKind.ALERT, state,
                          {"over": over, "threshold": self.alert_waiting})

    def _publish(self, topic: str, kind: EventKind, state: QueueState,
                 extra: dict | None = None) -> None:
        if self.bus is None:
            return
        event = Event(topic, kind, {**state.to_json(), **(extra or {})})
        task = asyncio.get_running_loop().create_task(self._send(topic, event))
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)

    async def _send(self, topic: str, event: Event) -> None:
        try:
            await self.bus.publish(topic, event)  # type: ignore[union-attr]
        except Exception as exc:           # a bus hiccup loses one update, never the board
            log.warning("queue event %s not published: %s", topic, exc)

    def rows(self, camera: str | None = None) -> list[dict]:
        return [s.to_json() for (cam, _), s in sorted(self.states.items())
                if camera is None or cam == camera]


def routes(board: QueueBoard) -> list[BaseRoute]:
    async def list_queues(request: Request) -> Response:
        camera = request.query_params.get("camera") or None
        return JSONResponse(board.rows(camera))

    return [route("/api/queues", list_queues, roles=READERS, methods=["GET"])]
