"""Indicators without HTTP: registry, validation, deadlines in +07:00, roll-up 63 -> 34,
live readings over the real in-process bus, cameras online per province, demo figures."""
from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from iocwall.streams.clock import VN_TZ
from iocwall.wall.access import Principal, Role
from iocwall.wall.audit import AuditLog, AuditQuery
from iocwall.wall.bus import Event, EventKind, MemoryBus, open_bus
from iocwall.wall.config import BusConfig
from iocwall.wall.errors import ApiError
from iocwall.wall.indicators import deadlines
from iocwall.wall.indicators.demo_data import load_demo
from iocwall.wall.indicators.live import (
    LiveIndicators,
    QueueReading,
    cameras_online,
    province_attribute,
)
from iocwall.wall.indicators.model import Period, PeriodKind, ReportState, Status, Value
from iocwall.wall.indicators.provinces import Provinces
from iocwall.wall.indicators.registry import Registry, RegistryError
from iocwall.wall.indicators.rollup import combine, national, to_current
from iocwall.wall.indicators.service import IndicatorService
from iocwall.wall.indicators.validation import Submission, check
from iocwall.wall.store import Store
from tests.waiting import wait_until

REG = Registry.load()
PROV = Provinces.load()
ADMIN = Principal("root", Role.ADMIN)
HN_REGISTRAR = Principal("hn", Role.REGISTRAR, unit="Hà Nội")
NOW = datetime(2024, 9, 10, 9, 0, tzinfo=VN_TZ)


def vn(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=VN_TZ)


# ---------------------------------------------------------------- registry and provinces
def test_registry_is_configured_from_toml(tmp_path: Path) -> None:
    dossier = REG.get("online_dossier_rate")
    assert dossier is not None and dossier.unit == "%" and dossier.deadline is not None
    # targets change over time: 30 % for 2024, 70 % for 2025
    assert dossier.target_for(dossier.parse_period("2024-08")).value == 30.0
    assert dossier.target_for(dossier.parse_period("2025-03")).value == 70.0
    bad = tmp_path / "bad.toml"
    bad.write_text('[[indicator]]\nid = "x"\nname_vi = "x"\nname_en = "x"\nunit = "%"\n'
                   'period = "month"\ndirection = "up"\nsource = "reported"\n'
                   'owner = "province"\naggregation = "sum"\n', encoding="utf-8")
    with pytest.raises(RegistryError, match="indicator 'x': direction"):
        Registry.load(bad)
    bad.write_text(bad.read_text().replace('"up"', '"higher"') + 'colour = "red"\n')
    with pytest.raises(RegistryError, match="colour"):
        Registry.load(bad)


def test_provinces_34_today_63_before_each_mapped_once() -> None:
    assert len(PROV.current) == 34
    assert len(PROV.historical) == len(set(PROV.historical)) == 63
    assert PROV.current_of("Hà Nam") == "Ninh Bình"
    assert PROV.current_of("Kon Tum") == "Quảng Ngãi"
    assert PROV.current_of("Thừa Thiên Huế") == "Huế"
    # accounts hold a unit code (users.py: A-Z 0-9 - up to 16); names work as well
    assert PROV.resolve("BA-RIA-VUNG-TAU") == "Bà Rịa - Vũng Tàu"
    assert PROV.resolve("ha-noi") == PROV.resolve("Hà Nội") == "Hà Nội"
    assert PROV.resolve("HN") is None
    cells = {PROV.cell(p.name) for p in PROV.current}
    assert len(cells) == 34                      # one grid cell per unit
    assert PROV.valid_for("Hà Nam", date(2024, 8, 1))
    assert not PROV.valid_for("Hà Nam", date(2025, 8, 1))
    assert not PROV.valid_for("Huế", date(2024, 8, 1))   # was "Thừa Thiên Huế" then


# ---------------------------------------------------------------- validation
def sub(**kw: object) -> Submission:
    base: dict = {"indicator": "dossiers_received", "province": "Hà Nội", "period": "2024-08",
                      "value": 1200}
    base.update(kw)
    return Submission(**base)


