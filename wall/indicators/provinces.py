"""Provinces as the indicators see them: today's 34 units, the 63 before 1 July 2025,
how they map, and each unit's cartogram cell.

The units come from the one province list (wall/provinces); the cells from
``province_grid.csv``. A value is stored against the unit it was reported for; a
period that starts before the merger date must name one of the 63 earlier units, a
later one one of today's 34.
"""
from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

from iocwall.wall.indicators.registry import DATA_DIR
from iocwall.wall.provinces import MERGER_DATE, Province, all_units, code_of, normalise

__all__ = ["GRID_FILE", "MERGER_DATE", "Province", "Provinces", "normalise", "read_csv_rows"]
GRID_FILE = DATA_DIR / "province_grid.csv"


def read_csv_rows(path: Path) -> list[dict[str, str]]:
    text = path.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return list(csv.DictReader(io.StringIO("\n".join(lines))))


class Provinces:
    def __init__(self, current: list[Province],
                 cells: dict[str, tuple[int, int]] | None = None) -> None:
        self.current = current
        self._cells = cells or {}
        self._current = {p.name: p for p in current}
        self._parent = {m: p.name for p in current for m in p.members_before_2025}
        self._by_code = {code_of(n): n for n in [*self._current, *self._parent]}

    @classmethod
    def load(cls, grid: Path = GRID_FILE) -> Provinces:
        cells = {normalise(r["province"]): (int(r["row"]), int(r["col"]))
                 for r in read_csv_rows(grid)}
        return cls(list(all_units()), cells)

    def cell(self, name: str) -> tuple[int, int]:
        """The unit's (row, col) on the cartogram; (0, 0) when it has none."""
        return self._cells.get(normalise(name), (0, 0))

    def public(self, province: Province) -> dict:
        row, col = self.cell(province.name)
        return {"name": province.name, "code": province.code, "kind": province.kind,
                "members": list(province.members_before_2025), "row": row, "col": col}

    @property
    def historical(self) -> list[str]:
        return [m for p in self.current for m in p.members_before_2025]

    def is_current(self, name: str) -> bool:
        return normalise(name) in self._current

    def is_historical(self, name: str) -> bool:
        return normalise(name) in self._parent

    def valid_for(self, name: str, period_start: date) -> bool:
        """Whether ``name`` was a provincial-level unit at ``period_start``."""
        return self.is_historical(name) if period_start < MERGER_DATE else self.is_current(name)

    def current_of(self, name: str) -> str | None:
        """Today's unit that ``name`` (an earlier or a current unit) belongs to."""
        name = normalise(name)
        if name in self._parent:
            return self._parent[name]
        return name if name in self._current else None

    def resolve(self, unit: str) -> str | None:
        """The unit named by an account's ``unit``: its name or its code (HA-NOI)."""
        name = normalise(unit)
        if name in self._current or name in self._parent:
            return name
        return self._by_code.get(unit.strip().upper())

    def get(self, name: str) -> Province | None:
        return self._current.get(normalise(name))

    def units_of(self, current: str) -> tuple[str, ...]:
        """Every name values of ``current`` may be stored under: itself and its members."""
        province = self.get(current)
        if province is None:
            return ()
        return tuple(dict.fromkeys((province.name, *province.members_before_2025)))
