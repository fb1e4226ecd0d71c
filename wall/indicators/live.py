"""Live indicators: queue counts from analytics over the bus, cameras online from stream health.

Analytics publishes one ``QueueReading`` per counter on ``analytics.queue.<camera>``
(``QueueReading.event()`` builds the Event). ``LiveIndicators`` keeps the newest
reading per counter and a short history per province for the sparklines.
Cameras get their province from a mapping function: the camera registry will
give cameras a ``province`` attribute; until then any callable may map them.
"""
from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from iocwall.wall.bus import Bus, EventError
from iocwall.wall.bus.queue import QUEUE_PATTERN, QUEUE_TOPIC, QueueReading

__all__ = ["QUEUE_PATTERN", "QUEUE_TOPIC", "QueueReading", "LiveIndicators"]

log = logging.getLogger(__name__)

READING_MAX_AGE_S = 60.0          # a counter not heard from for this long no longer counts
HISTORY_POINTS = 120


CameraProvince = Callable[[object], "str | None"]


def province_attribute(camera: object) -> str | None:
    """The default mapping: the camera's own ``province`` attribute (the registry's)."""
    value = getattr(camera, "province", None)
    return str(value) if value else None


@dataclass(frozen=True)
class OnlineShare:
    province: str                 # "" = every camera
    online: int
    total: int

    @property
    def share(self) -> float | None:
        return 100.0 * self.online / self.total if self.total else None


def cameras_online(cameras: Iterable[object], province_of: CameraProvince = province_attribute
                   ) -> dict[str, OnlineShare]:
    """Share of cameras online per province ("" key: all cameras, mapped or not).

    A camera is online when its stream health says ``live``; ``stalled``,
    ``lost``, ``connecting`` and ``idle`` (nobody watching) are not counted as online
    except ``idle``, which means "not pulled now", not "broken": it is left out.
    """
    counts: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    for camera in cameras:
        state = getattr(getattr(camera, "state", None), "value", getattr(camera, "state", ""))
        if state == "idle":
            continue
        online = 1 if state == "live" else 0
        for key in {"", province_of(camera) or ""}:
            counts[key][0] += online
            counts[key][1] += 1
    return {k: OnlineShare(k, v[0], v[1]) for k, v in counts.items()}


@dataclass
class _Latest:
    reading: QueueReading
    at: float


class LiveIndicators:
    """Consumes queue readings from the bus; answers queue length and wait per province."""

    def __init__(self, province_of_camera: Callable[[str], str | None] = lambda _id: None,
                 max_age_s: float = READING_MAX_AGE_S,
                 unit_name: Callable[[str], str] = lambda key: key) -> None:
        """``unit_name``: the one key a province is counted under, whatever a reading or a
        camera calls it (the registry stores codes such as HA-NOI, the tiles ask by name)."""
        self._province_of = province_of_camera
        self._unit_name = unit_name
        self._max_age_s = max_age_s
        self._latest: dict[tuple[str, str], _Latest] = {}
        self.history: dict[str, collections.deque[tuple[str, int]]] = \
            collections.defaultdict(lambda: collections.deque(maxlen=HISTORY_POINTS))
        self.bad_events = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self, bus: Bus) -> None:
        subscription = await bus.subscribe(QUEUE_PATTERN)
        self._task = asyncio.create_task(self._consume(subscription), name="live-indicators")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            # not `await task` in suppress(CancelledError): that swallows our own cancel
            await asyncio.wait({self._task})
            self._task = None

    async def _consume(self, subscription) -> None:  # type: ignore[no-untyped-def]
        async with subscription:
            async for event in subscription:
                try:
                    self.add(QueueReading.from_event(event))
                except EventError as exc:
                    self.bad_events += 1
                    log.warning("ignored a bad queue event on %s: %s", event.topic, exc)

    def add(self, reading: QueueReading, at: float | None = None) -> None:
        now = time.monotonic() if at is None else at
        self._latest[(reading.camera, reading.counter)] = _Latest(reading, now)
        province = self.province_of(reading)
        self.history[province].append((reading.time, self.queue(province, now)[0]))
        self.history[""].append((reading.time, self.queue("", now)[0]))

    def province_of(self, reading: QueueReading) -> str:
        key = reading.province or self._province_of(reading.camera) or ""
        return self._unit_name(key) if key else ""

    def queue(self, province: str = "", at: float | None = None) -> tuple[int, float | None, int]:
        """(people waiting, mean estimated wait in minutes or None, counters heard from)
        for ``province`` ("" = everywhere), from readings newer than max_age_s."""
        now = time.monotonic() if at is None else at
        fresh = [x.reading for x in self._latest.values() if now - x.at <= self._max_age_s
                 and (not province or self.province_of(x.reading) == province)]
        waits = [r.wait_minutes for r in fresh if r.wait_minutes is not None]
        return (sum(r.people for r in fresh), sum(waits) / len(waits) if waits else None,
                len(fresh))