@pytest.mark.parametrize("kw, field, status", [
    ({"indicator": "nope"}, "indicator", 404),
    ({"indicator": "resolved_share"}, "indicator", 422),           # computed: not submitted
    ({"unit": "người"}, "unit", 422),
    ({"value": -1}, "value", 422),
    ({"value": "abc"}, "value", 422),
    ({"value": float("nan")}, "value", 422),
    ({"value": True}, "value", 422),
    ({"indicator": "online_dossier_rate", "value": 100.5, "unit": "%"}, "value", 422),
    ({"period": "2024-13"}, "period", 422),
    ({"period": "2024/08"}, "period", 422),
    ({"period": "2024-10"}, "period", 422),                         # not started at NOW
    ({"province": "Atlantis"}, "province", 422),
    ({"province": "Huế"}, "province", 422),                          # not a unit in 2024
    ({"revise": True}, "reason", 422),
])
def test_bad_submissions_name_the_field(kw: dict, field: str, status: int) -> None:
    with pytest.raises(ApiError) as caught:
        check(sub(**kw), ADMIN, REG, PROV, NOW)
    assert (caught.value.status, caught.value.field) == (status, field), caught.value.message


def test_registrar_submits_only_for_own_province() -> None:
    assert check(sub(), HN_REGISTRAR, REG, PROV, NOW).province == "Hà Nội"
    with pytest.raises(ApiError) as caught:
        check(sub(province="Hải Phòng"), HN_REGISTRAR, REG, PROV, NOW)
    assert caught.value.status == 403 and caught.value.field == "province"
    # Ninh Bình's registrar owns the history of the units merged into it (Hà Nam) ...
    nb = Principal("nb", Role.REGISTRAR, unit="NINH-BINH")
    assert check(sub(province="Hà Nam"), nb, REG, PROV, NOW).province == "Hà Nam"
    # ... but not Hà Nội's, and a leader submits nothing
    with pytest.raises(ApiError):
        check(sub(), nb, REG, PROV, NOW)
    with pytest.raises(ApiError) as caught:
        check(sub(), Principal("boss", Role.LEADER), REG, PROV, NOW)
    assert caught.value.status == 403


# ---------------------------------------------------------------- deadlines, +07:00
def test_deadline_is_end_of_the_3rd_in_vietnam_time_across_month_and_year_ends() -> None:
    ind = REG.get("dossiers_received")
    assert ind is not None
    aug, dec = ind.parse_period("2024-08"), ind.parse_period("2024-12")
    assert deadlines.due_at(ind, aug) == vn(2024, 9, 4)
    assert deadlines.due_at(ind, dec) == vn(2025, 1, 4)
    assert deadlines.due_at(ind, ind.parse_period("2024-01")) == vn(2024, 2, 4)
    # 23:59 on the 3rd in Hà Nội is 16:59 UTC: on time; 17:00 UTC is already the 4th there
    on_time = datetime(2024, 9, 3, 16, 59, 59, tzinfo=UTC)
    late = datetime(2024, 9, 3, 17, 0, 0, tzinfo=UTC)
    assert deadlines.state_of(ind, aug, on_time, late) is ReportState.ON_TIME
    assert deadlines.state_of(ind, aug, late, late) is ReportState.LATE
    assert deadlines.state_of(ind, aug, None, on_time) is ReportState.PENDING
    assert deadlines.state_of(ind, aug, None, late) is ReportState.MISSING
    # the report due now: on 3 January it is still November's; on the 4th December's
    assert deadlines.last_due_period(PeriodKind.MONTH, ind, vn(2025, 1, 3, 23, 59)).key \
        == "2024-11"
    assert deadlines.last_due_period(PeriodKind.MONTH, ind, vn(2025, 1, 4)).key == "2024-12"
    # a UTC server clock on 31 Dec 17:30 is already 1 January in Vietnam
    utc = datetime(2024, 12, 31, 17, 30, tzinfo=UTC)
    assert Period.parse(PeriodKind.MONTH, "2025-01").start == utc.astimezone(VN_TZ).date()


# ---------------------------------------------------------------- roll-up 63 -> 34
def value(ind: str, province: str, v: float, period: str = "2024-08") -> Value:
    start = period + "-01" if len(period) == 7 else period + "-01-01"
    return Value(0, ind, province, period, start, v, 1, "2024-09-01T00:00:00+07:00", "t", "api")


