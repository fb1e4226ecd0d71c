"""A small thread pool that refuses work at once (503 "busy") when it is full.

CPU- or memory-heavy request work (argon2 password checks, parsing an uploaded spreadsheet)
runs here instead of on the event loop or the default executor: at most ``workers`` jobs run
and ``queue`` more wait; any further call raises ApiError 503 instead of piling up, so a burst
of such requests can neither grow the server's memory nor starve the default thread pool that
the store and the media server use.
"""
from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from iocwall.wall.errors import ApiError

T = TypeVar("T")


class BoundedPool:
    """Run blocking functions on ``workers`` threads with at most ``queue`` waiting."""

    def __init__(self, name: str, busy_message: str, *, workers: int = 2, queue: int = 6) -> None:
        """``name``: the threads' name prefix; ``busy_message``: the 503's message (English /
        Vietnamese); ``workers``: jobs run at once; ``queue``: jobs allowed to wait."""
        self._name = name
        self._busy_message = busy_message
        self._workers = workers
        self._slots = workers + queue
        self._busy = 0
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    @property
    def busy(self) -> int:
        """Jobs running or waiting now."""
        return self._busy

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """``fn(*args)`` on the pool; raises ApiError 503 "busy" at once when it is full."""
        with self._lock:
            if self._busy >= self._slots:
                raise ApiError(503, "busy", self._busy_message)
            self._busy += 1
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix=self._name)
        try:
            work: Future[T] = self._pool.submit(fn, *args)
        except BaseException:
            self._release()
            raise
        # The slot is freed when the work ends, not when the caller stops waiting: a
        # cancelled request's job may still be running and holding its memory.
        work.add_done_callback(lambda _: self._release())
        return await asyncio.wrap_future(work)

    def close(self) -> None:
        """Stop the pool's threads (a later call starts a new pool)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def _release(self) -> None:
        with self._lock:
            self._busy -= 1
