"""Where alert changes go out to people: the structural ``Notifier`` the health side calls.

The notice is wall/notify's ``AlertNotice``; Services passes the outbox-backed notifier
(wall/notify/) to ``HealthService``. The health side only builds notices and awaits
``notify.alert_changed(notice)``; ``NullNotifier`` stands in where nothing should be sent.
"""
from __future__ import annotations

import logging
from typing import Protocol

from iocwall.wall.notify.notice import AlertNotice

log = logging.getLogger(__name__)


class Notifier(Protocol):
    """Anything with this method: an outbox, a test recorder, the no-op sink below."""
    async def alert_changed(self, notice: AlertNotice) -> None: ...


class NullNotifier:
    """Sends nothing (no notify engine yet); logs at debug so the hook is visible."""

    async def alert_changed(self, notice: AlertNotice) -> None:
        log.debug("alert %s %s: %s (no notifier configured)", notice.alert_id, notice.state,
                  notice.title_en)
