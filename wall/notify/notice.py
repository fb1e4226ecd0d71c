"""The entry point for alerts: the health engine calls ``Notifier.alert_changed``.

    await services.notify.notifier.alert_changed(AlertNotice(alert_id=12, rule="camera_lost",
        state="raised", subject="hn-01", province="HA-NOI", title_vi="Mất tín hiệu camera",
        title_en="Camera lost", detail_vi="...", detail_en="...", link="/health?alert=12",
        raised_at="2026-12-07T02:10:00.000+07:00"))

The notifier renders the message in Vietnamese and English with an absolute link, finds
the recipients (recipients.py) and writes one outbox row per recipient; the sender sends
them. It returns once the rows are stored, never waiting for a gateway. The same event
notified twice is stored once (the idempotency key is the alert, its state and raised_at).
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass

from iocwall.wall.auth.users import User
from iocwall.wall.config import NotifyConfig
from iocwall.wall.errors import ApiError
from iocwall.wall.notify.message import Channel, Draft
from iocwall.wall.notify.outbox import Outbox
from iocwall.wall.notify.recipients import recipients
from iocwall.wall.notify.render import Rendered, render_alert, render_test

log = logging.getLogger(__name__)

ALERT_STATES = ("raised", "acknowledged", "resolved")


@dataclass(frozen=True)
class AlertNotice:
    alert_id: int
    rule: str
    state: str               # raised | acknowledged | resolved
    subject: str             # what the alert is about, e.g. a camera id
    province: str | None     # the unit it concerns; None: the centre's own systems
    title_vi: str
    title_en: str
    detail_vi: str
    detail_en: str
    link: str                # a path such as /health?alert=12
    raised_at: str


class Notifier:
    def __init__(self, outbox: Outbox, config: NotifyConfig, public_url: str,
                 channels: Callable[[], Iterable[Channel]],
                 users: Callable[[], Awaitable[list[User]]],
                 wake: Callable[[], None]) -> None:
        """``public_url``: where links point; ``channels``: the configured channels;
        ``users``: the current users (subscriptions); ``wake``: tells the sender to look."""
        self._outbox = outbox
        self._config = config
        self._public_url = public_url
        self._channels = channels
        self._users = users
        self._wake = wake

    async def alert_changed(self, notice: AlertNotice) -> None:
        """Enqueue the messages about ``notice`` for everyone subscribed to it."""
        if notice.state not in ALERT_STATES:
            raise ValueError(f"alert state {notice.state!r}: expected one of {ALERT_STATES}")
        text = render_alert(notice, self._public_url)
        payload = {"event": "alert", "alert": {**asdict(notice), "url": text.url}}
        key = f"alert:{notice.alert_id}:{notice.state}:{notice.raised_at}"
        found = recipients(self._config, await self._users(), notice.province,
                           self._channels())
        new = 0
        for who in found:
            if await self._outbox.enqueue(_draft(who.channel, who.address, key, text, payload,
                                                 "alert", notice.province)) is not None:
                new += 1
        if new:
            self._wake()
        log.info("alert %d %s: %d message(s) queued, %d recipient(s)", notice.alert_id,
                 notice.state, new, len(found))

    async def test(self, channel: Channel, recipient: str, who: str) -> int:
        """Enqueue a test message over ``channel`` (to ``recipient``, or the configured one
        when ""); returns its outbox id. 409 when the channel is not configured."""
        if channel not in set(self._channels()):
            raise ApiError(409, "not_configured", f"channel '{channel.value}' is not "
                           "configured in [notify] / kênh này chưa được cấu hình", "channel")
        if not recipient:
            recipient = {Channel.EMAIL: (self._config.email_to or [""])[0],
                         Channel.SMS: (self._config.sms_to or [""])[0],
                         Channel.WEBHOOK: self._config.webhook_url}[channel]
        if not recipient:
            raise ApiError(422, "invalid", "name a recipient (none is configured) "
                           "/ hãy nhập người nhận", "recipient")
        text = render_test(self._public_url, who)
        message_id = await self._outbox.enqueue(_draft(
            channel, recipient, f"test:{uuid.uuid4().hex}", text,
            {"event": "test", "by": who}, "test", None))
        assert message_id is not None            # a fresh key never conflicts
        self._wake()
        return message_id


def _draft(channel: Channel, recipient: str, key: str, text: Rendered, payload: dict,
           kind: str, province: str | None) -> Draft:
    return Draft(channel, recipient, key, text.subject_vi, text.subject_en, text.body_vi,
                 text.body_en, payload, kind, province)
