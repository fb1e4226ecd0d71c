"""A controller's connection to one media node: TLS, the shared secret, typed calls.

``NodeLink.connect`` opens TCP with TLS (the node's certificate checked against
``[cluster] ca_file``), proves the secret both ways (streams/nodeauth.py) and then
carries ``wire.Call``s in ``netwire`` frames: ``call`` awaits the ``Reply``, ``notify``
does not. Replies, ``SessionClosed`` and tap frames from the node are read by one task;
when the connection ends every pending call fails with 503 and ``on_lost`` is called.
Calls go out in order on the one connection, so an ``ADD`` always precedes an offer
for that camera.
"""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable
from typing import Any

from iocwall.streams import netwire, nodeauth
from iocwall.streams.limits import WhepError
from iocwall.streams.netwire import ProtocolError
from iocwall.streams.wire import Call, Op, Reply, SessionClosed, TapEnded, TapFrame

log = logging.getLogger(__name__)
CONNECT_S = 5.0
CALL_TIMEOUT_S = 30.0
RETRY_AFTER_S = 2


def unreachable(node: str) -> WhepError:
    return WhepError(503, "media_unreachable", f"media node {node} is not reachable; try "
                     "again / không kết nối được máy chủ video", RETRY_AFTER_S)


class NodeLink:
    def __init__(self, node: str, address: str, secret: bytes, ca_file: str, *,
                 on_message: Callable[[str, object], None],
                 on_lost: Callable[[str], None]) -> None:
        """``address``: host:port from the node's announcement; ``on_message``: a pushed
        ``SessionClosed``/``TapFrame``/``TapEnded``; ``on_lost``: the connection ended."""
        self.node, self.address = node, address
        self._secret, self._ca = secret, ca_file
        self._on_message, self._on_lost = on_message, on_lost
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._ids = itertools.count(1)
        self.ready = False
        self.synced_epoch = 0            # the leader epoch this node was last SYNCed with
        self.sent: frozenset[str] = frozenset()   # cameras the leader sent it

    async def connect(self) -> None:
        """Raises OSError, ssl.SSLError or nodeauth.AuthFailed."""
        host, _, port = self.address.rpartition(":")
        host = host.strip("[]")
        async with asyncio.timeout(CONNECT_S):
            reader, writer = await asyncio.open_connection(
                host, int(port), ssl=nodeauth.client_context(self._ca), server_hostname=host)
        try:
            await nodeauth.controller_side(reader, writer, self._secret, self.node)
        except BaseException:
            writer.close()
            raise
        self._writer, self.ready = writer, True
        self._reader_task = asyncio.create_task(self._read(reader), name=f"link-{self.node}")

    async def close(self) -> None:
        task, self._reader_task = self._reader_task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._lost()

    def _lost(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        was, self.ready = self.ready, False
        for future in self._pending.values():
            if not future.done():
                future.set_exception(unreachable(self.node))
        self._pending.clear()
        if was:
            self._on_lost(self.node)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                message = await netwire.receive(reader)
                if isinstance(message, Reply):
                    future = self._pending.pop(message.id, None)
                    if future is None or future.done():
                        continue
                    if message.error is not None:
                        e = message.error
                        future.set_exception(WhepError(e.status, e.code, e.message,
                                                       e.retry_after_s))
                    else:
                        future.set_result(message.value)
                elif isinstance(message, SessionClosed | TapFrame | TapEnded):
                    self._on_message(self.node, message)
                elif isinstance(message, ProtocolError):
                    log.warning("media node %s refused a frame: %s", self.node, message.message)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        except netwire.WireError as exc:
            log.warning("media node %s sent a bad frame: %s", self.node, exc.message)
        finally:
            if self._reader_task is asyncio.current_task():
                self._reader_task = None
            self._lost()

    def _write(self, op: Op, args: tuple[object, ...], epoch: int) -> int:
        if not self.ready or self._writer is None:
            raise unreachable(self.node)
        call = Call(next(self._ids), op, args, epoch)
        self._writer.write(netwire.encode(call))
        return call.id

    async def call(self, op: Op, *args: object, epoch: int = 0) -> Any:
        """``op`` on the node; raises WhepError (its refusal, or 503 when unreachable)."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        call_id = self._write(op, args, epoch)
        self._pending[call_id] = future
        try:
            async with asyncio.timeout(CALL_TIMEOUT_S):
                return await asyncio.shield(future)
        except TimeoutError:
            log.error("media node %s: no answer to %s within %.0f s", self.node, op.value,
                      CALL_TIMEOUT_S)
            raise WhepError(503, "media_busy", f"media node {self.node} does not answer; "
                            "try again / máy chủ video bận", RETRY_AFTER_S) from None
        finally:
            self._pending.pop(call_id, None)

    def notify(self, op: Op, *args: object, epoch: int = 0) -> bool:
        """Send without waiting for the answer (in order with every other call)."""
        with contextlib.suppress(WhepError):
            self._write(op, args, epoch)
            return True
        return False
