"""The words of an alert message, in Vietnamese and English, with a link back to the page."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from iocwall.wall.provinces import UnknownProvince, resolve

if TYPE_CHECKING:
    from iocwall.wall.notify.notice import AlertNotice

STATE_WORDS = {
    "raised": ("CẢNH BÁO", "ALERT"),
    "acknowledged": ("Đã tiếp nhận", "Acknowledged"),
    "resolved": ("Đã khắc phục", "Resolved"),
}


@dataclass(frozen=True)
class Rendered:
    subject_vi: str
    subject_en: str
    body_vi: str
    body_en: str
    url: str


def absolute_link(public_url: str, link: str) -> str:
    """``link`` (a path such as /health?alert=12) under ``public_url``; anything that is not
    a local path becomes the home page, so a message never points elsewhere."""
    path = link if link.startswith("/") and not link.startswith("//") else "/"
    return public_url.rstrip("/") + path


def province_name(code: str | None) -> tuple[str, str]:
    """(vi, en) of the unit an alert concerns; the centre when none."""
    if not code:
        return "Trung tâm", "Centre"
    try:
        name = resolve(code).name
    except UnknownProvince:
        name = code
    return name, name


def render_alert(notice: AlertNotice, public_url: str) -> Rendered:
    vi_state, en_state = STATE_WORDS.get(notice.state, (notice.state, notice.state))
    vi_unit, en_unit = province_name(notice.province)
    url = absolute_link(public_url, notice.link)
    body_vi = (f"{vi_state}: {notice.title_vi}\n{notice.detail_vi}\n"
               f"Đơn vị: {vi_unit}. Đối tượng: {notice.subject}. Từ: {notice.raised_at}\n"
               f"Xem: {url}")
    body_en = (f"{en_state}: {notice.title_en}\n{notice.detail_en}\n"
               f"Unit: {en_unit}. Subject: {notice.subject}. Since: {notice.raised_at}\n"
               f"Open: {url}")
    return Rendered(f"[iocwall] {vi_state}: {notice.title_vi}",
                    f"[iocwall] {en_state}: {notice.title_en}", body_vi, body_en, url)


def render_test(public_url: str, who: str) -> Rendered:
    url = absolute_link(public_url, "/admin/outbox")
    return Rendered(
        "[iocwall] Thư thử", "[iocwall] Test message",
        f"Đây là tin thử do {who} gửi để kiểm tra cấu hình thông báo.\nXem: {url}",
        f"A test message sent by {who} to check the notification settings.\nOpen: {url}", url)
