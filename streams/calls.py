"""What a media process or media node does for each ``wire.Call``: one dispatcher for both.

A local media process (streams/worker.py, over a Unix socket) and a media node on
another machine (streams/medianode.py, over TLS) run the same ``MediaServer`` and
answer the same operations; only how the call arrives differs.
"""
from __future__ import annotations

from iocwall.streams.server import Camera, MediaServer
from iocwall.streams.taps.remote import WorkerTaps
from iocwall.streams.wire import Call, NodeStatus, Op, SessionRef


async def dispatch(media: MediaServer, taps: WorkerTaps, node: str, call: Call) -> object:
    """The value of ``call`` on ``media``; raises what the media server raises."""
    args = call.args
    if call.op is Op.OFFER:
        camera, stream, sdp, user = args
        session, answer = await media.whep_offer(camera, stream, sdp, user)
        return SessionRef(session.id, camera, stream, node, user), answer
    if call.op is Op.DELETE:
        return await media.whep_delete(args[0])
    if call.op is Op.CAMERAS:
        return NodeStatus(node, media.known_cameras(), media.node_counters(taps.dropped))
    if call.op is Op.CAMERA:
        return await media.camera(args[0])
    if call.op is Op.HEALTH:
        return await media.health()
    if call.op is Op.SETTINGS:
        return media.settings
    if call.op is Op.COUNTERS:
        return media.counters()
    if call.op is Op.SESSIONS:
        return [SessionRef(r.id, r.camera, r.stream, node, r.user)
                for r in await media.session_refs()]
    if call.op is Op.SNAPSHOT:
        return await media.snapshot(*args)
    if call.op is Op.REPLAY_RANGES:
        return await media.replay_ranges(args[0])
    if call.op is Op.REPLAY_CLIP:
        return await media.replay_clip(*args)
    if call.op is Op.SYNC:
        await sync(media, taps, args[0])
        return None
    if call.op is Op.ADD:
        if media.status(args[0].id) is None:
            media.add(args[0])
        else:
            await media.update_camera(args[0])
        return None
    if call.op is Op.UPDATE:
        await media.update_camera(args[0])
        return None
    if call.op is Op.REMOVE:
        taps.end_camera(args[0], "camera removed")
        return await media.remove_camera(args[0])
    if call.op is Op.TAP:
        taps.start(args[0])
        return None
    if call.op is Op.UNTAP:
        return taps.stop_one(args[0])
    raise ValueError(f"unknown call {call.op}")


async def sync(media: MediaServer, taps: WorkerTaps, cameras: list[Camera]) -> None:
    """Serve exactly ``cameras``: new ones at once (before any later call runs), then
    edited ones reconnected and dropped ones removed."""
    wanted = {c.id: c for c in cameras}
    for camera in cameras:
        if media.status(camera.id) is None:
            media.add(camera)
    for camera in cameras:
        await media.update_camera(camera)        # no-op when nothing changed
    for status in media.known_cameras():
        if status.id not in wanted:
            taps.end_camera(status.id, "camera removed")
            await media.remove_camera(status.id)
