"""A media node on its own machine: one MediaServer, driven by controllers over TLS.

``iocwall media-node`` (wall/media_node_command.py) builds ``NodeSettings`` from its
config and runs ``MediaNode``. Controllers connect over TCP with TLS, prove the shared
secret (streams/nodeauth.py) and then send the same ``wire.Call``s a local media
process takes, in ``netwire``'s typed frames. Each connection gets its replies and
the frames of the analytics taps it started; every connection hears ``SessionClosed``.
Video already playing never depends on a controller: a connection that closes ends
only its taps, not the viewers.

Placement orders (``wire.PLACEMENT_OPS``: SYNC, ADD, UPDATE, REMOVE) come only from the
leader and carry its epoch; an epoch older than the highest seen is refused
(``leadership.Fence``: 409 ``stale_epoch``). Every second the node announces itself on
Redis (streams/announce.py): heartbeat, address, ICE addresses, capacity, the cameras it
serves and the epoch it follows. A frame that is oversized, of an unknown type or
malformed gets a ``ProtocolError`` (an oversized one also ends that connection: its
bytes were not read); the node serves on.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from iocwall.streams import netwire, nodeauth
from iocwall.streams.announce import Publisher
from iocwall.streams.calls import dispatch
from iocwall.streams.leadership import Fence
from iocwall.streams.limits import CloseReason, WhepError
from iocwall.streams.netwire import NodeAnnouncement, ProtocolError
from iocwall.streams.nodes import HEARTBEAT_S
from iocwall.streams.server import MediaServer
from iocwall.streams.settings import StreamSettings
from iocwall.streams.taps.remote import WorkerTaps
from iocwall.streams.whep import WhepSession
from iocwall.streams.wire import PLACEMENT_OPS, Call, Failure, Heartbeat, Reply, SessionClosed
from iocwall.streams.worker import rss_bytes

log = logging.getLogger(__name__)
VERSION = "0.1.0"


@dataclass(frozen=True)
class NodeSettings:
    node: str                     # its id, unique in the cluster
    listen_host: str
    listen_port: int
    advertise: str                # host:port controllers connect to (a name in its cert)
    cert_file: str
    key_file: str
    secret: bytes                 # the shared cluster secret
    redis_url: str
    prefix: str                   # bus key/channel prefix
    media: StreamSettings         # ice_addresses already the node's own
    capacity: int = 64

    def __repr__(self) -> str:
        return f"NodeSettings({self.node!r}, {self.advertise!r})"   # never the secret


class _Link:
    """One authenticated controller connection."""

    def __init__(self, node: MediaNode, writer: asyncio.StreamWriter, peer: str) -> None:
        self.writer, self.peer = writer, peer
        self.lock = asyncio.Lock()
        self.taps = WorkerTaps(node.media, self.push)

    async def send(self, message: object) -> None:
        async with self.lock:
            await netwire.send(self.writer, message)

    async def push(self, message: object) -> None:
        try:
            await self.send(message)
        except (ConnectionError, RuntimeError):   # the controller left: nobody to tell
            pass
        except netwire.WireError as exc:          # a value that is no wire type: a bug
            log.error("cannot send %s to %s: %s", type(message).__name__, self.peer,
                      exc.message)


class MediaNode:
    def __init__(self, settings: NodeSettings) -> None:
        self.settings = settings
        self.media = MediaServer(settings.media)
        self.fence = Fence()
        self._links: set[_Link] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._server: asyncio.Server | None = None
        self._publisher = Publisher(settings.redis_url, settings.prefix,
                                    settings.media.node_timeout_s)
        self.refused = 0          # connections that did not prove the secret

    async def start(self) -> None:
        s = self.settings
        await self.media.start()
        self.media.sessions.on_close = self._closed
        # the fence's memory does not survive a restart: start from the cluster's
        self.fence.admit(await self._publisher.highest_epoch())
        self._server = await asyncio.start_server(
            self._on_connect, s.listen_host, s.listen_port,
            ssl=nodeauth.server_context(s.cert_file, s.key_file))
        self._spawn(self._heartbeats())
        log.info("media node %s listening on %s:%d (advertised %s), ICE %s", s.node,
                 s.listen_host, s.listen_port, s.advertise, list(s.media.ice_addresses))

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for link in list(self._links):
            await link.taps.stop()
            link.writer.close()
        async with asyncio.timeout(15):
            await self.media.stop()
        await self._publisher.close()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- heartbeats ------------------------------------------------------------------------
    def announcement(self, lag: float = 0.0) -> NodeAnnouncement:
        s, media = self.settings, self.media
        serves = [c.id for c in media.known_cameras()]
        beat = Heartbeat(s.node, os.getpid(), len(serves), len(media.sessions), rss_bytes(),
                         lag, time.monotonic())
        return NodeAnnouncement(beat, socket.gethostname(), s.advertise,
                                list(s.media.ice_addresses), s.capacity, VERSION, serves,
                                self.fence.highest)

    async def _heartbeats(self) -> None:
        due = time.monotonic()
        while True:
            try:
                await self._publisher.publish(self.announcement(max(0.0,
                                                                    time.monotonic() - due)))
            except Exception:             # a figure that fails must not stop the heartbeat
                log.exception("%s: heartbeat failed", self.settings.node)
            due = time.monotonic() + HEARTBEAT_S
            await asyncio.sleep(HEARTBEAT_S)

    def _closed(self, session: WhepSession, reason: CloseReason) -> None:
        for link in list(self._links):
            self._spawn(link.push(SessionClosed(session.id, reason)))

    # -- controller connections ------------------------------------------------------------
    async def _on_connect(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        peer = str(writer.get_extra_info("peername"))
        try:
            await nodeauth.node_side(reader, writer, self.settings.node, self.settings.secret)
        except (nodeauth.AuthFailed, TimeoutError, ConnectionError, OSError) as exc:
            self.refused += 1
            log.warning("%s: refused a connection from %s: %s", self.settings.node, peer, exc)
            writer.close()
            return
        link = _Link(self, writer, peer)
        self._links.add(link)
        log.info("%s: controller connected from %s", self.settings.node, peer)
        try:
            await self._serve(link, reader)
        finally:
            self._links.discard(link)
            await link.taps.stop()        # its taps end with it; its viewers play on
            writer.close()
            log.info("%s: controller at %s left", self.settings.node, peer)

    async def _serve(self, link: _Link, reader: asyncio.StreamReader) -> None:
        while True:
            try:
                message = await netwire.receive(reader)
            except (asyncio.IncompleteReadError, ConnectionError, OSError):
                return
            except netwire.FramingLost as exc:
                log.warning("%s: %s sent a frame it may not: %s", self.settings.node,
                            link.peer, exc.message)
                await link.push(ProtocolError(exc.code, exc.message))
                return                    # its bytes were not read: the stream is lost
            except netwire.WireError as exc:
                log.warning("%s: %s sent a bad frame: %s", self.settings.node, link.peer,
                            exc.message)
                await link.push(ProtocolError(exc.code, exc.message))
                continue
            if isinstance(message, Call):
                self._spawn(self._answer(link, message))
            else:
                await link.push(ProtocolError("unexpected", f"{type(message).__name__} "
                                              "is not a call"))

    async def _answer(self, link: _Link, call: Call) -> None:
        try:
            if call.op in PLACEMENT_OPS and not self.fence.admit(call.epoch):
                raise WhepError(409, "stale_epoch", f"{call.op.value} with leader epoch "
                                f"{call.epoch} refused: epoch {self.fence.highest} already "
                                "seen / lệnh của máy điều khiển cũ bị từ chối")
            reply = Reply(call.id, await dispatch(self.media, link.taps, self.settings.node,
                                                  call))
        except WhepError as exc:
            if exc.code == "stale_epoch":
                log.warning("%s: %s", self.settings.node, exc.message)
            reply = Reply(call.id, error=Failure(exc.status, exc.code, exc.message,
                                                 exc.retry_after_s))
        except Exception:
            log.exception("%s: %s failed", self.settings.node, call.op.value)
            reply = Reply(call.id, error=Failure(500, "internal", "media node error"))
        await link.push(reply)


async def run_node(settings: NodeSettings, stop: asyncio.Event) -> None:
    node = MediaNode(settings)
    await node.start()
    try:
        await stop.wait()
    finally:
        await node.stop()
