"""This controller, the store, the bus, the data dir's disk and the TLS certificate.

The controller's component shows who holds the leader lease (wall/cluster/lease.py) and its
epoch; it is down when nobody holds it, which the controller_down rule turns into an alert.
"""
from __future__ import annotations

import asyncio
import shutil
import socket
from datetime import datetime
from pathlib import Path
from typing import Protocol

from iocwall.streams.clock import VN_TZ
from iocwall.wall.health.model import Component, Kind, State


class LeaderView(Protocol):
    """What the leader lease tells the board (streams.leadership.Leadership has more)."""
    def holder(self) -> str | None: ...        # controller id holding the lease, None: nobody
    def seen_epoch(self) -> int: ...           # the lease's epoch, whoever holds it


def controller_component(node_id: str | None, uptime_s: float,
                         leader: LeaderView | None = None) -> Component:
    me = node_id or socket.gethostname()
    if leader is None:
        return Component(Kind.CONTROLLER, me, State.OK, detail={
            "uptime_s": round(uptime_s), "leader": True, "lease": "single controller"})
    holder = leader.holder()
    return Component(Kind.CONTROLLER, me, State.OK if holder else State.DOWN, detail={
        "uptime_s": round(uptime_s), "leader": holder == me, "lease_holder": holder,
        "epoch": leader.seen_epoch()})


def ping_component(kind: Kind, ok: bool, name: str) -> Component:
    return Component(kind, kind.value, State.OK if ok else State.DOWN, name,
                     detail={"reachable": ok})


async def disk_component(path: Path, min_free_percent: float) -> Component:
    try:
        usage = await asyncio.to_thread(shutil.disk_usage, path)
    except OSError as exc:
        return Component(Kind.DISK, "data", State.DOWN, str(path), detail={"error": str(exc)})
    free = 100.0 * usage.free / usage.total if usage.total else 0.0
    state = State.DOWN if free < min_free_percent else State.OK
    return Component(Kind.DISK, "data", state, str(path), detail={
        "free_percent": round(free, 1), "free_bytes": usage.free, "total_bytes": usage.total,
        "min_free_percent": min_free_percent})


async def certificate_component(pem_file: str, warn_days: float,
                                now: datetime | None = None) -> Component:
    if not pem_file:
        return Component(Kind.CERTIFICATE, "tls", State.NOT_CONFIGURED)
    try:
        data = await asyncio.to_thread(Path(pem_file).expanduser().read_bytes)
        from cryptography import x509
        cert = x509.load_pem_x509_certificate(data)
    except (OSError, ValueError) as exc:
        return Component(Kind.CERTIFICATE, "tls", State.DOWN, pem_file,
                         detail={"error": f"cannot read the certificate: {exc}"})
    expires = cert.not_valid_after_utc.astimezone(VN_TZ)
    days = (expires - (now or datetime.now(VN_TZ))).total_seconds() / 86400
    state = State.DOWN if days <= 0 else State.DEGRADED if days <= warn_days else State.OK
    return Component(Kind.CERTIFICATE, "tls", state, pem_file, detail={
        "expires_at": expires.isoformat(timespec="seconds"), "days_left": round(days, 1)})
