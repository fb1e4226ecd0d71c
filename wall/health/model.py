"""The health board's nouns: what a component is, the states it can be in, and how they rank.

Every part of the system (a camera, a media node, a display node, an analytics worker, this
controller, the store, the bus, the data dir's disk, the TLS certificate) reports one
``Component``; the board (board.py) rolls them up per province and centre.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Kind(str, enum.Enum):
    CAMERA = "camera"
    MEDIA_NODE = "media_node"
    DISPLAY_NODE = "display_node"
    WORKER = "analytics_worker"
    CONTROLLER = "controller"
    STORE = "store"
    BUS = "bus"
    DISK = "disk"
    CERTIFICATE = "certificate"


class State(str, enum.Enum):
    OK = "ok"                          # working as expected
    DEGRADED = "degraded"              # working, but not as it should (stalled, low fps, ...)
    DOWN = "down"                      # not working
    IDLE = "idle"                      # not observed now (a camera nobody pulls)
    NOT_CONFIGURED = "not_configured"  # nothing to check (no certificate configured)


# Worst first: a roll-up takes the worst of its parts; idle and not configured say nothing.
_RANK = {State.DOWN: 0, State.DEGRADED: 1, State.OK: 2, State.IDLE: 3, State.NOT_CONFIGURED: 4}


def worst(states: list[State]) -> State:
    """The roll-up of ``states``: the worst observed one; idle when none was observed."""
    return min(states, key=_RANK.__getitem__, default=State.IDLE)


@dataclass(frozen=True)
class Component:
    kind: Kind
    id: str
    state: State
    name: str = ""
    province: str = ""          # province code, "" for the centre's own parts
    centre: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "id": self.id, "name": self.name or self.id,
                "state": self.state.value, "province": self.province, "centre": self.centre,
                "detail": self.detail}
