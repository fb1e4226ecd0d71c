"""What an indicator tile shows, computed server-side: value, status, sparkline, staleness.

One call (``IndicatorService.summary``) gives the leader view every tile of a
scope (the nation, one of today's provinces, or an earlier unit), so the page
renders all KPIs from one response.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from iocwall.wall.indicators.model import Indicator, Period, Status, Value
from iocwall.wall.indicators.provinces import Provinces
from iocwall.wall.indicators.rollup import Rolled, combine, national, to_current

SPARK_POINTS = 24


@dataclass(frozen=True)
class Tile:
    indicator: Indicator
    scope: str                               # "" nation, else a unit's name
    value: float | None
    period: str = ""
    status: Status = Status.NO_TARGET
    target: float | None = None
    method: dict[str, str] = field(default_factory=dict)
    spark: list[tuple[str, float]] = field(default_factory=list)
    stale: bool = False
    updated: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        ind = self.indicator
        return {"id": ind.id, "name": {"vi": ind.name_vi, "en": ind.name_en}, "unit": ind.unit,
                "unit_en": ind.unit_en or ind.unit, "decimals": ind.decimals,
                "direction": ind.direction.value,
                "source": ind.source.value, "scope": self.scope, "value": self.value,
                "period": self.period, "status": self.status.value, "target": self.target,
                "method": self.method, "spark": [[p, v] for p, v in self.spark],
                "stale": self.stale, "updated": self.updated, "detail": self.detail}


def by_period(values: Iterable[Value]) -> dict[str, list[Value]]:
    grouped: dict[str, list[Value]] = defaultdict(list)
    for v in values:
        grouped[v.period].append(v)
    return dict(sorted(grouped.items(), key=lambda kv: (kv[1][0].period_start, kv[0])))


def scope_value(indicator: Indicator, provinces: Provinces, scope: str, values: list[Value],
                weights: list[Value], rollup: bool) -> Rolled:
    """One period's values of every unit -> the value of ``scope``: the nation, today's unit
    rolled up from the units merged into it (``rollup``), or the unit as reported."""
    if not scope:
        return national(indicator, provinces, values, weights)
    if rollup and provinces.is_current(scope):
        for rolled in to_current(indicator, provinces, values, weights):
            if rolled.province == scope:
                return rolled
    numbers = {v.province: v.value for v in values}
    return combine(indicator, [scope], numbers, None, scope)


def build_tile(indicator: Indicator, provinces: Provinces, scope: str, values: list[Value],
               weights: list[Value], now: datetime, rollup: bool = False) -> Tile:
    """The tile of ``indicator`` for ``scope`` from all its current values."""
    periods = by_period(values)
    weights_by = by_period(weights)
    spark: list[tuple[str, float]] = []
    last: tuple[str, Rolled] | None = None
    for key, group in periods.items():
        rolled = scope_value(indicator, provinces, scope, group, weights_by.get(key, []),
                             rollup)
        if rolled.value is not None:
            spark.append((key, rolled.value))
            last = (key, rolled)
    if last is None:
        return Tile(indicator, scope, None)
    key, rolled = last
    period = indicator.parse_period(key)
    target = indicator.target_for(period)
    updated = max(v.submitted_at for v in periods[key])
    return Tile(indicator, scope, rolled.value, key, indicator.status(rolled.value, period)
                if rolled.value is not None else Status.NO_TARGET,
                target.value if target else None, rolled.label, spark[-SPARK_POINTS:],
                _stale(indicator, period, now), updated,
                {"units": len(rolled.units), "missing": len(rolled.missing)})


def _stale(indicator: Indicator, period: Period, now: datetime) -> bool:
    if indicator.stale_after_days is None:
        return False
    return now - period.start_at() > timedelta(days=indicator.stale_after_days) + \
        (period.end - period.start)


def ratio_values(indicator: Indicator, numerators: list[Value], denominators: list[Value]
                 ) -> list[Value]:
    """Derived values numerator / denominator in %, per unit and period both have."""
    dens = {(v.province, v.period): v for v in denominators if v.value > 0}
    out = []
    for num in numerators:
        den = dens.get((num.province, num.period))
        if den is None:
            continue
        out.append(Value(0, indicator.id, num.province, num.period, num.period_start,
                         100.0 * num.value / den.value, 1, max(num.submitted_at,
                                                               den.submitted_at),
                         "computed", "computed"))
    return out


def unit_map(indicator: Indicator, provinces: Provinces, values: list[Value],
             weights: list[Value], historical: bool) -> dict[str, Any]:
    """The latest period's value of every unit (today's 34 rolled up, or the 63 as reported)
    with its status: the data of the grid map and the ranking."""
    periods = by_period(values)
    if not periods:
        return {"period": "", "units": []}
    key = next(reversed(periods))
    group = periods[key]
    period = indicator.parse_period(key)
    if historical:
        numbers = {v.province: v.value for v in group}
        rows = [Rolled(u, numbers.get(u), "reported", (u,) if u in numbers else (),
                       () if u in numbers else (u,)) for u in provinces.historical]
    else:
        rows = to_current(indicator, provinces, group, by_period(weights).get(key, []))
    units = []
    for r in rows:
        parent = provinces.current_of(r.province) or r.province
        row, col = provinces.cell(parent)
        units.append({**r.public(), "status": indicator.status(r.value, period).value
                      if r.value is not None else "no_data",
                      "current": parent, "row": row, "col": col})
    target = indicator.target_for(period)
    return {"period": key, "target": target.value if target else None, "units": units}
