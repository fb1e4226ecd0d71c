"""Checks on a submitted value before it is stored: indicator, unit, range, period, province.

Raises ApiError with the field at fault, so the API answers 4xx naming it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from iocwall.streams.clock import VN_TZ
from iocwall.wall.access import Principal, Role
from iocwall.wall.errors import ApiError
from iocwall.wall.indicators.model import Indicator, Period, Source
from iocwall.wall.indicators.provinces import MERGER_DATE, Provinces, normalise
from iocwall.wall.indicators.registry import Registry

MAX_NOTE = 1000
SUBMITTERS = frozenset({Role.REGISTRAR, Role.ADMIN})


@dataclass(frozen=True)
class Submission:
    """A value as submitted, before checks (from JSON or a CSV row)."""
    indicator: str
    province: str
    period: str
    value: object
    unit: str | None = None
    revise: bool = False
    reason: str = ""
    note: str = ""


@dataclass(frozen=True)
class Checked:
    """A submission that passed every check."""
    indicator: Indicator
    province: str
    period: Period
    value: float
    revise: bool
    reason: str
    note: str


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(422, "invalid", f"{field}: {message}", field)


def check(sub: Submission, who: Principal, registry: Registry, provinces: Provinces,
          now: datetime | None = None) -> Checked:
    """The checked submission; ApiError (403/404/422) naming the field otherwise."""
    indicator = registry.get(sub.indicator)
    if indicator is None:
        raise ApiError(404, "not_found", f"no indicator '{sub.indicator}' / không có chỉ tiêu",
                       "indicator")
    if indicator.source is not Source.REPORTED:
        raise _invalid("indicator", f"'{indicator.id}' is {indicator.source.value}, not "
                       "reported: it cannot be submitted / chỉ tiêu này không nhập tay")
    if sub.unit is not None and sub.unit.strip() != indicator.unit:
        raise _invalid("unit", f"expected '{indicator.unit}', got '{sub.unit}' / sai đơn vị")
    value = _number(sub.value, indicator)
    period = _period(sub.period, indicator, now or datetime.now(VN_TZ))
    province = _province(sub.province, period, provinces, who)
    if len(sub.note) > MAX_NOTE or len(sub.reason) > MAX_NOTE:
        raise _invalid("note", f"at most {MAX_NOTE} characters")
    if sub.revise and not sub.reason.strip():
        raise _invalid("reason", "a revision needs a reason / sửa số liệu cần nêu lý do")
    return Checked(indicator, province, period, value, sub.revise, sub.reason.strip(),
                   sub.note.strip())


def _number(raw: object, indicator: Indicator) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise _invalid("value", "must be a number / phải là số")
    try:
        value = float(str(raw).strip().replace(",", ".")) if isinstance(raw, str) else float(raw)
    except ValueError:
        raise _invalid("value", f"'{raw}' is not a number / không phải số") from None
    if not math.isfinite(value):
        raise _invalid("value", "must be a finite number / phải là số hữu hạn")
    low, high = indicator.minimum, indicator.maximum
    if (low is not None and value < low) or (high is not None and value > high):
        shown = f"{'' if low is None else low}..{'' if high is None else high}"
        raise _invalid("value", f"{value:g} is outside {shown} {indicator.unit} / ngoài khoảng")
    return value


def _period(text: str, indicator: Indicator, now: datetime) -> Period:
    try:
        period = indicator.parse_period(text.strip())
    except ValueError as exc:
        raise _invalid("period", str(exc)) from None
    if period.start > now.astimezone(VN_TZ).date():
        raise _invalid("period", f"'{text}' has not started yet / kỳ báo cáo chưa bắt đầu")
    return period


def _province(name: str, period: Period, provinces: Provinces, who: Principal) -> str:
    name = normalise(name)
    if not provinces.valid_for(name, period.start):
        when = "before" if period.start < MERGER_DATE else "since"
        raise _invalid("province", f"'{name}' was not a provincial unit {when} 1 July 2025 "
                       "/ không phải đơn vị cấp tỉnh của kỳ này")
    if who.role is Role.REGISTRAR:
        mine = provinces.resolve(who.unit)
        own = provinces.current_of(mine) if mine else None
        if own is None or provinces.current_of(name) != own:
            raise ApiError(403, "forbidden", f"a registrar of '{who.unit}' cannot submit for "
                           f"'{name}' / chỉ được nhập số liệu của tỉnh mình", "province")
    elif who.role not in SUBMITTERS:
        raise ApiError(403, "forbidden", "only registrars and admins submit values", "province")
    return name

