"""The bus is out of reach (Redis down): a write that must be announced is refused with 503.

Such a write (a layout push, an alarm cleared, a camera changed, a display revoked, ...)
is only whole when every controller hears of it; saved but unannounced, it would leave
displays on other controllers showing the old state with nothing to tell them. So it is
refused *before* anything is read or written, and the client may simply retry: Redis
comes back by itself and the bus re-subscribes (wall/bus/redis_bus.py).
"""
from __future__ import annotations

import asyncio

from iocwall.wall.bus.base import Bus
from iocwall.wall.errors import ApiError

RETRY_AFTER_S = 5
CHECK_TIMEOUT_S = 1.0     # a partitioned Redis (no refusal, no answer) costs at most this


class BusUnavailable(ApiError):
    def __init__(self) -> None:
        super().__init__(503, "bus_unavailable",
                         "the event bus (Redis) is unavailable, nothing was saved; try again "
                         "shortly / kênh sự kiện (Redis) không truy cập được, chưa lưu gì; "
                         "hãy thử lại sau", headers={"Retry-After": str(RETRY_AFTER_S)})


class BusLostAfterSave(ApiError):
    """Redis went away between the check and the announcement: the write is saved and
    audited, and every controller re-sends its displays what changed once the bus is
    back (wall/walls/controller.py). Told as it is, so nobody believes it was refused."""
    def __init__(self) -> None:
        super().__init__(503, "bus_unavailable",
                         "saved, but the event bus (Redis) went away before the displays "
                         "were told; they get it when the bus is back / đã lưu, nhưng kênh "
                         "sự kiện (Redis) mất kết nối trước khi báo các màn hình; màn hình "
                         "sẽ nhận khi kênh hoạt động lại",
                         headers={"Retry-After": str(RETRY_AFTER_S)})


async def require_bus(bus: Bus) -> None:
    """Raise BusUnavailable unless ``bus`` can carry events now."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            ok = await bus.ping()
    except (TimeoutError, RuntimeError):
        ok = False
    if not ok:
        raise BusUnavailable()
