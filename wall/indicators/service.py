"""The indicator side of one server: registry, provinces, values, live readings, audit.

Services owns one ``IndicatorService``; the API, the CSV importer and the demo
loader all submit through ``submit`` so that every value is checked and audited
the same way.
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from iocwall.streams.clock import VN_TZ
from iocwall.wall.access import Principal
from iocwall.wall.audit import AuditLog
from iocwall.wall.bus import Bus
from iocwall.wall.indicators import deadlines
from iocwall.wall.indicators.live import (
    CameraProvince,
    LiveIndicators,
    cameras_online,
    province_attribute,
)
from iocwall.wall.indicators.model import Indicator, Period, PeriodKind, Source, Status, Value
from iocwall.wall.indicators.provinces import Provinces
from iocwall.wall.indicators.registry import Registry
from iocwall.wall.indicators.store import ValueStore
from iocwall.wall.indicators.tiles import Tile, build_tile, ratio_values, unit_map
from iocwall.wall.indicators.validation import Submission, check
from iocwall.wall.store import Store

if TYPE_CHECKING:
    from iocwall.streams.contract import MediaService

log = logging.getLogger(__name__)


class IndicatorService:
    def __init__(self, store: Store, audit: AuditLog, registry: Registry | None = None,
                 provinces: Provinces | None = None, media: MediaService | None = None,
                 camera_province: CameraProvince = province_attribute) -> None:
        """``media``: the media service (its cameras' states feed the cameras-online tile);
        ``camera_province`` maps such a camera to its province."""
        self.registry = registry or Registry.load()
        self.provinces = provinces or Provinces.load()
        self.values = ValueStore(store)
        self.audit = audit
        self.media = media
        self.camera_province = camera_province
        # camera id -> its unit as the camera registry has it (code, e.g. HA-NOI), kept by
        # Services: the media's statuses carry no province
        self.camera_units: dict[str, str] = {}
        self.live = LiveIndicators(self._province_of_camera_id, unit_name=self.unit_name)
        self.clock: Callable[[], datetime] = lambda: datetime.now(VN_TZ)
        # a province's camera availability (%, "" = the nation), set by the health service
        # (wall/health/availability.py); None: the tile has no value
        self.availability: Callable[[str], Awaitable[float | None]] | None = None

    async def start(self, bus: Bus) -> None:
        await self.live.start(bus)

    async def stop(self) -> None:
        await self.live.stop()

    # ------------------------------------------------------------------ submissions
    async def submit(self, sub: Submission, who: Principal, source: str = "api",
                     client: str = "") -> tuple[Value, Value | None]:
        """Check, store and audit one value. Raises ApiError (4xx) for bad input."""
        checked = check(sub, who, self.registry, self.provinces, self.clock())
        value, previous = await self.values.submit(checked, who.name, source)
        action = "indicator.revise" if previous else "indicator.submit"
        target = f"indicator:{value.indicator}/{value.province}/{value.period}"
        await self.audit.record(who, action, target,
                                _summary(previous) if previous else None,
                                {**_summary(value), "source": source}, client)
        return value, previous

    # ------------------------------------------------------------------ reading
    async def current(self, indicator_id: str) -> list[Value]:
        indicator = self.registry.get(indicator_id)
        if indicator is not None and indicator.ratio is not None:
            num, den = indicator.ratio
            return ratio_values(indicator, await self.values.current(num),
                                await self.values.current(den))
        return await self.values.current(indicator_id)

    async def tiles(self, scope: str = "", rollup: bool = False) -> list[Tile]:
        """Every indicator's tile for the nation ("") or one unit."""
        now = self.clock()
        out = []
        for indicator in self.registry.all():
            if indicator.id == "camera_availability":
                out.append(await self._availability_tile(indicator, scope))
            elif indicator.source is Source.LIVE:
                out.append(self._live_tile(indicator.id, scope))
            elif indicator.id in ("reports_missing", "reports_late"):
                if not scope:
                    out.append(await self._reports_tile(indicator.id, now))
            else:
                weights = await self.current(indicator.weight) if indicator.weight else []
                out.append(build_tile(indicator, self.provinces, scope,
                                      await self.current(indicator.id), weights, now, rollup))
        return out

    async def unit_map(self, indicator_id: str, historical: bool) -> dict[str, Any]:
        indicator = self.registry.get(indicator_id)
        assert indicator is not None
        weights = await self.current(indicator.weight) if indicator.weight else []
        return unit_map(indicator, self.provinces, await self.current(indicator_id), weights,
                        historical)

    async def reporting(self, period: str = "") -> dict[str, Any]:
        now = self.clock()
        if not period:
            anchor = self.registry.reported()[0]
            period = deadlines.last_due_period(PeriodKind.MONTH, anchor, now).key
        units = await deadlines.reporting(self.values, self.registry, self.provinces,
                                          period, now)
        counts: dict[str, int] = {}
        for unit in units:
            counts[unit.state.value] = counts.get(unit.state.value, 0) + 1
        return {"period": period, "counts": counts, "units": [u.public() for u in units]}

    async def _reports_tile(self, indicator_id: str, now: datetime) -> Tile:
        indicator = self.registry.get(indicator_id)
        assert indicator is not None
        report = await self.reporting()
        state = "missing" if indicator_id == "reports_missing" else "late"
        count = float(report["counts"].get(state, 0))
        period = indicator.parse_period(report["period"])
        names = [u["province"] for u in report["units"] if u["state"] == state]
        return Tile(indicator, "", count, period.key, indicator.status(count, period),
                    0.0, {"vi": f"trên {len(report['units'])} đơn vị",
                          "en": f"of {len(report['units'])} units"},
                    [], False, now.isoformat(timespec="seconds"), {"provinces": names})

    async def _availability_tile(self, indicator: Indicator, scope: str) -> Tile:
        """The share of observed seconds the scope's cameras were live, last 7 days."""
        value = await self.availability(scope) if self.availability is not None else None
        return Tile(indicator, scope, value, "live", _live_status(indicator, value),
                    _first_target(indicator), {"vi": "7 ngày qua", "en": "last 7 days"}, [],
                    False, self.clock().isoformat(timespec="seconds"), {})

    def _live_tile(self, indicator_id: str, scope: str) -> Tile:
        indicator = self.registry.get(indicator_id)
        assert indicator is not None
        now = self.clock().isoformat(timespec="seconds")
        if indicator_id == "cameras_online_share":
            shares = cameras_online(self._cameras(), self._unit_of_camera)
            share = shares.get(scope)
            value = share.share if share else None
            detail = {"online": share.online, "total": share.total} if share else {}
            return Tile(indicator, scope, value, "live", _live_status(indicator, value),
                        _first_target(indicator), {"vi": "trực tiếp", "en": "live"}, [],
                        False, now, detail)
        people, wait, counters = self.live.queue(scope)
        value = (float(people) if indicator_id == "queue_length" else wait) if counters else None
        spark = [(t, float(n)) for t, n in self.live.history.get(scope, [])] \
            if indicator_id == "queue_length" else []
        return Tile(indicator, scope, value, "live", _live_status(indicator, value),
                    _first_target(indicator), {"vi": "trực tiếp", "en": "live"}, spark, False,
                    now, {"counters": counters})

    def unit_name(self, key: str) -> str:
        """The unit name the tiles are scoped by, for a camera's or a reading's province:
        the registry stores codes (HA-NOI), the indicators names (Hà Nội)."""
        return (self.provinces.resolve(key) or key) if key else ""

    def _unit_of_camera(self, camera: object) -> str:
        known = self.camera_units.get(str(getattr(camera, "id", "")))
        return self.unit_name(known or self.camera_province(camera) or "")

    def _cameras(self) -> Iterable[object]:
        # tiles are rendered without waiting: the statuses as last known
        return self.media.known_cameras() if self.media is not None else []

    def _province_of_camera_id(self, camera_id: str) -> str | None:
        if camera_id in self.camera_units:
            return self.camera_units[camera_id]
        for camera in self._cameras():
            if getattr(camera, "id", None) == camera_id:
                return self.camera_province(camera)
        return None


def _first_target(indicator: Indicator) -> float | None:
    return indicator.targets[-1].value if indicator.targets else None


def _live_status(indicator: Indicator, value: float | None) -> Status:
    """A live reading is judged against the target in force today."""
    if value is None or not indicator.targets:
        return Status.NO_TARGET
    today = datetime.now(VN_TZ).date()
    return indicator.status(value, Period(today, today, "live"))


def _summary(value: Value) -> dict[str, Any]:
    return {"value": value.value, "revision": value.revision, "note": value.note}
