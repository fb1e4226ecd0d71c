"""The store is out of reach (PostgreSQL down, network cut): answered as a 503, never a 500.

An ``ApiError``, so every route answers it with the one error shape. The work that met
it was rolled back (the server ends a transaction whose connection died), so a
request refused this way left nothing half-done; the store reconnects by itself on
its next call.
"""
from __future__ import annotations

from iocwall.wall.errors import ApiError

RETRY_AFTER_S = 5


class StoreUnavailable(ApiError):
    def __init__(self, detail: str = "") -> None:
        super().__init__(503, "store_unavailable",
                         "the database is unavailable, nothing was saved; try again shortly "
                         "/ cơ sở dữ liệu không truy cập được, chưa lưu gì; hãy thử lại sau",
                         headers={"Retry-After": str(RETRY_AFTER_S)})
        self.detail = detail

    def __str__(self) -> str:
        return f"store unavailable: {self.detail}" if self.detail else "store unavailable"
