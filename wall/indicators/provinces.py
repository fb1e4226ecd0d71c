"""Provinces as data: today's 34 units, the 63 before 1 July 2025, and how they map.

Read from the repository's copies of ``provinces_2025.csv`` (merger table) and
``province_grid.csv`` (cartogram cells). A value is stored against the unit it
was reported for; a period that starts before the merger date must name one of
the 63 earlier units, a later one one of today's 34.
"""
from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from iocwall.wall.indicators.registry import DATA_DIR

MERGER_DATE = date(2025, 7, 1)        # National Assembly Resolution 202/2025/QH15
PROVINCES_FILE = DATA_DIR / "provinces_2025.csv"
GRID_FILE = DATA_DIR / "province_grid.csv"


@dataclass(frozen=True)
class Province:
    name: str
    kind: str                          # "city" (centrally-run) or "province"
    members: tuple[str, ...]           # the earlier units merged into it
    row: int
    col: int

    def public(self) -> dict:
        return {"name": self.name, "code": unit_code(self.name), "kind": self.kind,
                "members": list(self.members),
                "row": self.row, "col": self.col}


def read_csv_rows(path: Path) -> list[dict[str, str]]:
    text = path.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return list(csv.DictReader(io.StringIO("\n".join(lines))))


def normalise(name: str) -> str:
    """One spelling for comparisons (NFC, trimmed, single spaces)."""
    return " ".join(unicodedata.normalize("NFC", name).split())


def unit_code(name: str) -> str:
    """The ASCII code of a unit as user accounts store it (``Hà Nội`` -> ``HA-NOI``,
    ``Bà Rịa - Vũng Tàu`` -> ``BA-RIA-VUNG-TAU``): at most 16 of A-Z 0-9 -, unique."""
    plain = unicodedata.normalize("NFKD", name.replace("đ", "d").replace("Đ", "D"))
    ascii_only = plain.encode("ascii", "ignore").decode().upper()
    return re.sub(r"[^A-Z0-9]+", "-", ascii_only).strip("-")


class Provinces:
    def __init__(self, current: list[Province]) -> None:
        self.current = current
        self._current = {p.name: p for p in current}
        self._parent = {m: p.name for p in current for m in p.members}
        self._by_code = {unit_code(n): n for n in [*self._current, *self._parent]}

    @classmethod
    def load(cls, path: Path = PROVINCES_FILE, grid: Path = GRID_FILE) -> Provinces:
        cells = {normalise(r["province"]): (int(r["row"]), int(r["col"]))
                 for r in read_csv_rows(grid)}
        units = []
        for row in read_csv_rows(path):
            name = normalise(row["province"])
            members = tuple(normalise(m) for m in row["members_before_2025"].split(";"))
            r, c = cells.get(name, (0, 0))
            units.append(Province(name, row["kind"].strip(), members, r, c))
        return cls(units)

    @property
    def historical(self) -> list[str]:
        return [m for p in self.current for m in p.members]

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
        return tuple(dict.fromkeys((province.name, *province.members)))
