"""One camera stream (camera x main/sub): its puller, fan-out and health, pulled on demand.

Users of a channel call ``acquire()``/``release()``; the camera is pulled while
the count is above zero, and for ``linger_s`` after it drops to zero (a viewer
switching tiles should not cost a fresh RTSP handshake).

The channel owns the generation its viewers see, not the puller: every puller
it starts reports through its own ``_Binding``, which goes deaf when the
channel moves on, and every session opened gets a new channel generation. So a
late unit of an old puller (a PyAV thread still draining, a stopped task) or of
an old RTSP session can never reach the viewers of a new one, even though each
puller counts its own sessions from 1.
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable

from iocwall.streams.fanout import AccessUnit, Fanout
from iocwall.streams.health import Health, HealthSnapshot, StreamState
from iocwall.streams.rtp_ingest import RtpPuller
from iocwall.streams.sendpath import PayloadCache
from iocwall.streams.source import Ingest, PacketCounts, Puller, PullSettings, SourceInfo
from iocwall.streams.urls import CameraUrl

log = logging.getLogger(__name__)


class Channel:
    """A pulled-on-demand camera stream; implements the puller's listener."""

    def __init__(self, camera: str, stream: str, url: CameraUrl, settings: PullSettings,
                 stall_s: float, linger_s: float) -> None:
        self.camera, self.stream, self.url = camera, stream, url
        self.key = f"{camera}/{stream}"
        self.fanout = Fanout(self.key)
        self.payloads = PayloadCache()     # RTP payloads made once for all viewers
        self.health = Health(camera, stream, stall_s, settings.read_timeout_s)
        self.info: SourceInfo | None = None
        self.transcoding_viewers = 0
        self._settings, self._linger_s = settings, linger_s
        self._users = 0
        self._puller: Puller | RtpPuller | None = None
        self._linger: asyncio.TimerHandle | None = None
        self._keyframe_waiters: list[asyncio.Future[None]] = []
        self.on_state: Callable[[Channel, StreamState], None] | None = None
        self._binding: _Binding | None = None   # the listener of the current puller
        self.generation = 0                     # of the session viewers get now
        self._session_generation: int | None = None   # the puller's number for it

    # -- demand ---------------------------------------------------------------------
    def acquire(self) -> None:
        self._users += 1
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None
        if self._puller is None or not self._puller.running:
            self._start()

    def release(self) -> None:
        self._users = max(0, self._users - 1)
        if self._users == 0 and self._puller is not None and self._linger is None:
            loop = asyncio.get_running_loop()
            self._linger = loop.call_later(self._linger_s, self._linger_over)

    def add_listener(self, listener: Callable[[AccessUnit], None]) -> None:
        """Every unit this channel publishes, as it is published (the replay buffer)."""
        self.fanout.add_listener(listener)

    def remove_listener(self, listener: Callable[[AccessUnit], None]) -> None:
        self.fanout.remove_listener(listener)

    @property
    def users(self) -> int:
        return self._users

    def _start(self) -> None:
        loop = asyncio.get_running_loop()
        self.health.connecting()
        kind = RtpPuller if self._settings.ingest is Ingest.RTP else Puller
        self._binding = _Binding(self)
        self._session_generation = None
        self._puller = kind(self.key, self.url, self._settings, self._binding, loop)
        self._puller.start()

    def _linger_over(self) -> None:
        self._linger = None
        if self._users == 0 and self._puller is not None:
            log.info("%s: no viewers for %.0f s: stop pulling", self.key, self._linger_s)
            self._puller.request_stop()
            self._puller = None
            self._binding = None
            self.fanout.reset()
            self.health.idle()

    async def stop(self) -> None:
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None
        puller, self._puller = self._puller, None
        self._binding = None
        if puller is not None:
            await puller.stop()
        self.health.idle()

    async def retarget(self, url: CameraUrl) -> None:
        """Pull from ``url`` from now on (edited URL or credentials); viewers stay subscribed
        and see a reconnect."""
        self.url = url
        puller, self._puller = self._puller, None
        self._binding = None
        if puller is None:
            return
        await puller.stop()
        self.fanout.reset()
        if self._users > 0 or self._linger is not None:
            self._start()

    # -- PullerListener, through the current puller's _Binding (on the loop) -------------
    def on_open(self, info: SourceInfo) -> None:
        if info.generation != self._session_generation:
            # a new session: a new generation of ours, whatever the puller numbers it
            self._session_generation = info.generation
            self.generation += 1
        self.info = dataclasses.replace(info, generation=self.generation)
        self.fanout.reset()   # units of the previous session must not reach a new decoder
        self.health.opened(info.codec, info.width, info.height, info.transport)

    def on_unit(self, unit: AccessUnit) -> None:
        if self._puller is None or unit.generation != self._session_generation:
            return             # stopped, or a unit of a session that is over: never shown
        unit = dataclasses.replace(unit, generation=self.generation)
        before = self.health.state
        self.health.packet(len(unit.data))
        if before in (StreamState.STALLED, StreamState.LOST):
            self.fanout.resume()
        self.fanout.publish(unit)
        if unit.keyframe and self._keyframe_waiters:
            for waiter in self._keyframe_waiters:
                if not waiter.done():
                    waiter.set_result(None)
            self._keyframe_waiters.clear()
        if before is not StreamState.LIVE:
            self._changed()

    def on_invalid(self) -> None:
        self.health.invalid_units += 1

    def on_packets(self, counts: PacketCounts) -> None:
        self.health.packet_counts(counts.lost, counts.late, counts.reordered, counts.corrupt)

    def on_fail(self, reason: str) -> None:
        if self._puller is None:
            return
        self.health.failed(reason)
        self._changed()

    # -- state ------------------------------------------------------------------------
    def tick(self) -> None:
        before = self.health.state
        if self.health.tick() is not before:
            self._changed()

    def _changed(self) -> None:
        log.info("%s: %s", self.key, self.health.state.value)
        if self.on_state is not None:
            self.on_state(self, self.health.state)

    async def wait_keyframe(self, timeout: float) -> bool:
        """Wait until the keyframe cache has something (pulling must be acquired)."""
        if self.fanout.cache.keyframe() is not None:
            return True
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._keyframe_waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                await waiter
            return True
        except TimeoutError:
            return False

    def snapshot(self) -> HealthSnapshot:
        return self.health.snapshot(viewers=self.fanout.subscribers, drops=self.fanout.drops(),
                                    transcoding=self.transcoding_viewers > 0)


class _Binding:
    """One puller's line to its channel: deaf once the channel started another puller."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel

    def _live(self) -> bool:
        return self._channel._binding is self

    def on_open(self, info: SourceInfo) -> None:
        if self._live():
            self._channel.on_open(info)

    def on_unit(self, unit: AccessUnit) -> None:
        if self._live():
            self._channel.on_unit(unit)

    def on_invalid(self) -> None:
        if self._live():
            self._channel.on_invalid()

    def on_fail(self, reason: str) -> None:
        if self._live():
            self._channel.on_fail(reason)

    def on_packets(self, counts: PacketCounts) -> None:
        if self._live():
            self._channel.on_packets(counts)
