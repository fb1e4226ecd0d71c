"""The nouns of the indicator side: indicators, periods, targets, values, statuses."""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from iocwall.streams.clock import VN_TZ


class PeriodKind(str, enum.Enum):
    DAY = "day"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"
    LIVE = "live"            # a reading at an instant (analytics, stream health)


class Direction(str, enum.Enum):
    HIGHER = "higher"        # higher is better (online dossiers)
    LOWER = "lower"          # lower is better (waiting time)


class Source(str, enum.Enum):
    REPORTED = "reported"    # provinces submit it
    COMPUTED = "computed"    # derived here from other values
    LIVE = "live"            # measured by analytics / stream health


class Owner(str, enum.Enum):
    PROVINCE = "province"
    NATIONAL = "national"


class Aggregation(str, enum.Enum):
    """How values of several units combine into one (roll-up to today's province, nation)."""
    SUM = "sum"              # counts
    WEIGHTED = "weighted"    # rates, weighted by another indicator (dossiers); falls back to MEAN
    MEAN = "mean"            # rates without weights: an unweighted mean, always labelled so


class Status(str, enum.Enum):
    MEETS = "meets"          # at or past the target
    NEAR = "near"            # inside the warning band
    BELOW = "below"          # misses the target (on the wrong side for LOWER too)
    NO_TARGET = "no_target"


class ReportState(str, enum.Enum):
    ON_TIME = "on_time"
    LATE = "late"
    MISSING = "missing"      # deadline passed, nothing submitted
    PENDING = "pending"      # not due yet, nothing submitted


_PERIOD = {
    PeriodKind.DAY: re.compile(r"^(\d{4})-(\d{2})-(\d{2})$"),
    PeriodKind.MONTH: re.compile(r"^(\d{4})-(\d{2})$"),
    PeriodKind.QUARTER: re.compile(r"^(\d{4})-Q([1-4])$"),
    PeriodKind.YEAR: re.compile(r"^(\d{4})$"),
}


@dataclass(frozen=True, order=True)
class Period:
    """A reporting period: first day and the day after its last day (half-open)."""
    start: date
    end: date
    key: str = field(compare=False)

    @classmethod
    def parse(cls, kind: PeriodKind, text: str) -> Period:
        """``2024-08`` (month), ``2024-Q3``, ``2024``, ``2024-08-15``; ValueError otherwise."""
        pattern = _PERIOD.get(kind)
        match = pattern.match(text) if pattern else None
        if match is None:
            raise ValueError(f"period '{text}' is not a {kind.value} "
                             f"(e.g. {example_period(kind)})")
        year = int(match.group(1))
        if kind is PeriodKind.DAY:
            start = date(year, int(match.group(2)), int(match.group(3)))
            return cls(start, start + timedelta(days=1), text)
        if kind is PeriodKind.MONTH:
            month = int(match.group(2))
            if not 1 <= month <= 12:
                raise ValueError(f"period '{text}': month must be 01-12")
            return cls(date(year, month, 1), add_months(date(year, month, 1), 1), text)
        if kind is PeriodKind.QUARTER:
            first = date(year, 3 * int(match.group(2)) - 2, 1)
            return cls(first, add_months(first, 3), text)
        return cls(date(year, 1, 1), date(year + 1, 1, 1), text)

    def start_at(self) -> datetime:
        return datetime(self.start.year, self.start.month, self.start.day, tzinfo=VN_TZ)


def example_period(kind: PeriodKind) -> str:
    return {PeriodKind.DAY: "2024-08-15", PeriodKind.MONTH: "2024-08",
            PeriodKind.QUARTER: "2024-Q3", PeriodKind.YEAR: "2024"}.get(kind, "")


