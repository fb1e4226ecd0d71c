"""The one bus message for queue counts: analytics publishes it, the indicators and
the wall's alarm rules read it.

One ``QueueReading`` per (camera, counter zone) on ``analytics.queue.<camera>``,
sent when the count changes and every few seconds otherwise. Threshold crossings
are separate ALERT events on ``analytics.alert.<camera>``, so readers of
readings never have to tell the two apart.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from iocwall.streams.clock import now_iso
from iocwall.wall.bus.events import Event, EventError, EventKind

QUEUE_TOPIC = "analytics.queue.{camera}"
QUEUE_PATTERN = "analytics.queue.*"
ALERT_TOPIC = "analytics.alert.{camera}"


@dataclass(frozen=True)
class QueueReading:
    """People waiting at one service counter (a zone of a camera), as analytics counted them."""
    camera: str
    counter: str                          # the zone id
    people: int
    wait_minutes: float | None = None     # estimated, from the serving rate
    province: str = ""                    # the camera's province, when known
    time: str = field(default_factory=now_iso)   # capture time of the counted frame
    served_per_hour: float | None = None

    def event(self) -> Event:
        return Event(QUEUE_TOPIC.format(camera=self.camera), EventKind.STATE, asdict(self))

    @classmethod
    def from_event(cls, event: Event) -> QueueReading:
        p = event.payload
        try:
            people = int(p["people"])
            wait = None if p.get("wait_minutes") is None else float(p["wait_minutes"])
            served = None if p.get("served_per_hour") is None else float(p["served_per_hour"])
            if people < 0 or (wait is not None and wait < 0):
                raise ValueError("negative count")
            return cls(str(p["camera"]), str(p["counter"]), people, wait,
                       str(p.get("province", "")), str(p.get("time", event.time)), served)
        except (KeyError, TypeError, ValueError) as exc:
            raise EventError(f"not a queue reading: {exc}") from None
