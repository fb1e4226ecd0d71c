"""The indicator registry: read from a TOML file (shipped default or [indicators] registry).

Indicators are configuration, not code: adding the province's 8 monthly
socio-economic indicators is an edit of the TOML file. The file is validated
like config.toml: unknown keys and wrong types are refused with the id and key.
"""
from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from iocwall.wall.indicators.model import (
    Aggregation,
    DeadlineRule,
    Direction,
    Indicator,
    Owner,
    PeriodKind,
    Source,
    Target,
)

DATA_DIR = Path(__file__).resolve().parent / "datasets"
DEFAULT_FILE = DATA_DIR / "indicators.toml"


class RegistryError(Exception):
    """The registry file cannot be used; the message names the file, indicator and key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Target(_Strict):
    since: date
    value: float
    warn: float | None = None


class _Deadline(_Strict):
    months_after: int = Field(ge=0, le=12)
    day: int = Field(ge=1, le=28)           # 28: every month has it


class _Ratio(_Strict):
    numerator: str
    denominator: str


class _Indicator(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    name_vi: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    unit: str = Field(min_length=1)
    unit_en: str = ""
    period: PeriodKind
    also_periods: list[PeriodKind] = Field(default_factory=list)
    direction: Direction
    source: Source
    owner: Owner
    aggregation: Aggregation
    weight: str = ""
    min: float | None = None
    max: float | None = None
    decimals: int = Field(2, ge=0, le=6)
    targets: list[_Target] = Field(default_factory=list)
    deadline: _Deadline | None = None
    ratio: _Ratio | None = None
    stale_after_days: float | None = Field(None, gt=0)
    note_vi: str = ""
    note_en: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> _Indicator:
        if self.source is Source.REPORTED and self.deadline is None:
            raise ValueError("a reported indicator needs a deadline rule")
        if self.source is Source.COMPUTED and self.owner is Owner.PROVINCE and self.ratio is None:
            raise ValueError("a computed province indicator needs a ratio")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is above max")
        return self

    def build(self) -> Indicator:
        return Indicator(
            id=self.id, name_vi=self.name_vi, name_en=self.name_en, unit=self.unit,
            period=self.period, direction=self.direction, source=self.source, owner=self.owner,
            aggregation=self.aggregation, minimum=self.min, maximum=self.max,
            weight=self.weight, decimals=self.decimals,
            targets=tuple(Target(t.since, t.value, t.warn) for t in self.targets),
            deadline=DeadlineRule(self.deadline.months_after, self.deadline.day)
            if self.deadline else None,
            stale_after_days=self.stale_after_days, also_periods=tuple(self.also_periods),
            ratio=(self.ratio.numerator, self.ratio.denominator) if self.ratio else None,
            note_vi=self.note_vi, note_en=self.note_en, unit_en=self.unit_en)


class _File(_Strict):
    indicator: list[_Indicator]


class Registry:
    """The configured indicators, by id, in file order."""

    def __init__(self, indicators: list[Indicator]) -> None:
        self._by_id = {i.id: i for i in indicators}
        if len(self._by_id) != len(indicators):
            raise RegistryError("two indicators share an id")
        for ind in indicators:
            for ref in (ind.weight, *(ind.ratio or ())):
                if ref and ref not in self._by_id:
                    raise RegistryError(f"{ind.id}: refers to unknown indicator '{ref}'")

    @classmethod
    def load(cls, path: str | Path = "") -> Registry:
        """Parse ``path`` (default: the shipped file). Raises RegistryError."""
        file = Path(path) if path else DEFAULT_FILE
        try:
            raw = tomllib.loads(file.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise RegistryError(f"{file}: {exc}") from None
        try:
            parsed = _File.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = _where(raw, first["loc"])
            raise RegistryError(f"{file}: {where}: {first['msg']}") from None
        return cls([item.build() for item in parsed.indicator])

    def get(self, indicator_id: str) -> Indicator | None:
        return self._by_id.get(indicator_id)

    def all(self) -> list[Indicator]:
        return list(self._by_id.values())

    def reported(self) -> list[Indicator]:
        return [i for i in self._by_id.values() if i.deadline is not None]


def _where(raw: dict, loc: tuple) -> str:
    """'indicator <id>: key' for an error location like ('indicator', 3, 'unit')."""
    if len(loc) >= 2 and loc[0] == "indicator" and isinstance(loc[1], int):
        items = raw.get("indicator", [])
        ident = items[loc[1]].get("id", f"#{loc[1] + 1}") if loc[1] < len(items) else loc[1]
        rest = ".".join(str(p) for p in loc[2:])
        return f"indicator '{ident}'" + (f": {rest}" if rest else "")
    return ".".join(str(p) for p in loc)
