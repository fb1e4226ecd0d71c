"""The sender against a dead gateway: bounded work in memory, paced retries, all in the
store; the real webhook channel against a closed port on 127.0.0.1."""
from __future__ import annotations

import time
from pathlib import Path

import httpx

from iocwall.streams.clock import parse_iso
from iocwall.wall.audit import AuditLog
from iocwall.wall.notify.channels.webhook import WebhookSender
from iocwall.wall.notify.message import Channel, Draft, Message, State
from iocwall.wall.notify.outbox import Outbox
from iocwall.wall.notify.sender import OutboxSender, Pacing
from iocwall.wall.store import Store
from tests.notify_helpers import free_port
from tests.waiting import wait_until

MESSAGES = 120
BATCH = 4


class Watched:
    """The real webhook channel, with the number of sends running at once recorded."""

    def __init__(self, inner: WebhookSender) -> None:
        self.inner = inner
        self.running = 0
        self.most = 0
        self.calls = 0

    async def send(self, message: Message) -> None:
        self.running += 1
        self.calls += 1
        self.most = max(self.most, self.running)
        try:
            await self.inner.send(message)
        finally:
            self.running -= 1


async def test_dead_gateway_costs_rows_not_memory(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/hook"          # nobody listens there
    store = Store(tmp_path / "s.sqlite3")
    await store.open()
    outbox = Outbox(store)
    for n in range(MESSAGES):
        await outbox.enqueue(Draft(Channel.WEBHOOK, dead, f"alert:{n}:raised:t", "s", "s", "b",
                                   "b", {}))
    async with httpx.AsyncClient(timeout=2) as client:
        channel = Watched(WebhookSender(client, "secret"))
        sender = OutboxSender(outbox, {Channel.WEBHOOK: channel},
                              Pacing(max_attempts=5, backoff_min_s=30, backoff_max_s=600,
                                     poll_s=0.05, batch=BATCH, claim_s=60), AuditLog(store))
        started = time.time()
        sender.start()
        try:
            async def all_tried() -> bool:
                rows = await outbox.list(limit=500)
                return all(m.attempts == 1 for m in rows)
            await wait_until(all_tried, 30, "every message tried once")
        finally:
            await sender.stop()
    rows = await outbox.list(limit=500)
    await store.close()
    assert len(rows) == MESSAGES and channel.calls == MESSAGES    # one try each, no more yet
    assert channel.most <= BATCH                                   # never more in flight
    assert all(m.state is State.PENDING for m in rows)
    assert all("webhook http://127.0.0.1" in m.last_error for m in rows)
    # paced: the next try is 15-30 s away (half to all of backoff_min_s), jittered
    dues = sorted(m.next_attempt_at for m in rows)
    delays = [parse_iso(d).timestamp() - started for d in dues]
    assert min(delays) >= 15 - 1 and max(delays) <= 30 + 35
    assert len({round(d, 1) for d in delays}) > MESSAGES // 4      # spread, not one burst
