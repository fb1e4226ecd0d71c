"""Contact fields (e-mail address, mobile number): checked when stored, masked when shown."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

# Deliberately loose: one @, a dot in the domain, no spaces or header-breaking characters.
_EMAIL = re.compile(r"^[^@\s<>,;\"]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")
# Vietnamese mobiles: 0xxxxxxxxx or +84xxxxxxxxx; other countries' +CC numbers too.
_PHONE = re.compile(r"^\+?[0-9]{8,15}$")


class ContactError(ValueError):
    """The value is not an e-mail address / phone number; the message says so in vi+en."""


def check_email(value: str) -> str:
    """The address, trimmed; "" stays "" (no address)."""
    value = value.strip()
    if value and not _EMAIL.match(value):
        raise ContactError("not an e-mail address, e.g. ten@tinh.gov.vn "
                           "/ địa chỉ thư không hợp lệ")
    return value


def check_phone(value: str) -> str:
    """The number without spaces, dots or dashes; "" stays ""."""
    compact = re.sub(r"[\s.()-]", "", value)
    if compact and not _PHONE.match(compact):
        raise ContactError("not a phone number, e.g. 0912345678 or +84912345678 "
                           "/ số điện thoại không hợp lệ")
    return compact


def mask(channel: str, recipient: str) -> str:
    """What the outbox page shows of a recipient: enough to recognise, not to harvest."""
    if channel == "email" and "@" in recipient:
        local, domain = recipient.rsplit("@", 1)
        return f"{local[:1]}***@{domain}"
    if channel == "sms":
        return recipient[:3] + "*" * max(len(recipient) - 5, 0) + recipient[-2:] \
            if len(recipient) > 5 else "***"
    if channel == "webhook":
        parts = urlsplit(recipient)
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{parts.hostname or ''}{port}/…"
    return "***"
