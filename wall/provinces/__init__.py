"""The 34 provincial units since 1 July 2025, their codes, and the 63 earlier names.

The one list of provinces (``provinces_2025.csv`` beside this file), read by the
camera registry (a registrar's unit) and by the indicators (who reports what).

A province is stored by a short ASCII code (``HA-NOI``) that is also a registrar's
``unit``; people type names with or without diacritics ("Hà Nội", "ha noi", "HA-NOI").
The 63 earlier units are accepted only where historical data is meant
(``resolve(..., historical=True)``) and map onto today's unit.
"""
from __future__ import annotations

import csv
import functools
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from iocwall.wall.text import fold

DATA = Path(__file__).with_name("provinces_2025.csv")   # shipped with the package
MERGER_DATE = date(2025, 7, 1)        # National Assembly Resolution 202/2025/QH15


@dataclass(frozen=True)
class Province:
    code: str                       # e.g. HA-NOI: the registrar's unit
    name: str                       # e.g. Hà Nội
    kind: str                       # city | province
    members_before_2025: tuple[str, ...]


class UnknownProvince(ValueError):
    """A name that is none of the 34 units (nor, for historical data, of the 63)."""


def code_of(name: str) -> str:
    """The ASCII code of a unit as user accounts store it (``Hà Nội`` -> ``HA-NOI``,
    ``Bà Rịa - Vũng Tàu`` -> ``BA-RIA-VUNG-TAU``)."""
    return fold(name).upper().replace(" ", "-")


def normalise(name: str) -> str:
    """One spelling for comparisons (NFC, trimmed, single spaces)."""
    return " ".join(unicodedata.normalize("NFC", name).split())


@functools.cache
def all_units() -> tuple[Province, ...]:
    lines = [ln for ln in DATA.read_text(encoding="utf-8").splitlines() if not ln.startswith("#")]
    return tuple(Province(code_of(r["province"]), normalise(r["province"]), r["kind"].strip(),
                          tuple(normalise(m) for m in r["members_before_2025"].split(";")))
                 for r in csv.DictReader(lines))


@functools.cache
def _index() -> tuple[dict[str, Province], dict[str, Province]]:
    today: dict[str, Province] = {}
    earlier: dict[str, Province] = {}
    for p in all_units():
        today[fold(p.name)] = today[fold(p.code)] = p
        for member in p.members_before_2025:
            earlier[fold(member)] = p
    for alias, name in (("tp hcm", "Hồ Chí Minh"), ("thanh pho ho chi minh", "Hồ Chí Minh"),
                        ("thua thien hue", "Huế")):
        today.setdefault(alias, today[fold(name)])
    return today, earlier


def resolve(text: str, historical: bool = False) -> Province:
    """Today's unit for ``text``; raises UnknownProvince with a message saying what to type."""
    key = fold(text or "")
    key = re.sub(r"^(tinh|thanh pho|tp) ", "", key)
    today, earlier = _index()
    if key in today:
        return today[key]
    if key in earlier:
        if historical:
            return earlier[key]
        unit = earlier[key]
        raise UnknownProvince(f"'{text}' was merged into {unit.name} on 1 July 2025: use "
                              f"'{unit.name}' / đã sáp nhập vào {unit.name}")
    raise UnknownProvince(f"'{text}' is not one of the 34 provincial units (e.g. Hà Nội, "
                          "Huế, Đà Nẵng) / không phải tỉnh, thành phố hiện hành")


def by_code(code: str) -> Province | None:
    return next((p for p in all_units() if p.code == code), None)
