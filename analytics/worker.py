"""The analytics worker: frames in over ZeroMQ, queue counts back on the same socket.

    worker = Worker("tcp://10.0.0.5:5571", build_detector(options), batch=8)
    await worker.run(stop_event)

The worker connects (DEALER) to the media server's tap (ROUTER) and asks for
frames with credit (``READY n``): the tap sends at most ``n`` frames, each the
newest of its camera, so nothing queues behind a slow worker. Frames of all
cameras in hand are detected in one batch (in a thread, so heartbeats keep
flowing during a long batch), then each camera's tracker and zone queues are
updated in capture order (a detector that gains nothing from batches, HOG, takes
one frame at a time, so each count leaves as soon as it is made). Tracker state is
per camera and dropped when a camera stops arriving (the tap moved it to another
worker).
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from dataclasses import dataclass

import cv2
import numpy as np
import zmq
import zmq.asyncio

from iocwall.analytics.detectors import Detector
from iocwall.analytics.messages import (
    Box,
    FrameHeader,
    Heartbeat,
    Hello,
    Kind,
    MessageError,
    Ready,
    Result,
    decode,
    encode,
)
from iocwall.analytics.queues import CameraQueues
from iocwall.analytics.tracking import Track, preload_tracker
from iocwall.analytics.zones import Zone, ZoneError

log = logging.getLogger(__name__)
HEARTBEAT_S = 0.5
GATHER_S = 0.02               # after the first frame, wait this long for more of the batch
FORGET_CAMERA_S = 30.0


@dataclass
class _Frame:
    header: FrameHeader
    image: np.ndarray


class Worker:
    def __init__(self, connect: str, detector: Detector, *, batch: int = 8,
                 name: str | None = None, send_boxes: bool = True) -> None:
        self.connect = connect
        self.detector = detector
        # A detector that gains nothing from batches (HOG) takes one frame at a time: each
        # count goes out as soon as its frame is done, instead of after the whole batch,
        # and the next frame asked for is the newest one of its camera.
        self.batch = max(1, batch) if detector.batches else 1
        self.name = name or f"{socket.gethostname()}-{os.getpid()}"
        self.send_boxes = send_boxes
        self._cameras: dict[str, CameraQueues] = {}
        self._last_seen: dict[str, float] = {}
        self._last_ts: dict[str, float] = {}
        self.frames_done = 0
        self.bad_messages = 0

    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        # The tracker pulls in ultralytics and torch (seconds): load it before joining,
        # or the first frames would hold up the heartbeats and the tap would give our
        # cameras away.
        await asyncio.to_thread(preload_tracker)
        ctx = zmq.asyncio.Context.instance()
        sock = ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.IDENTITY, self.name.encode()[:200])
        sock.connect(self.connect)
        log.info("worker %s connected to %s (detector %s, batch %d)", self.name, self.connect,
                 self.detector.name, self.batch)
        beat = asyncio.create_task(self._heartbeats(sock, stop), name="worker heartbeat")
        try:
            await sock.send_multipart(encode(Kind.HELLO, Hello(self.name, self.batch)))
            await sock.send_multipart(encode(Kind.READY, Ready(self.batch)))
            while not stop.is_set():
                frames = await self._gather(sock, stop)
                if frames:
                    for result in await asyncio.to_thread(self._process, frames):
                        await sock.send_multipart(encode(Kind.RESULT, result))
                    await sock.send_multipart(encode(Kind.READY, Ready(len(frames))))
        finally:
            beat.cancel()
            # not `await beat` in suppress(CancelledError): that swallows our own cancel
            await asyncio.wait({beat})
            sock.close(0)

    async def _heartbeats(self, sock: zmq.asyncio.Socket, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await sock.send_multipart(encode(Kind.HEARTBEAT, Heartbeat(self.name)))
            await asyncio.sleep(HEARTBEAT_S)

    async def _gather(self, sock: zmq.asyncio.Socket, stop: asyncio.Event) -> list[_Frame]:
        """Up to ``batch`` frames: wait for the first, then briefly for the rest."""
        frames: list[_Frame] = []
        deadline: float | None = None
        while len(frames) < self.batch and not stop.is_set():
            timeout = 200 if deadline is None else max(0, int((deadline - time.monotonic()) * 1000))
            if not await sock.poll(timeout):
                if deadline is not None:
                    break
                continue
            frame = self._frame(await sock.recv_multipart())
            if frame is not None:
                frames.append(frame)
                deadline = deadline or time.monotonic() + GATHER_S
        return frames

    def _frame(self, parts: list[bytes]) -> _Frame | None:
        try:
            kind, header, payload = decode(parts)
            if kind is not Kind.FRAME or payload is None:
                raise MessageError(f"expected a frame, got {kind.name.lower()}")
        except MessageError as exc:
            self.bad_messages += 1
            log.warning("worker: ignored a message: %s", exc)
            return None
        image = cv2.imdecode(np.frombuffer(payload, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            self.bad_messages += 1
            log.warning("worker: frame %s/%d is not a JPEG", header.camera, header.seq)
            return None
        return _Frame(header, image)

    def _process(self, frames: list[_Frame]) -> list[Result]:
        """Detect the batch, then track and count per camera in capture order (a thread)."""
        detections = self.detector.detect([f.image for f in frames])
        results = []
        order = sorted(range(len(frames)), key=lambda i: frames[i].header.capture_ts)
        for i in order:
            result = self._count(frames[i].header, detections[i])
            if result is not None:
                results.append(result)
        self.frames_done += len(frames)
        self._forget_idle()
        return results

    def _count(self, header: FrameHeader, detections: list) -> Result | None:
        if header.capture_ts <= self._last_ts.get(header.camera, 0.0):
            return None                # an older frame after a newer one: tracking goes forward
        self._last_ts[header.camera] = header.capture_ts
        queues = self._queues(header)
        if queues is None:
            return None
        tracks = queues.tracker.update(detections)
        zones = queues.update(tracks, header.capture_ts, detections)
        boxes = [_box(t) for t in tracks] if self.send_boxes else []
        return Result(header.camera, header.seq, header.capture_ts, time.time(), self.name,
                      zones, boxes)

    def _queues(self, header: FrameHeader) -> CameraQueues | None:
        self._last_seen[header.camera] = time.monotonic()
        try:
            zones = [Zone.build(z.id, z.polygon) for z in header.zones]
        except ZoneError as exc:
            log.warning("worker: camera %s: %s", header.camera, exc)
            return None
        current = self._cameras.get(header.camera)
        key = tuple((z.id, z.points) for z in zones)
        if current is None or current.zones_key != key:
            current = self._cameras[header.camera] = CameraQueues(zones)
        return current

    def _forget_idle(self) -> None:
        now = time.monotonic()
        for camera, seen in list(self._last_seen.items()):
            if now - seen > FORGET_CAMERA_S:
                self._cameras.pop(camera, None)
                self._last_seen.pop(camera, None)
                self._last_ts.pop(camera, None)


def _box(track: Track) -> Box:
    x1, y1, x2, y2 = (round(v, 1) for v in track.box)
    return Box(x1, y1, x2, y2, track.id, round(track.score, 3))
