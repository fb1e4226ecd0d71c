"""The alert rules: from a board (and the wall's alarms, the reporting calendar) to conditions.

Each rule names every subject it can judge, with ``active`` True (the condition holds), False
(it does not) or None (cannot tell now: a camera nobody pulls). The alert book (alerts.py)
turns conditions into alerts with hold-downs. Rules switched off in ``[alerts] disabled``
produce nothing, and their open alerts resolve.
"""
from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from iocwall.wall import provinces
from iocwall.wall.config import AlertsConfig
from iocwall.wall.health.board import Board
from iocwall.wall.health.cameras import camera_online
from iocwall.wall.health.model import Component, Kind, State


class Severity(str, enum.Enum):
    CRITICAL = "critical"
    WARNING = "warning"


@dataclass(frozen=True)
class Condition:
    rule: str
    subject: str
    active: bool | None
    hold_s: float                  # how long it must hold before an alert is raised
    severity: Severity
    province: str = ""
    title_vi: str = ""
    title_en: str = ""
    detail_vi: str = ""
    detail_en: str = ""
    link: str = "/health"

    @property
    def key(self) -> tuple[str, str]:
        return (self.rule, self.subject)


@dataclass(frozen=True)
class Extras:
    """What the board does not hold: the wall's open queue alarms (its own rule, wall/walls/
    alarms.py, evaluated there) and the provinces late with their monthly report."""
    wall_alarms: tuple[dict[str, Any], ...] = ()
    late_reports: tuple[tuple[str, str], ...] = ()     # (province code, state: late | missing)


_NODE_TEXT = {
    Kind.MEDIA_NODE: ("media_node_down", "Máy chủ media", "Media node"),
    Kind.DISPLAY_NODE: ("display_node_down", "Máy hiển thị", "Display node"),
    Kind.WORKER: ("worker_down", "Máy phân tích", "Analytics worker"),
    Kind.CONTROLLER: ("controller_down", "Bộ điều khiển", "Controller"),
    Kind.STORE: ("store_down", "Cơ sở dữ liệu", "Store"),
    Kind.BUS: ("bus_down", "Kênh sự kiện", "Bus"),
}
_CRITICAL = {"store_down", "bus_down", "controller_down", "disk_low", "province_cameras_low"}


def evaluate(board: Board, cfg: AlertsConfig, extras: Extras) -> list[Condition]:
    out = [*_cameras(board.cameras(), cfg), *_provinces(board.cameras(), cfg),
           *_system(board.components, cfg), *_queues(extras), *_reports(extras, cfg)]
    return [c for c in out if c.rule not in cfg.disabled]


def _unit(code: str) -> str:
    """A province's name for people ("Hà Nội"), from the code alerts are filed under."""
    unit = provinces.by_code(code) if code else None
    return unit.name if unit is not None else code


def _cond(rule: str, subject: str, active: bool | None, hold_s: float, **texts: str) -> Condition:
    severity = Severity.CRITICAL if rule in _CRITICAL else Severity.WARNING
    return Condition(rule, subject, active, hold_s, severity, **texts)


def _cameras(cams: Iterable[Component], cfg: AlertsConfig) -> Iterable[Condition]:
    for cam in cams:
        stream_state = cam.detail.get("stream_state")
        online = camera_online(cam)
        active = None if online is None else not online
        reason, error = _why(cam), cam.detail.get("error") or stream_state
        why = f"{reason} ({error})" if reason and error else reason or error
        minutes = f"{cfg.camera_lost_s / 60:g}"
        where_vi, where_en = _unit(cam.province) or "chưa rõ tỉnh", _unit(cam.province) or \
            "no province"
        yield _cond("camera_lost", cam.id, active, cfg.camera_lost_s, province=cam.province,
                    title_vi=f"Mất tín hiệu camera {cam.name}",
                    title_en=f"Camera {cam.name} lost",
                    detail_vi=f"Camera {cam.id} ({where_vi}) không có hình "
                              f"quá {minutes} phút: {why}",
                    detail_en=f"Camera {cam.id} ({where_en}) has had no "
                              f"picture for over {minutes} min: "
                              f"{why}",
                    link=f"/health#camera-{cam.id}")


