"""Who gets an alert: subscriptions by role and province, plus the fixed lists of [notify].

A user with an e-mail address or a phone number is subscribed by their role:
``all_roles`` (default: admin) get every alert; ``province_roles`` (default: technician,
registrar) get the alerts of their own province (their ``unit``) only. Disabled users get
nothing. ``email_to`` and ``sms_to`` get every alert; ``webhook_url`` gets every event.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from iocwall.wall.auth.users import User
from iocwall.wall.config import NotifyConfig
from iocwall.wall.notify.message import Channel
from iocwall.wall.provinces import UnknownProvince, resolve


@dataclass(frozen=True)
class Recipient:
    channel: Channel
    address: str


def unit_code(value: str | None) -> str:
    """The province code of a name or code ("Hà Nội", "HA-NOI"); "" for the centre."""
    if not value:
        return ""
    try:
        return resolve(value).code
    except UnknownProvince:
        return value.strip().upper()


def subscribed(user: User, province: str | None, config: NotifyConfig) -> bool:
    if user.disabled:
        return False
    if user.role.value in config.all_roles:
        return True
    return bool(province) and user.role.value in config.province_roles \
        and unit_code(user.unit) == unit_code(province)


def recipients(config: NotifyConfig, users: Iterable[User], province: str | None,
               channels: Iterable[Channel]) -> list[Recipient]:
    """Everyone to tell about an event of ``province`` (None: the centre's own) over the
    configured ``channels``, each address once."""
    open_channels = set(channels)
    found: dict[tuple[Channel, str], Recipient] = {}

    def add(channel: Channel, address: str) -> None:
        if channel in open_channels and address:
            found.setdefault((channel, address.lower()), Recipient(channel, address))

    for address in config.email_to:
        add(Channel.EMAIL, address)
    for phone in config.sms_to:
        add(Channel.SMS, phone)
    for user in users:
        if subscribed(user, province, config):
            add(Channel.EMAIL, user.email)
            add(Channel.SMS, user.phone)
    add(Channel.WEBHOOK, config.webhook_url)
    return list(found.values())
