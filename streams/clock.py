"""Wall-clock time as the project shows it: ISO 8601 in Vietnam time (+07:00)."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

VN_TZ = timezone(timedelta(hours=7), "Asia/Ho_Chi_Minh")


def now_iso() -> str:
    """Current time, e.g. ``2026-11-23T14:05:09.123+07:00``."""
    return iso_from_epoch(time.time())


def iso_from_epoch(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, VN_TZ).isoformat(timespec="milliseconds")


def parse_iso(text: str) -> datetime:
    """Parse an ISO 8601 time; a naive time is taken as Vietnam time."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=VN_TZ)