def add_months(day: date, months: int) -> date:
    """The same day-of-month ``months`` later (only called with day 1)."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, day.day)


def period_of(kind: PeriodKind, when: datetime) -> Period:
    """The period that contains ``when`` (taken in Vietnam time)."""
    local = when.astimezone(VN_TZ)
    key = {PeriodKind.DAY: f"{local:%Y-%m-%d}", PeriodKind.MONTH: f"{local:%Y-%m}",
           PeriodKind.QUARTER: f"{local.year}-Q{(local.month - 1) // 3 + 1}",
           PeriodKind.YEAR: f"{local.year}"}[kind]
    return Period.parse(kind, key)


@dataclass(frozen=True)
class Target:
    """A target in force for periods starting on or after ``since``."""
    since: date
    value: float
    warn: float | None = None      # warning band edge: between warn and value = NEAR


@dataclass(frozen=True)
class DeadlineRule:
    """Due by the end of day ``day`` of the ``months_after``-th month after the period ends,
    counted from the month the period ends in (the 3rd of the following month = 1, 3)."""
    months_after: int
    day: int


@dataclass(frozen=True)
class Indicator:
    id: str
    name_vi: str
    name_en: str
    unit: str                      # "%", "hồ sơ", "người", "phút"
    period: PeriodKind
    direction: Direction
    source: Source
    owner: Owner
    aggregation: Aggregation
    minimum: float | None = None
    maximum: float | None = None
    weight: str = ""               # indicator id whose values weight this one (WEIGHTED)
    decimals: int = 2
    targets: tuple[Target, ...] = ()
    deadline: DeadlineRule | None = None
    stale_after_days: float | None = None
    also_periods: tuple[PeriodKind, ...] = ()
    ratio: tuple[str, str] | None = None          # (numerator id, denominator id), in %
    note_vi: str = ""
    note_en: str = ""
    unit_en: str = ""              # the unit in English ("dossiers"); "" = same as unit

    def parse_period(self, text: str) -> Period:
        """The period ``text`` names, in this indicator's period kind or one it also accepts."""
        kinds = [self.period, *self.also_periods]
        for kind in kinds:
            try:
                return Period.parse(kind, text)
            except ValueError:
                continue
        raise ValueError(f"period '{text}' is not a " + " or ".join(
            f"{k.value} (e.g. {example_period(k)})" for k in kinds if k is not PeriodKind.LIVE))

    def target_for(self, period: Period) -> Target | None:
        """The target in force at the start of ``period`` (targets change over time)."""
        chosen = None
        for target in sorted(self.targets, key=lambda t: t.since):
            if target.since <= period.start:
                chosen = target
        return chosen

    def status(self, value: float, period: Period) -> Status:
        target = self.target_for(period)
        if target is None:
            return Status.NO_TARGET
        better = value >= target.value if self.direction is Direction.HIGHER \
            else value <= target.value
        if better:
            return Status.MEETS
        if target.warn is not None:
            near = value >= target.warn if self.direction is Direction.HIGHER \
                else value <= target.warn
            if near:
                return Status.NEAR
        return Status.BELOW

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": {"vi": self.name_vi, "en": self.name_en}, "unit": self.unit,
            "unit_en": self.unit_en or self.unit, "period": self.period.value,
            "direction": self.direction.value,
            "source": self.source.value, "owner": self.owner.value,
            "aggregation": self.aggregation.value, "weight": self.weight or None,
            "min": self.minimum, "max": self.maximum, "decimals": self.decimals,
            "targets": [{"since": t.since.isoformat(), "value": t.value, "warn": t.warn}
                        for t in self.targets],
            "deadline": ({"months_after": self.deadline.months_after, "day": self.deadline.day}
                         if self.deadline else None),
            "stale_after_days": self.stale_after_days,
            "also_periods": [k.value for k in self.also_periods],
            "ratio": list(self.ratio) if self.ratio else None,
            "note": {"vi": self.note_vi, "en": self.note_en},
        }


@dataclass(frozen=True)
class Value:
    """One stored value (the current revision) of an indicator for a unit and period."""
    id: int
    indicator: str
    province: str
    period: str
    period_start: str
    value: float
    revision: int
    submitted_at: str
    submitted_by: str
    source: str
    note: str = ""
    superseded: bool = False       # a later revision exists

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Value:
        return cls(id=int(row["id"]), indicator=row["indicator"], province=row["province"],
                   period=row["period"], period_start=row["period_start"],
                   value=float(row["value"]), revision=int(row["revision"]),
                   submitted_at=row["submitted_at"], submitted_by=row["submitted_by"],
                   source=row["source"], note=row["note"],
                   superseded=bool(row.get("superseded", 0)))

    def public(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}
