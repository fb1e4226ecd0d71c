"""Field checks with messages a province's technician can act on (English / Vietnamese).

Each function takes the raw value and returns the normalised one or raises ValueError;
pydantic turns that into a 422 naming the field (``wall.api.common.read_body``).
"""
from __future__ import annotations

import ipaddress
import re

from iocwall.streams.urls import UrlError, parse, redact
from iocwall.wall import provinces

_PHONE_SEPARATORS = re.compile(r"[\s.\-()]")
_MOBILE = re.compile(r"^0[35789]\d{8}$")          # 10 digits: 03x 05x 07x 08x 09x
_LANDLINE = re.compile(r"^02\d{9}$")               # 11 digits: 02 + area code + number
_BANDWIDTH = re.compile(r"^(\d+(?:[.,]\d+)?)\s*([kmg])(?:bps|bit/s|b/s)$", re.IGNORECASE)
_HOST = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                   r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
_UNITS = {"k": 1_000, "m": 1_000_000, "g": 1_000_000_000}


def phone(value: str) -> str:
    """A Vietnamese mobile (0912 345 678, +84 912 345 678) or landline (024 3825 1234),
    returned as +84 followed by the national number."""
    digits = _PHONE_SEPARATORS.sub("", value or "")
    if digits.startswith("+84"):
        digits = "0" + digits[3:]
    elif digits.startswith("84") and len(digits) in (11, 12):
        digits = "0" + digits[2:]
    if not (_MOBILE.match(digits) or _LANDLINE.match(digits)):
        raise ValueError("expected a Vietnamese phone number: mobile 0912 345 678 or "
                         "+84 912 345 678, landline 024 3825 1234 / số điện thoại không hợp lệ")
    return "+84" + digits[1:]


def bandwidth(value: str) -> int:
    """'100 Mbps', '2.5 Gbit/s', '512 kbps' -> bits per second."""
    match = _BANDWIDTH.match((value or "").strip())
    if not match:
        raise ValueError("expected a number and a unit: kbps, Mbps or Gbps, e.g. 100 Mbps "
                         "/ băng thông cần có đơn vị, ví dụ 100 Mbps")
    number = float(match.group(1).replace(",", "."))
    bps = int(number * _UNITS[match.group(2).lower()])
    if not 1_000 <= bps <= 100_000_000_000:
        raise ValueError("bandwidth must be between 1 kbps and 100 Gbps / băng thông ngoài khoảng")
    return bps


def province_code(value: str, historical: bool = False) -> str:
    try:
        return provinces.resolve(value, historical).code
    except provinces.UnknownProvince as exc:
        raise ValueError(str(exc)) from None


def host_port(value: str, default_port: int = 80) -> tuple[str, int]:
    """'192.168.1.10:8000' or 'cam.example.vn' -> (host, port) of an ONVIF device."""
    text = (value or "").strip()
    text = re.sub(r"^(onvif|https?)://", "", text).split("/", 1)[0]
    if "@" in text:
        raise ValueError("put the user name and password in their own fields, not in the "
                         "address / nhập tài khoản ở ô riêng")
    host, _, port_text = text.rpartition(":") if ":" in text else (text, "", "")
    port = default_port
    if port_text:
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise ValueError(f"port '{port_text}' must be a number 1-65535 / cổng không hợp lệ")
        port = int(port_text)
    if not _is_host(host):
        raise ValueError("expected host:port of the camera's ONVIF service, e.g. "
                         "192.168.1.64:80 / địa chỉ ONVIF không hợp lệ")
    return host, port


def endpoint(value: str) -> str:
    """A public address or VPN endpoint: host, host:port, or an http(s) URL."""
    text = (value or "").strip()
    if not text:
        return ""
    if "://" in text:
        try:
            url = parse(text)
        except UrlError as exc:
            raise ValueError(str(exc)) from None
        return url.public()
    host_port(text)
    return text


def rtsp_url(value: str) -> tuple[str, str | None, str | None]:
    """An RTSP URL -> (URL without credentials, user, password found in it)."""
    text = (value or "").strip()
    if not text:
        return "", None, None
    if not re.match(r"^rtsps?://", text, re.IGNORECASE):
        raise ValueError(f"'{redact(text)}' is not an RTSP URL: expected "
                         "rtsp://host:554/path / cần địa chỉ rtsp://")
    try:
        url = parse(text)
    except UrlError as exc:
        raise ValueError(str(exc)) from None
    if url.path in ("", "/"):
        raise ValueError("the URL has no stream path, e.g. rtsp://host:554/Streaming/Channels/101"
                         " / thiếu đường dẫn luồng")
    return url.public(), url.username, url.password


def _is_host(host: str) -> bool:
    if not host:
        return False
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return bool(_HOST.match(host))
