"""Submission deadlines and the reporting state of each unit, in Vietnam time (+07:00).

"Due by the 3rd of the following month" means: a value received before
00:00 +07:00 on the 4th is on time. A month's report is therefore late at
2024-09-04T00:00:00+07:00 = 2024-09-03T17:00:00Z, whatever the server's own
time zone; December's falls in January of the next year.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from iocwall.streams.clock import VN_TZ
from iocwall.wall.indicators.model import (
    Indicator,
    Period,
    PeriodKind,
    ReportState,
    add_months,
    period_of,
)
from iocwall.wall.indicators.provinces import MERGER_DATE, Provinces
from iocwall.wall.indicators.registry import Registry
from iocwall.wall.indicators.store import ValueStore


def due_at(indicator: Indicator, period: Period) -> datetime | None:
    """The first instant (+07:00) at which a value for ``period`` is late; None: no deadline."""
    rule = indicator.deadline
    if rule is None:
        return None
    last_day = period.end - timedelta(days=1)
    month = add_months(date(last_day.year, last_day.month, 1), rule.months_after)
    due_day = month.replace(day=rule.day) + timedelta(days=1)
    return datetime(due_day.year, due_day.month, due_day.day, tzinfo=VN_TZ)


def state_of(indicator: Indicator, period: Period, submitted: datetime | None,
             now: datetime) -> ReportState:
    due = due_at(indicator, period)
    if submitted is not None:
        return ReportState.LATE if due is not None and submitted >= due else ReportState.ON_TIME
    return ReportState.MISSING if due is not None and now >= due else ReportState.PENDING


def last_due_period(kind: PeriodKind, indicator: Indicator, now: datetime) -> Period:
    """The latest period of ``kind`` whose deadline has passed at ``now`` ("this month's
    report" on 5 December is November's; on 2 December still October's)."""
    period = period_of(kind, now)
    for _ in range(24):
        due = due_at(indicator, period)
        if due is not None and due <= now:
            return period
        previous = period.start - timedelta(days=1)
        period = period_of(kind, datetime(previous.year, previous.month, previous.day,
                                          tzinfo=VN_TZ))
    return period


@dataclass(frozen=True)
class UnitReport:
    province: str
    state: ReportState
    indicators: dict[str, ReportState]

    def public(self) -> dict:
        return {"province": self.province, "state": self.state.value,
                "indicators": {k: v.value for k, v in self.indicators.items()}}


_WORST = [ReportState.MISSING, ReportState.LATE, ReportState.PENDING, ReportState.ON_TIME]


async def reporting(values: ValueStore, registry: Registry, provinces: Provinces,
                    period_key: str, now: datetime) -> list[UnitReport]:
    """Each unit's state for the monthly report of ``period_key``: the worst over the
    reported monthly indicators (one missing indicator makes the report missing)."""
    monthly = [i for i in registry.reported() if i.period is PeriodKind.MONTH]
    period = Period.parse(PeriodKind.MONTH, period_key)
    units = provinces.historical if period.start < MERGER_DATE else \
        [p.name for p in provinces.current]
    per_unit: dict[str, dict[str, ReportState]] = {u: {} for u in units}
    for indicator in monthly:
        first = await values.reported(indicator.id, period.key)
        for unit in units:
            got = first.get(unit)
            when = datetime.fromisoformat(got.submitted_at) if got else None
            per_unit[unit][indicator.id] = state_of(indicator, period, when, now)
    return [UnitReport(u, min(states.values(), key=_WORST.index) if states
                       else ReportState.ON_TIME, states) for u, states in per_unit.items()]
