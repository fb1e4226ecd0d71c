"""What the technician typed: an RTSP URL, an ONVIF address or a display node.

Parsing never raises anything but ``TargetError``, whose message is one line
saying what is wrong and what to try; it never contains the password.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

from iocwall.streams.urls import CameraUrl, UrlError, parse, redact


class TargetKind(enum.Enum):
    RTSP = "rtsp"
    ONVIF = "onvif"
    DISPLAY = "display"


class TargetError(ValueError):
    """A target that cannot be tested as typed; the message is one line."""


@dataclass(frozen=True)
class Target:
    kind: TargetKind
    url: CameraUrl

    @property
    def public(self) -> str:
        """The target as shown anywhere: no credentials."""
        if self.kind is TargetKind.RTSP:
            return self.url.public()
        return f"{self.kind.value}://{self.url.host}:{self.url.port}"


_EXAMPLES = {
    TargetKind.RTSP: "rtsp://user:pass@host:554/path",
    TargetKind.ONVIF: "onvif://user:pass@host:80",
    TargetKind.DISPLAY: "display://host:port",
}


def parse_target(text: str, user: str | None = None, password: str | None = None) -> Target:
    """Parse TARGET; ``user``/``password`` (from options) override those in the URL."""
    text = (text or "").strip()
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if scheme == "display":
        return Target(TargetKind.DISPLAY, _display(text))
    if scheme not in ("rtsp", "onvif"):
        raise TargetError(_bad_scheme(text, scheme))
    kind = TargetKind(scheme)
    try:
        url = parse(text, user, password)
    except UrlError as exc:
        raise TargetError(f"{_clean(str(exc))}, e.g. {_EXAMPLES[kind]}") from None
    _check_port_text(text, kind)
    if kind is TargetKind.RTSP and url.path in ("", "/"):
        raise TargetError(
            f"'{url.public()}' has no stream path: add the camera's path, "
            f"e.g. rtsp://host:554/Streaming/Channels/101 (see the camera's manual or use onvif://)"
        )
    return Target(kind, url)


def _display(text: str) -> CameraUrl:
    # urls.parse does not know display://; read host and port with an http lookalike.
    try:
        url = parse("http://" + text.split("://", 1)[1])
    except UrlError as exc:
        raise TargetError(f"{_clean(str(exc))}, e.g. {_EXAMPLES[TargetKind.DISPLAY]}") from None
    return CameraUrl("display", url.host, url.port, url.path)


def _bad_scheme(text: str, scheme: str) -> str:
    shown = redact(text)
    if not scheme:
        return (f"'{_mask_bare(shown)}' has no scheme: write rtsp://host:554/path, "
                f"onvif://user:pass@host:port or display://host:port")
    near = ("rstp", "rtps", "rtp", "rtsps", "http", "https")
    hint = " (did you mean rtsp://?)" if scheme in near else ""
    return (f"unsupported scheme '{scheme}://'{hint}: use rtsp://, onvif:// or display://")


def _check_port_text(text: str, kind: TargetKind) -> None:
    """urls.parse accepts 'host:' with an empty port; a technician meant a number."""
    rest = text.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
    if rest.endswith(":"):
        raise TargetError(f"the port after '{rest}' is empty: expected a number 1-65535, "
                          f"e.g. {_EXAMPLES[kind]}")


def _clean(message: str) -> str:
    return redact(message).rstrip(".")


def _mask_bare(text: str) -> str:
    """Without a scheme, redact() cannot spot 'user:pass@host'; hide what precedes '@'."""
    return text.rsplit("@", 1)[-1] if "@" in text else text
