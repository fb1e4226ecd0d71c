"""The health board: every component's state at one instant, rolled up per province and centre.

A registrar's board holds only its province's cameras (``Board.scoped``); the centre's own
parts (nodes, store, bus, disk, certificate) are for admins and technicians.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from iocwall.wall import provinces
from iocwall.wall.health.cameras import camera_online
from iocwall.wall.health.model import Component, Kind, State, worst


@dataclass(frozen=True)
class Board:
    time: str                       # ISO 8601, +07:00
    components: tuple[Component, ...]

    def cameras(self) -> list[Component]:
        return [c for c in self.components if c.kind is Kind.CAMERA]

    def scoped(self, province: str | None) -> Board:
        """Only ``province``'s cameras (None: everything)."""
        if province is None:
            return self
        return Board(self.time, tuple(c for c in self.components
                                      if c.kind is Kind.CAMERA and c.province == province))

    def provinces(self) -> list[dict[str, Any]]:
        """Per province, then per centre: the worst state and the camera counts by state."""
        by_province: dict[str, list[Component]] = {}
        for cam in self.cameras():
            by_province.setdefault(cam.province, []).append(cam)
        out = []
        for code in sorted(by_province):
            cams = by_province[code]
            centres: dict[str, list[Component]] = {}
            for cam in cams:
                centres.setdefault(cam.centre, []).append(cam)
            unit = provinces.by_code(code) if code else None
            out.append({"province": code, "name": unit.name if unit else code,
                        **_rollup(cams),
                        "centres": [{"centre": name, **_rollup(members)}
                                    for name, members in sorted(centres.items())]})
        return out

    def public(self) -> dict[str, Any]:
        system = [c for c in self.components if c.kind is not Kind.CAMERA]
        counts: dict[str, dict[str, int]] = {}
        for c in self.components:
            counts.setdefault(c.kind.value, {}).setdefault(c.state.value, 0)
            counts[c.kind.value][c.state.value] += 1
        return {"time": self.time, "state": worst([c.state for c in self.components]).value,
                "summary": counts, "provinces": self.provinces(),
                "system": [c.public() for c in system],
                "cameras": [c.public() for c in self.cameras()]}


def _rollup(cams: list[Component]) -> dict[str, Any]:
    counts = Counter(c.state.value for c in cams)
    observed = sum(n for s, n in counts.items() if s not in (State.IDLE.value,))
    return {"state": worst([c.state for c in cams]).value,
            "cameras": {s.value: counts.get(s.value, 0)
                        for s in (State.OK, State.DEGRADED, State.DOWN, State.IDLE)}
            | {"total": len(cams), "observed": observed,
               # live, or idle and reachable by the probe: what province_cameras_low counts
               "online": sum(1 for c in cams if camera_online(c))}}
