"""The sender loop: claim due messages, send them, record each outcome.

Memory stays bounded whatever the gateways do: at most ``batch`` messages are held at a
time; everything else waits in the outbox table. A failed try is paced by backoff.py, and
after ``max_attempts`` tries the message is ``failed`` with the last reason. Every
outcome is audited (notify.sent, notify.retry, notify.failed).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from iocwall.wall.audit import AuditLog
from iocwall.wall.notify.backoff import retry_delay
from iocwall.wall.notify.channels import Sender
from iocwall.wall.notify.contacts import mask
from iocwall.wall.notify.message import Channel, Message, SendError
from iocwall.wall.notify.outbox import Outbox

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pacing:
    max_attempts: int
    backoff_min_s: float
    backoff_max_s: float
    poll_s: float
    batch: int
    claim_s: float


class OutboxSender:
    def __init__(self, outbox: Outbox, channels: Mapping[Channel, Sender], pacing: Pacing,
                 audit: AuditLog) -> None:
        """``channels``: the configured ones; a message for another fails with that reason."""
        self._outbox = outbox
        self._channels = dict(channels)
        self._pacing = pacing
        self._audit = audit
        self.owner = f"sender-{uuid.uuid4().hex[:12]}"
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._inflight: set[int] = set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="notify-sender")

    def wake(self) -> None:
        """Something was enqueued: look now instead of at the next poll."""
        self._wake.set()

    async def stop(self) -> None:
        """Stop at once; messages being sent are given back (due again at the next start,
        with the same delivery id, so a receiver that already got one drops the repeat)."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        # gather, not "await task" under suppress(CancelledError): our own caller's
        # cancellation must still reach us (tests/test_cancel_loops.py)
        await asyncio.gather(task, return_exceptions=True)
        for message_id in list(self._inflight):
            with contextlib.suppress(Exception):
                await self._outbox.release(message_id, self.owner)
        self._inflight.clear()

    async def _run(self) -> None:
        while True:
            try:
                claimed = await self._outbox.claim(self.owner, self._pacing.batch,
                                                   self._pacing.claim_s)
                if claimed:
                    await asyncio.gather(*(self._send(m) for m in claimed))
                    continue                # more may be due: look again before sleeping
                await self._sleep()
            except asyncio.CancelledError:
                raise
            except Exception:
                # the store may be briefly unreachable: log, wait a poll, try again
                log.exception("notify sender: a round failed")
                await asyncio.sleep(self._pacing.poll_s)

    async def _sleep(self) -> None:
        due = await self._outbox.next_due()
        wait = self._pacing.poll_s if due is None else \
            min(self._pacing.poll_s, max(due - time.time(), 0.0))
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(wait, 0.01)):
                await self._wake.wait()

    async def _send(self, message: Message) -> None:
        self._inflight.add(message.id)
        try:
            channel = self._channels.get(message.channel)
            if channel is None:
                raise SendError(f"channel '{message.channel.value}' is not configured in "
                                "[notify]", permanent=True)
            await channel.send(message)
        except SendError as exc:
            await self._failure(message, exc)
        except asyncio.CancelledError:
            raise
        except Exception as exc:              # a bug in a channel must not stop the others
            log.exception("notify: sending message %d", message.id)
            await self._failure(message, SendError(f"internal error: {type(exc).__name__}"))
        else:
            if await self._outbox.sent(message.id, self.owner):
                await self._record("notify.sent", message, message.attempts + 1)
        finally:
            self._inflight.discard(message.id)

    async def _failure(self, message: Message, error: SendError) -> None:
        tries = message.attempts + 1
        if error.permanent or tries >= self._pacing.max_attempts:
            if await self._outbox.failed(message.id, self.owner, error.reason):
                log.warning("notify: message %d failed after %d tries: %s", message.id, tries,
                            error.reason)
                await self._record("notify.failed", message, tries, error.reason)
            return
        p = self._pacing
        due = time.time() + retry_delay(tries, p.backoff_min_s, p.backoff_max_s)
        if await self._outbox.retry(message.id, self.owner, error.reason, due):
            log.info("notify: message %d try %d failed, again in %.1f s: %s", message.id,
                     tries, due - time.time(), error.reason)
            await self._record("notify.retry", message, tries, error.reason)

    async def _record(self, action: str, message: Message, attempts: int,
                      error: str = "") -> None:
        after = {"channel": message.channel.value,
                 "recipient": mask(message.channel.value, message.recipient),
                 "attempts": attempts, "series": message.series, "kind": message.kind}
        if error:
            after["error"] = error
        try:
            await self._audit.record("system", action, f"outbox:{message.id}", None, after,
                                     province=message.province)
        except Exception:            # the outcome is stored already; the loop goes on
            log.exception("notify: auditing %s of message %d", action, message.id)
