"""Bounded thread pools for the media server's blocking work, one per kind.

Snapshots (decode + JPEG) and transcoding (decode for a viewer that refuses
H.264) block a thread for milliseconds to tens of milliseconds. On the loop's
default executor they would queue behind, and in front of, everything else
that uses it (aiortc's fallback encoder, password hashing in the web process):
a burst of snapshot requests could delay a viewer's decode, or the other way
round. Each kind gets its own few threads, and a pool refuses work past a
bound of waiting calls instead of growing a queue (the caller answers 503).
"""
from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class PoolBusy(Exception):
    """Too many calls already waiting for this pool."""


class Pool:
    def __init__(self, name: str, workers: int, max_pending: int) -> None:
        self.name, self.workers, self.max_pending = name, workers, max_pending
        self._executor: ThreadPoolExecutor | None = None
        self.pending = 0
        self.refused = 0

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        if self.pending >= self.max_pending:
            self.refused += 1
            raise PoolBusy(f"{self.name}: {self.pending} calls already waiting")
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix=self.name)
        self.pending += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        finally:
            self.pending -= 1

    def shutdown(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)


_CORES = os.cpu_count() or 2
SNAPSHOTS = Pool("snapshot", 2, 16)
TRANSCODE = Pool("transcode", max(2, _CORES), 8 * max(2, _CORES))


def shutdown_all() -> None:
    for pool in (SNAPSHOTS, TRANSCODE):
        pool.shutdown()
