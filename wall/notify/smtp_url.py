"""``smtp_url`` of ``[notify]``: where mail goes and how the link is protected.

    smtp://user@mail.example.vn:587     STARTTLS required, then AUTH LOGIN/PLAIN as ``user``
    smtps://user@mail.example.vn:465    TLS from the first byte
    smtp+plain://127.0.0.1:25           no TLS at all: a relay on this machine only

The password never sits in the URL (it would end up in files and logs): it comes from
IOCWALL_SMTP_PASSWORD. A URL that carries one is refused with a message saying so.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

_SCHEMES = {"smtp": (587, "starttls"), "smtps": (465, "tls"), "smtp+plain": (25, "none")}


class SmtpUrlError(ValueError):
    """The URL cannot be used; the message says what to write instead."""


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    security: str          # starttls | tls | none
    username: str          # "" = no login

    def display(self) -> str:
        """For logs and errors: never a password (there is none in the URL anyway)."""
        user = f"{self.username}@" if self.username else ""
        return f"{self.security}://{user}{self.host}:{self.port}"


def parse_smtp_url(url: str) -> SmtpTarget:
    """The target of ``url``; raises SmtpUrlError with a clear message."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise SmtpUrlError(f"not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise SmtpUrlError("expected smtp://user@host:587 (STARTTLS), smtps://user@host:465 "
                           "or smtp+plain://127.0.0.1:25 (local relay, no TLS)")
    if parts.password is not None:
        raise SmtpUrlError("put the password in IOCWALL_SMTP_PASSWORD, not in the URL")
    if not parts.hostname:
        raise SmtpUrlError("the URL names no host, e.g. smtp://user@mail.example.vn:587")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise SmtpUrlError("the URL takes no path or query, e.g. smtp://user@host:587")
    default_port, security = _SCHEMES[scheme]
    return SmtpTarget(parts.hostname, port or default_port, security,
                      unquote(parts.username or ""))
