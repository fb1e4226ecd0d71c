"""The notification service of one server: outbox, notifier, sender and channels.

    notify = NotifyService(config, store, audit, users)   # config.notify checked
    await notify.start()          # channels built from [notify], the sender loop running
    await notify.notifier.alert_changed(notice)
    await notify.stop()           # never hangs; messages in flight are given back
"""
from __future__ import annotations

import httpx

from iocwall.wall.audit import AuditLog
from iocwall.wall.auth.users import User, Users
from iocwall.wall.config import Config
from iocwall.wall.notify.channels import Sender
from iocwall.wall.notify.channels.email import EmailSender
from iocwall.wall.notify.channels.sms import SmsSender
from iocwall.wall.notify.channels.webhook import WebhookSender
from iocwall.wall.notify.message import Channel
from iocwall.wall.notify.notice import Notifier
from iocwall.wall.notify.outbox import Outbox
from iocwall.wall.notify.sender import OutboxSender, Pacing
from iocwall.wall.notify.smtp_url import parse_smtp_url
from iocwall.wall.store import Store


class NotifyConfigError(ValueError):
    """[notify] settings that cannot work (a secret missing, ...); one line each."""


def public_url(config: Config) -> str:
    server = config.server
    return (config.notify.public_url or server.public_url
            or f"http://{server.host}:{server.port}").rstrip("/")


class NotifyService:
    def __init__(self, config: Config, store: Store, audit: AuditLog, users: Users) -> None:
        self.config = config.notify
        self.outbox = Outbox(store)
        self._audit = audit
        self._users = users
        self._client: httpx.AsyncClient | None = None
        self.sender: OutboxSender | None = None
        self.channels: dict[Channel, Sender] = {}
        self.notifier = Notifier(self.outbox, self.config, public_url(config),
                                 lambda: self.channels.keys(), self._all_users, self.wake)

    async def _all_users(self) -> list[User]:
        return await self._users.list()

    def wake(self) -> None:
        if self.sender is not None:
            self.sender.wake()

    async def start(self) -> None:
        if problems := self.config.problems():
            raise NotifyConfigError("\n".join(problems))
        self.channels = self._build_channels()
        c = self.config
        self.sender = OutboxSender(self.outbox, self.channels,
                                   Pacing(c.max_attempts, c.backoff_min_s, c.backoff_max_s,
                                          c.poll_s, c.batch, c.claim_s), self._audit)
        self.sender.start()

    def _build_channels(self) -> dict[Channel, Sender]:
        c = self.config
        channels: dict[Channel, Sender] = {}
        if c.smtp_url:
            channels[Channel.EMAIL] = EmailSender(parse_smtp_url(c.smtp_url), c.smtp_password(),
                                                  c.email_from, c.smtp_timeout_s,
                                                  c.smtp_ca_file)
        if c.webhook_url or c.sms_url:
            # no redirects: a signed request must reach the URL configured, not another
            self._client = httpx.AsyncClient(timeout=c.http_timeout_s, follow_redirects=False)
        if c.webhook_url and self._client is not None:
            channels[Channel.WEBHOOK] = WebhookSender(self._client,
                                                      c.secret(c.webhook_secret_env))
        if c.sms_url and self._client is not None:
            channels[Channel.SMS] = SmsSender(self._client, c.sms_url, c.sms_headers,
                                              c.sms_body, c.secret(c.sms_api_key_env))
        return channels

    async def stop(self) -> None:
        sender, self.sender = self.sender, None
        if sender is not None:
            await sender.stop()
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