def test_rollup_sums_counts_and_labels_unweighted_means() -> None:
    rate, count = REG.get("online_service_rate"), REG.get("dossiers_received")
    assert rate is not None and count is not None
    rates = [value(rate.id, "Ninh Bình", 57.09), value(rate.id, "Hà Nam", 65.03),
             value(rate.id, "Nam Định", 63.87), value(rate.id, "Hà Nội", 29.84)]
    rolled = {r.province: r for r in to_current(rate, PROV, rates)}
    assert len(rolled) == 34
    nb = rolled["Ninh Bình"]
    assert nb.value == pytest.approx((57.09 + 65.03 + 63.87) / 3)
    assert nb.method == "mean" and "unweighted" in nb.label["en"]
    assert set(nb.units) == {"Ninh Bình", "Hà Nam", "Nam Định"}
    assert rolled["Hà Nội"].method == "reported" and rolled["Hà Nội"].value == 29.84
    assert rolled["Huế"].value is None and rolled["Huế"].missing == ("Thừa Thiên Huế",)
    counts = [value(count.id, "Hải Phòng", 100), value(count.id, "Hải Dương", 50)]
    hp = {r.province: r for r in to_current(count, PROV, counts)}["Hải Phòng"]
    assert (hp.value, hp.method) == (150, "sum")


def test_rollup_weights_rates_by_dossiers_when_every_unit_has_them() -> None:
    rate = REG.get("online_dossier_rate")
    assert rate is not None
    rates = [value(rate.id, "Hải Phòng", 24.29), value(rate.id, "Hải Dương", 50.0)]
    weights = [value("dossiers_received", "Hải Phòng", 3000),
               value("dossiers_received", "Hải Dương", 1000)]
    hp = {r.province: r for r in to_current(rate, PROV, rates, weights)}["Hải Phòng"]
    assert hp.method == "weighted"
    assert hp.value == pytest.approx((24.29 * 3000 + 50.0 * 1000) / 4000)
    partial = combine(rate, ["Hải Phòng", "Hải Dương"], {"Hải Phòng": 24.29, "Hải Dương": 50.0},
                      {"Hải Phòng": 3000})
    assert partial.method == "mean"            # a unit without a weight: labelled mean


def test_rollup_of_the_real_2024_file_to_34_units_and_the_nation() -> None:
    from iocwall.wall.indicators.demo_data import demo_submissions
    rate = REG.get("online_service_rate")
    assert rate is not None
    subs = [s for s in demo_submissions() if s.indicator == rate.id]
    values = [value(rate.id, s.province, float(str(s.value))) for s in subs]
    assert len(values) == 63
    rolled = to_current(rate, PROV, values)
    assert all(r.value is not None and not r.missing for r in rolled)
    assert sorted(u for r in rolled for u in r.units) == sorted(PROV.historical)
    hcm = next(r for r in rolled if r.province == "Hồ Chí Minh")
    assert hcm.value == pytest.approx((43.56 + 52.29 + 24.20) / 3)
    nation = national(rate, PROV, values)
    # the nation is the mean over the 63 reporting units, not a mean of the 34 means
    assert nation.value == pytest.approx(sum(v.value for v in values) / 63)
    assert len(nation.units) == 63 and nation.method == "mean"


# ---------------------------------------------------------------- live indicators
async def test_queue_readings_arrive_over_the_real_bus() -> None:
    bus = MemoryBus("test")
    live = LiveIndicators(lambda cam: {"cam1": "Hà Nội", "cam2": "Hà Nội"}.get(cam))
    await live.start(bus)
    try:
        # a double of the analytics worker: publishes on the real bus
        for reading in (QueueReading("cam1", "counter-1", 4, 6.0),
                        QueueReading("cam2", "counter-2", 7, 12.0),
                        QueueReading("cam9", "counter-1", 3, None, province="Huế"),
                        QueueReading("cam1", "counter-1", 5, 8.0)):
            await bus.publish(reading.event().topic, reading.event())
        await bus.publish("analytics.queue.cam3", Event("analytics.queue.cam3", EventKind.STATE,
                                                       {"camera": "cam3", "people": -2}))
        await wait_until(lambda: live.queue()[2] == 3 and live.bad_events == 1, 5,
                         "3 readings and 1 bad event", step=0.01)
        assert live.queue("Hà Nội")[:2] == (12, 10.0)     # newest per counter: 5 + 7
        assert live.queue("Huế")[:2] == (3, None)
        assert live.queue() == (15, 10.0, 3)
        assert live.bad_events == 1
        assert live.queue("Hà Nội", at=10**9)[2] == 0     # old readings stop counting
    finally:
        await live.stop()
        await bus.close()


