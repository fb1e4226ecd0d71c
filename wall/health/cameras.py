"""Cameras and media nodes on the board, read through the MediaService contract only.

A camera is judged by its best stream (streams/server.py ``CameraStatus.state``): live is ok
(degraded under ``min_fps``), stalled and connecting are degraded, lost is down. A camera
nobody pulls is idle; the prober (probe.py) observes it anyway: reachable is ok ("idle,
reachable"), not reachable is down with its reason. Without a probe yet it is not observed.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from iocwall.streams.health import StreamState
from iocwall.wall.health.model import Component, Kind, State

if TYPE_CHECKING:
    from iocwall.streams.contract import MediaService
    from iocwall.streams.server import CameraStatus
    from iocwall.wall.health.probe import Probed
    from iocwall.wall.registry.store import Registry

_STATE = {StreamState.LIVE: State.OK, StreamState.STALLED: State.DEGRADED,
          StreamState.CONNECTING: State.DEGRADED, StreamState.LOST: State.DOWN,
          StreamState.IDLE: State.IDLE}
_NODE_STATE = {"up": State.OK, "starting": State.DEGRADED, "restarting": State.DEGRADED,
               "hung": State.DOWN, "down": State.DOWN}


def camera_online(cam: Component) -> bool | None:
    """Is this camera there? Live or idle and reachable: True; stalled, lost, or idle and not
    reachable: False; idle and not probed (or connecting): None, cannot tell. The rules
    (camera_lost, province_cameras_low) and availability all read this one answer."""
    stream_state = cam.detail.get("stream_state")
    if stream_state == "live":
        return True
    if stream_state in ("stalled", "lost"):
        return False
    probe = cam.detail.get("probe")
    if stream_state == "idle" and probe is not None:
        return bool(probe["reachable"])
    return None


def camera_component(status: CameraStatus, province: str, centre: str,
                     min_fps: float, probed: Probed | None = None) -> Component:
    stream_state = status.state
    best = next((h for h in status.streams.values() if h.state is stream_state), None)
    fps = round(best.fps, 2) if best is not None else 0.0
    state = _STATE[stream_state]
    if state is State.OK and min_fps > 0 and fps < min_fps:
        state = State.DEGRADED
    detail: dict[str, Any] = {"stream_state": stream_state.value, "fps": fps,
                              "expected_fps": min_fps or None,
                              "stream": best.stream if best is not None else "",
                              "last_packet_age_s": (round(best.last_packet_age_s, 1)
                                                    if best and best.last_packet_age_s is not None
                                                    else None),
                              "reconnects": best.reconnects if best is not None else 0,
                              "error": best.error if best is not None else ""}
    if state is State.IDLE and probed is not None:
        state = State.OK if probed.reachable else State.DOWN
        detail["probe"] = {"reachable": probed.reachable, "reason": probed.reach.reason.value,
                           "at": probed.at}
        detail["error"] = probed.reach.message
    return Component(Kind.CAMERA, status.id, state, status.name, province, centre, detail)


async def camera_components(media: MediaService, registry: Registry, min_fps: float,
                            probed: dict[str, Probed] | None = None) -> list[Component]:
    """Every camera the media service serves, placed in its registered province and centre."""
    placed = {c.id: (c.province, c.centre) for c in await registry.cameras()}
    out = []
    for status in await media.cameras():
        province, centre = placed.get(status.id, ("", ""))
        out.append(camera_component(status, province, centre, min_fps,
                                    (probed or {}).get(status.id)))
    return out


async def media_node_components(media: MediaService) -> list[Component]:
    """Each media process; none when media runs inside this process (the controller's own)."""
    out = []
    for node in await media.media_nodes():
        state = _NODE_STATE.get(str(node.get("state", "")), State.DEGRADED)
        detail = {k: node.get(k) for k in ("state", "pid", "cameras", "sessions",
                                            "heartbeat_age_s", "restarts")}
        out.append(Component(Kind.MEDIA_NODE, str(node.get("node", "")), state, detail=detail))
    return out
