"""The RTSP ``Transport`` header (RFC 2326 12.39), both sides: what a client asks for in
SETUP and what a camera answers, e.g. ``RTP/AVP;unicast;client_port=5000-5001``.

The one parser: the ingest and the smoke test read the camera's answer with
it, the simulator reads its clients' requests with it.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TransportSpec:
    protocol: str                                  # "RTP/AVP/TCP", "RTP/AVP", "RTP/AVP/UDP"
    params: dict[str, str] = field(default_factory=dict)   # lower-case names; flags map to ""

    @property
    def tcp(self) -> bool:
        return self.protocol.upper() == "RTP/AVP/TCP"

    @property
    def udp(self) -> bool:
        return self.protocol.upper() in ("RTP/AVP", "RTP/AVP/UDP")

    @property
    def multicast(self) -> bool:
        return "multicast" in self.params

    def get(self, name: str) -> str:
        return self.params.get(name, "")

    def pair(self, name: str) -> tuple[int, int] | None:
        """``interleaved``, ``client_port`` or ``server_port`` as (first, second)."""
        return port_pair(self.get(name))


def parse_transport(header: str) -> TransportSpec:
    """The first of the comma-separated alternatives of a Transport header."""
    first = header.split(",")[0]
    fields = [f.strip() for f in first.split(";") if f.strip()]
    params: dict[str, str] = {}
    for item in fields[1:]:
        key, _, value = item.partition("=")
        params[key.strip().lower()] = value.strip()
    return TransportSpec(fields[0] if fields else "", params)


def port_pair(text: str) -> tuple[int, int] | None:
    """``a-b`` (or ``a``, meaning a-(a+1)) as two numbers 0-65535; None if malformed."""
    first, _, second = text.partition("-")
    if not first.strip().isdigit():
        return None
    low = int(first)
    high = int(second) if second.strip().isdigit() else low + 1
    if not (0 <= low <= 65535 and 0 <= high <= 65535):
        return None
    return low, high