@pytest.mark.redis
async def test_queue_readings_cross_processes_on_redis(redis_server) -> None:  # type: ignore[no-untyped-def]
    """The analytics worker and the server on two Redis bus connections (two nodes)."""
    config = BusConfig(backend="redis", redis_url=redis_server.url,
                       prefix=redis_server.fresh_prefix())
    worker, server = await open_bus(config, "worker"), await open_bus(config, "server")
    live = LiveIndicators()
    await live.start(server)
    try:
        reading = QueueReading("cam7", "counter-3", 9, 14.5, province="Cần Thơ")
        await worker.publish(reading.event().topic, reading.event())
        await wait_until(lambda: live.queue("Cần Thơ")[2], 5, "Cần Thơ's reading", step=0.01)
        assert live.queue("Cần Thơ") == (9, 14.5, 1)
    finally:
        await live.stop()
        await worker.close()
        await server.close()


class FakeCamera:
    """A double of a registry camera (the registry is being built): id, state, province."""
    def __init__(self, ident: str, state: str, province: str | None = None) -> None:
        self.id, self.state = ident, state
        if province is not None:
            self.province = province


def test_cameras_online_per_province_from_a_mapping() -> None:
    cams = [FakeCamera("a", "live", "Hà Nội"), FakeCamera("b", "lost", "Hà Nội"),
            FakeCamera("c", "live", "Huế"), FakeCamera("d", "stalled"),
            FakeCamera("e", "idle", "Huế")]
    shares = cameras_online(cams, province_attribute)
    assert (shares["Hà Nội"].online, shares["Hà Nội"].total) == (1, 2)
    assert shares["Huế"].share == 100.0                  # idle = not pulled, not counted
    assert (shares[""].online, shares[""].total) == (2, 4)
    by_id = cameras_online(cams, lambda cam: "Cần Thơ" if cam.id == "d" else None)  # type: ignore[attr-defined]
    assert by_id["Cần Thơ"].share == 0.0


# ---------------------------------------------------------------- service with a real store
@pytest.fixture
async def service(tmp_path: Path):
    store = Store(tmp_path / "db.sqlite3")
    await store.open()
    svc = IndicatorService(store, AuditLog(store))
    svc.clock = lambda: NOW
    yield svc
    await store.close()


class KnownCameras:
    """The one read of the media service the live tiles use (statuses as last known)."""
    def __init__(self, cameras: list[FakeCamera]) -> None:
        self.cameras = cameras

    def known_cameras(self) -> list[FakeCamera]:
        return self.cameras


async def test_live_tiles_of_a_unit_count_cameras_and_readings_registered_by_code(
        tmp_path: Path) -> None:
    """The registry stores a camera's unit as its code (HA-NOI) and the queue board puts
    that code on each reading; the leader view asks for the unit by name (Hà Nội)."""
    store = Store(tmp_path / "db.sqlite3")
    await store.open()
    media = KnownCameras([FakeCamera("cam1", "live", "HA-NOI"),
                          FakeCamera("cam2", "lost", "HA-NOI"), FakeCamera("cam3", "live", "HUE")])
    svc = IndicatorService(store, AuditLog(store), media=media)  # type: ignore[arg-type]
    try:
        svc.live.add(QueueReading("cam1", "c1", 4, 2.0, province="HA-NOI"))
        svc.live.add(QueueReading("cam2", "c2", 3, None))       # no province: the camera's
        tiles = {t.indicator.id: t for t in await svc.tiles("Hà Nội")}
        online = tiles["cameras_online_share"]
        assert (online.value, online.detail) == (50.0, {"online": 1, "total": 2})
        assert tiles["queue_length"].value == 7.0 and tiles["queue_length"].spark
        assert tiles["queue_wait_minutes"].value == 2.0
        assert {t.indicator.id: t for t in await svc.tiles("Huế")}[
            "cameras_online_share"].value == 100.0
    finally:
        await store.close()


async def test_revision_is_explicit_and_keeps_history(service: IndicatorService) -> None:
    first, previous = await service.submit(sub(), HN_REGISTRAR)
    assert previous is None and first.revision == 1
    with pytest.raises(ApiError) as caught:
        await service.submit(sub(value=1300), HN_REGISTRAR)
    assert caught.value.status == 409 and caught.value.code == "exists"
    second, previous = await service.submit(sub(value=1300, revise=True, reason="typo"),
                                            HN_REGISTRAR)
    assert previous is not None and previous.value == 1200 and second.revision == 2
    current = await service.values.current("dossiers_received")
    assert [(v.value, v.revision) for v in current] == [(1300, 2)]
    from iocwall.wall.indicators.store import HistoryQuery
    page = await service.values.history(HistoryQuery("dossiers_received", revisions=True))
    assert [(v.value, v.superseded) for v in page.values] == [(1300, False), (1200, True)]
    audit = await service.audit.query(AuditQuery(action="indicator.*"))
    assert [e.action for e in audit.entries] == ["indicator.revise", "indicator.submit"]
    assert audit.entries[0].before == {"value": 1200.0, "revision": 1, "note": ""}
    assert audit.entries[0].unit == "Hà Nội"
    with pytest.raises(ApiError) as caught:
        await service.submit(sub(period="2024-07", revise=True, reason="x"), HN_REGISTRAR)
    assert caught.value.code == "nothing_to_revise"


