"""Roll values of earlier units up to today's units, and units up to the nation.

Counts are summed. Rates are weighted by their weight indicator (dossiers)
when every contributing unit has a weight; otherwise they are an unweighted
mean that says so in ``method`` and ``label``: never a silent mean of
percentages. Every rolled value names the units it came from and the ones
that had no value.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from iocwall.wall.indicators.model import Aggregation, Indicator, Value
from iocwall.wall.indicators.provinces import Provinces

METHOD_LABELS = {
    "reported": ("số liệu báo cáo", "as reported"),
    "sum": ("tổng các đơn vị", "sum of units"),
    "weighted": ("bình quân gia quyền theo hồ sơ", "weighted by dossiers"),
    "mean": ("trung bình cộng không trọng số", "unweighted mean"),
}


@dataclass(frozen=True)
class Rolled:
    province: str                      # today's unit, or "" for the nation
    value: float | None
    method: str                        # reported | sum | weighted | mean
    units: tuple[str, ...]             # units whose values went in
    missing: tuple[str, ...] = ()      # units of the group without a value
    periods: tuple[str, ...] = field(default=())

    @property
    def label(self) -> dict[str, str]:
        vi, en = METHOD_LABELS[self.method]
        if self.missing:
            vi += f" ({len(self.units)}/{len(self.units) + len(self.missing)} đơn vị có số liệu)"
            en += f" ({len(self.units)} of {len(self.units) + len(self.missing)} units reported)"
        return {"vi": vi, "en": en}

    def public(self) -> dict[str, Any]:
        return {"province": self.province, "value": self.value, "method": self.method,
                "label": self.label, "units": list(self.units), "missing": list(self.missing),
                "periods": list(self.periods)}


def combine(indicator: Indicator, group: Iterable[str], values: Mapping[str, float],
            weights: Mapping[str, float] | None = None, name: str = "") -> Rolled:
    """One value for the units in ``group`` from ``values`` (unit -> value)."""
    members = tuple(dict.fromkeys(group))
    have = tuple(u for u in members if u in values)
    missing = tuple(u for u in members if u not in values)
    if not have:
        return Rolled(name, None, _method(indicator, False), (), missing)
    if len(members) == 1:
        return Rolled(name, values[have[0]], "reported", have, missing)
    numbers = [values[u] for u in have]
    if indicator.aggregation is Aggregation.SUM:
        return Rolled(name, sum(numbers), "sum", have, missing)
    weighted = indicator.aggregation is Aggregation.WEIGHTED and weights is not None and \
        all(weights.get(u, 0) > 0 for u in have)
    if weighted and weights is not None:
        total = sum(weights[u] for u in have)
        return Rolled(name, sum(values[u] * weights[u] for u in have) / total, "weighted",
                      have, missing)
    return Rolled(name, sum(numbers) / len(numbers), "mean", have, missing)


def _method(indicator: Indicator, weighted: bool) -> str:
    if indicator.aggregation is Aggregation.SUM:
        return "sum"
    return "weighted" if weighted else "mean"


def latest_by_unit(values: Iterable[Value]) -> dict[str, Value]:
    """The newest period's current value per unit."""
    out: dict[str, Value] = {}
    for v in values:
        if v.province not in out or v.period_start >= out[v.province].period_start:
            out[v.province] = v
    return out


def to_current(indicator: Indicator, provinces: Provinces, values: Iterable[Value],
               weights: Iterable[Value] = ()) -> list[Rolled]:
    """Each of today's units from the latest values of the units merged into it."""
    latest = latest_by_unit(values)
    latest_w = latest_by_unit(weights)
    numbers = {u: v.value for u, v in latest.items()}
    w = {u: v.value for u, v in latest_w.items()} if latest_w else None
    out = []
    for province in provinces.current:
        # a unit reporting under its own name after the merger supersedes its members
        own = latest.get(province.name)
        if own is not None and own.period_start >= "2025-07-01":
            out.append(Rolled(province.name, own.value, "reported", (province.name,), (),
                              (own.period,)))
            continue
        rolled = combine(indicator, province.members_before_2025, numbers, w, province.name)
        periods = tuple(sorted({latest[u].period for u in rolled.units}))
        out.append(Rolled(rolled.province, rolled.value, rolled.method, rolled.units,
                          rolled.missing, periods))
    return out


def national(indicator: Indicator, provinces: Provinces, values: Iterable[Value],
             weights: Iterable[Value] = ()) -> Rolled:
    """The nation straight from the units that reported (not a mean of today's units'
    means): the same contributors as ``to_current`` picks, combined in one step."""
    values, weights = list(values), list(weights)
    latest = latest_by_unit(values)
    latest_w = latest_by_unit(weights)
    units = to_current(indicator, provinces, values, weights)
    contributors = [u for r in units for u in r.units]
    missing = [u for r in units for u in r.missing]
    numbers = {u: latest[u].value for u in contributors}
    w = {u: v.value for u, v in latest_w.items()} if latest_w else None
    rolled = combine(indicator, [*contributors, *missing], numbers, w)
    periods = tuple(sorted({p for r in units for p in r.periods}))
    return Rolled("", rolled.value, rolled.method, rolled.units, rolled.missing, periods)
