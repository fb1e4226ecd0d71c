"""The message every bus carries: a typed event, serialised as JSON."""
from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Any

from iocwall.streams.clock import now_iso


class EventKind(str, enum.Enum):
    CREATED = "created"      # a thing was added (user, camera, layout ...)
    UPDATED = "updated"      # a thing changed
    DELETED = "deleted"      # a thing was removed or revoked
    STATE = "state"          # a live state report (stream health, node online ...)
    ALERT = "alert"          # something a person should look at
    COMMAND = "command"      # an instruction to a node (push a layout, reload ...)


class EventError(ValueError):
    """A message on the bus that is not a valid Event."""


@dataclass(frozen=True)
class Event:
    """One event. ``topic`` is dotted (``user.updated``, ``camera.hn-01.state``)."""
    topic: str
    kind: EventKind
    payload: dict[str, Any] = field(default_factory=dict)
    time: str = field(default_factory=now_iso)
    origin: str = ""         # node id of the publisher; set by the bus when empty

    def to_json(self) -> str:
        return json.dumps({"topic": self.topic, "kind": self.kind.value, "payload": self.payload,
                           "time": self.time, "origin": self.origin},
                          ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Event:
        try:
            data = json.loads(text)
            return cls(topic=str(data["topic"]), kind=EventKind(data["kind"]),
                       payload=dict(data["payload"]), time=str(data["time"]),
                       origin=str(data.get("origin", "")))
        except (ValueError, KeyError, TypeError) as exc:
            raise EventError(f"not an event: {exc}") from None