async def test_late_and_missing_reports_are_counted(service: IndicatorService) -> None:
    service.clock = lambda: vn(2024, 9, 10)
    reported = [i for i in REG.reported() if i.period is PeriodKind.MONTH]
    on_time = datetime(2024, 9, 3, 23, 0, tzinfo=VN_TZ).timestamp()
    late = datetime(2024, 9, 4, 0, 30, tzinfo=VN_TZ).timestamp()
    for province, at in (("Hà Nội", on_time), ("Hải Phòng", late)):
        for ind in reported:
            checked = check(sub(indicator=ind.id, province=province, value=10), ADMIN, REG,
                            PROV, NOW)
            await service.values.submit(checked, "t", "api", at=at)
    report = await service.reporting()
    assert report["period"] == "2024-08"
    states = {u["province"]: u["state"] for u in report["units"]}
    assert states["Hà Nội"] == "on_time" and states["Hải Phòng"] == "late"
    assert report["counts"] == {"on_time": 1, "late": 1, "missing": 61}
    tiles = {t.indicator.id: t for t in await service.tiles()}
    assert tiles["reports_missing"].value == 61.0
    assert tiles["reports_late"].detail["provinces"] == ["Hải Phòng"]
    assert tiles["reports_missing"].status is Status.BELOW


async def test_demo_figures_load_and_colour_by_target(service: IndicatorService) -> None:
    service.clock = lambda: vn(2026, 11, 30)
    stored = await load_demo(service)
    assert stored == 48 + 63 + 7            # dossier rates given for 48, service rates for 63
    assert await load_demo(service) == 0    # once
    ha_nam = {t.indicator.id: t for t in await service.tiles("Hà Nam")}["online_dossier_rate"]
    assert (ha_nam.value, ha_nam.period, ha_nam.target) == (66.61, "2024-08", 30.0)
    assert ha_nam.status is Status.MEETS and ha_nam.stale
    qn = {t.indicator.id: t for t in await service.tiles("Quảng Ngãi")}["online_dossier_rate"]
    assert (qn.value, qn.status) == (16.43, Status.BELOW)
    vp = {t.indicator.id: t for t in await service.tiles("Vĩnh Phúc")}
    # the mission's own percentages come out of the stored counts
    assert round(vp["resolved_share"].value or 0, 2) == 80.28
    # 34,664 / 36,451 = 95.0975 %: the report truncates to 95.09
    assert vp["pasc_resolved_share"].value == pytest.approx(95.09, abs=0.01)
    assert (vp["online_dossier_rate"].value, vp["online_dossier_rate"].target) == (10.42, 20.0)
    assert vp["online_dossier_rate"].status is Status.BELOW
    grid = await service.unit_map("online_dossier_rate", historical=True)
    statuses = {u["province"]: u["status"] for u in grid["units"]}
    assert statuses["Hà Nam"] == "meets" and statuses["Quảng Ngãi"] == "below"
    assert statuses["Hà Nội"] == "no_data"           # "needs reconciliation" in the source
    assert sum(1 for s in statuses.values() if s == "meets") == 7
    rolled = await service.unit_map("online_dossier_rate", historical=False)
    nb = next(u for u in rolled["units"] if u["province"] == "Ninh Bình")
    assert nb["method"] == "mean" and nb["value"] == pytest.approx((14.26 + 66.61 + 38.55) / 3)


def test_registry_and_indicators_name_and_code_every_unit_alike() -> None:
    # a registrar's unit (registry code) must resolve to the same unit in the indicators
    from iocwall.wall.provinces import resolve
    for p in PROV.current:
        assert PROV.resolve(p.code) == p.name == resolve(p.code).name
        for member in p.members_before_2025:
            assert PROV.current_of(member) == resolve(member, historical=True).name == p.name