def _why(cam: Component) -> str:
    """An idle camera's probe reason (unreachable, wrong_password, no_stream), or ""."""
    probe = cam.detail.get("probe")
    return str(probe["reason"]) if probe and not probe["reachable"] else ""


def _provinces(cams: Iterable[Component], cfg: AlertsConfig) -> Iterable[Condition]:
    observed: dict[str, list[bool]] = {}
    for cam in cams:
        online = camera_online(cam)
        if cam.province and online is not None:
            observed.setdefault(cam.province, []).append(online)
    for province, lives in sorted(observed.items()):
        share = 100.0 * sum(lives) / len(lives)
        yield _cond("province_cameras_low", province, share < cfg.province_online_min,
                    cfg.raise_hold_s, province=province,
                    title_vi=f"{_unit(province)}: camera có hình dưới {cfg.province_online_min:g}%",
                    title_en=f"{_unit(province)}: cameras online under "
                             f"{cfg.province_online_min:g}%",
                    detail_vi=f"{sum(lives)}/{len(lives)} camera theo dõi có hình hoặc "
                              f"kết nối được ({share:.0f}%)",
                    detail_en=f"{sum(lives)} of {len(lives)} observed cameras live or "
                              f"reachable ({share:.0f}%)",
                    link=f"/health#province-{province}")


def _system(parts: Iterable[Component], cfg: AlertsConfig) -> Iterable[Condition]:
    for part in parts:
        if part.kind in _NODE_TEXT:
            rule, vi, en = _NODE_TEXT[part.kind]
            yield _cond(rule, part.id, part.state is not State.OK, cfg.raise_hold_s,
                        title_vi=f"{vi} {part.id} không hoạt động",
                        title_en=f"{en} {part.id} down",
                        detail_vi=f"Trạng thái: {part.state.value}",
                        detail_en=f"State: {part.state.value}", link="/health#system")
        elif part.kind is Kind.DISK:
            free = part.detail.get("free_percent")
            yield _cond("disk_low", part.id, part.state is not State.OK, cfg.raise_hold_s,
                        title_vi="Ổ đĩa dữ liệu sắp đầy", title_en="Data disk nearly full",
                        detail_vi=f"{part.name}: còn trống {free}%",
                        detail_en=f"{part.name}: {free}% free", link="/health#system")
        elif part.kind is Kind.CERTIFICATE and part.state is not State.NOT_CONFIGURED:
            left = part.detail.get("days_left")
            yield _cond("certificate_expiring", part.id, part.state is not State.OK,
                        cfg.raise_hold_s, title_vi="Chứng chỉ TLS sắp hết hạn",
                        title_en="TLS certificate expiring",
                        detail_vi=f"{part.name}: còn {left} ngày",
                        detail_en=f"{part.name}: {left} days left", link="/health#system")


def _queues(extras: Extras) -> Iterable[Condition]:
    # the wall's rule already waited its own duration_s before raising: no second hold
    for alarm in extras.wall_alarms:
        subject = f"{alarm['wall']}/{alarm['rule']}"
        yield _cond("queue_over", subject, True, 0.0,
                    title_vi=f"Hàng chờ vượt ngưỡng: {alarm['name']}",
                    title_en=f"Queue over threshold: {alarm['name']}",
                    detail_vi=f"{alarm['count']} người chờ (camera {alarm['camera']})",
                    detail_en=f"{alarm['count']} people waiting (camera {alarm['camera']})",
                    link="/console")


def _reports(extras: Extras, cfg: AlertsConfig) -> Iterable[Condition]:
    for province, state in extras.late_reports:
        vi = "chưa gửi" if state == "missing" else "gửi muộn"
        en = "missing" if state == "missing" else "late"
        yield _cond("report_late", province, True, cfg.raise_hold_s, province=province,
                    title_vi=f"{_unit(province)}: báo cáo chỉ tiêu tháng {vi}",
                    title_en=f"{_unit(province)}: monthly indicator report {en}",
                    detail_vi="Hạn nộp là ngày 3 tháng sau", detail_en="Due by the 3rd of the "
                    "following month", link="/leader")
