"""Where alert changes go out to people: a structural ``Notifier`` and the notice it gets.

WIRING POINT (merge with wall/notify/): the notify engineer defines ``AlertNotice`` in
wall/notify/notice.py with exactly the fields below. Until that module is on this branch, the
local dataclass stands in; at merge, replace the class below with

    from iocwall.wall.notify.notice import AlertNotice  # noqa: F401

and pass the real outbox-backed notifier to ``HealthService(..., notify=...)`` in
wall/services.py (it is ``NullNotifier()`` today). Nothing else changes: the health side only
builds notices and awaits ``notify.alert_changed(notice)``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AlertNotice:
    alert_id: int
    rule: str
    state: str            # raised | acknowledged | resolved
    subject: str
    province: str
    title_vi: str
    title_en: str
    detail_vi: str
    detail_en: str
    link: str             # the page to open, e.g. /health#alert-12
    raised_at: str        # ISO 8601, +07:00


class Notifier(Protocol):
    """Anything with this method: an outbox, a test recorder, the no-op sink below."""
    async def alert_changed(self, notice: AlertNotice) -> None: ...


class NullNotifier:
    """Sends nothing (no notify engine yet); logs at debug so the hook is visible."""

    async def alert_changed(self, notice: AlertNotice) -> None:
        log.debug("alert %s %s: %s (no notifier configured)", notice.alert_id, notice.state,
                  notice.title_en)
