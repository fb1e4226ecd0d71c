"""The duties that must run once: started on the leader, stopped when it loses the lease.

    duties = Duties(lease)                      # follows lease.on_change
    duties.add("analytics", start, stop)        # start(epoch), stop()
    ...; await duties.stop()                    # stops what runs; never hangs

Changes are applied in order by one task of their own, so a slow duty start never delays
the lease's renewals (the lease would be lost for it). Duties that are cheap to ask at
each step (alarm rules, alert rules) read ``leadership.is_leader()`` instead, and their
store writes are fenced with ``write_epoch`` (lease.fenced).
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from iocwall.streams.leadership import Leadership
from iocwall.wall.cluster.lease import Lease

log = logging.getLogger(__name__)
Start = Callable[[int], Awaitable[None]]
Stop = Callable[[], Awaitable[None]]


def leads(leadership: Leadership | None) -> bool:
    """True where leader duties may run now (no leadership given: a process alone)."""
    return leadership is None or leadership.is_leader()


def write_epoch(leadership: Leadership | None) -> int | None:
    """The epoch a leader duty's write is fenced with (lease.fenced); None when there is no
    lease in the store to fence with (no leadership, or a SoleLeader)."""
    return leadership.epoch() if isinstance(leadership, Lease) else None


@dataclass
class _Duty:
    name: str
    start: Start
    stop: Stop


class Duties:
    def __init__(self, leadership: Leadership) -> None:
        self._duties: list[_Duty] = []
        self._changes: asyncio.Queue[tuple[bool, int]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.running = False
        self.epoch = 0
        leadership.on_change(self._changed)

    def add(self, name: str, start: Start, stop: Stop) -> None:
        self._duties.append(_Duty(name, start, stop))

    def names(self) -> list[str]:
        return [d.name for d in self._duties]

    async def _changed(self, leading: bool, epoch: int) -> None:
        self._changes.put_nowait((leading, epoch))
        if self._task is None:
            self._task = asyncio.create_task(self._work(), name="leader-duties")

    async def settled(self) -> None:
        """Until every change so far has been applied (start-up waits for its duties)."""
        await self._changes.join()

    async def _work(self) -> None:
        while True:
            leading, epoch = await self._changes.get()
            try:
                if leading and not self.running:
                    await self._start_all(epoch)
                elif not leading and self.running:
                    await self._stop_all()
            finally:
                self._changes.task_done()

    async def _start_all(self, epoch: int) -> None:
        self.running, self.epoch = True, epoch
        for duty in self._duties:
            try:
                await duty.start(epoch)
                log.info("leader duty started: %s (epoch %d)", duty.name, epoch)
            except Exception:
                log.exception("leader duty %s failed to start", duty.name)

    async def _stop_all(self) -> None:
        self.running, self.epoch = False, 0
        for duty in reversed(self._duties):
            try:
                await duty.stop()
                log.info("leader duty stopped: %s", duty.name)
            except Exception:
                log.exception("leader duty %s failed to stop", duty.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self.running:
            await self._stop_all()
