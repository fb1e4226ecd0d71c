"""Camera URLs: parse, validate, and strip credentials before anything is shown.

Every place that prints, logs or returns a camera URL goes through ``redact``.
"""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit, urlunsplit

_SCHEMES = {"rtsp", "rtsps", "onvif", "http", "https"}
_CREDS_IN_TEXT = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s:]*(:[^/@\s]*)?@")


class UrlError(ValueError):
    """A camera URL that cannot be used; the message says what to fix."""


class TransportMode(str, enum.Enum):
    """How RTP travels from a camera: ``auto`` tries TCP interleaved, then UDP if refused."""
    AUTO = "auto"
    TCP = "tcp"
    UDP = "udp"


@dataclass(frozen=True)
class CameraUrl:
    """Where a stream is and how to log in to it; ``repr`` never shows the password."""
    scheme: str
    host: str
    port: int
    path: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    transport: TransportMode = TransportMode.AUTO
    # Basic auth sends the password in clear: only to cameras whose profile allows it,
    # so a spoofed camera that asks for Basic learns nothing.
    allow_basic_auth: bool = False

    def with_credentials(self) -> str:
        """The URL to hand to a client library (never log this)."""
        auth = ""
        if self.username is not None:
            auth = quote(self.username, safe="")
            if self.password is not None:
                auth += ":" + quote(self.password, safe="")
            auth += "@"
        return urlunsplit((self.scheme, f"{auth}{_host(self.host)}:{self.port}", self.path, "", ""))

    def public(self) -> str:
        """The URL without credentials: safe for logs, pages and API bodies."""
        return urlunsplit((self.scheme, f"{_host(self.host)}:{self.port}", self.path, "", ""))


_DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "onvif": 80, "http": 80, "https": 443}


def parse(url: str, username: str | None = None, password: str | None = None, *,
          transport: TransportMode | str = TransportMode.AUTO,
          allow_basic_auth: bool = False) -> CameraUrl:
    """Parse and check a camera URL; explicit credentials override those in the URL."""
    if not isinstance(url, str) or not url.strip():
        raise UrlError("empty URL: expected something like rtsp://host:554/path")
    url = url.strip()
    if "://" not in url:
        raise UrlError(f"'{redact(url)}' has no scheme: expected rtsp://host:port/path")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise UrlError(f"unsupported scheme '{scheme}': use one of {', '.join(sorted(_SCHEMES))}")
    try:
        port = parts.port or _DEFAULT_PORTS[scheme]
    except ValueError:
        raise UrlError(f"'{redact(url)}' has an invalid port: expected a number 1-65535") from None
    if not parts.hostname:
        raise UrlError(f"'{redact(url)}' has no host")
    user = username if username is not None else _unq(parts.username)
    pw = password if password is not None else _unq(parts.password)
    path = parts.path + (("?" + parts.query) if parts.query else "")
    try:
        mode = TransportMode(transport)
    except ValueError:
        raise UrlError(f"transport '{transport}': use auto, tcp or udp") from None
    return CameraUrl(scheme, parts.hostname, port, path or "/", user, pw, mode, allow_basic_auth)


def redact(text: str) -> str:
    """Remove ``user:password@`` from every URL inside ``text``."""
    return _CREDS_IN_TEXT.sub(lambda m: m.group("scheme"), str(text))


def _unq(value: str | None) -> str | None:
    return unquote(value) if value is not None else None


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
