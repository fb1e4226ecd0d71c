"""Two media processes follow the registry: a camera added through the API plays at once on
the process it is placed on, an edit reaches that process (the stream reconnects under its
viewer), a delete ends its viewers ("removed", then 410) while the other process plays on;
and the analytics tap runs in the process that owns a camera, its counts reaching
/api/queues through a real worker."""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from datetime import datetime
from pathlib import Path

import pytest

from iocwall.hardware.sim.server import SUB
from iocwall.streams import placement
from iocwall.streams.cluster import MediaCluster
from iocwall.streams.fanout import EndOfStream
from iocwall.streams.server import Camera
from iocwall.wall.zones.demo import sim_zones
from tests.analytics_helpers import start_worker, stop_worker
from tests.fixtures.ports import free_port
from tests.fixtures.simulator import SimProcess
from tests.registry_helpers import (
    Recorder,
    play,
    recording_client,
    registry_config,
    registry_server,
)
from tests.streams_helpers import fast_settings, media_server, sim_cameras
from tests.test_registry_api import camera_body
from tests.test_streams_cluster import play as play_direct
from tests.test_streams_units import parse_prometheus
from tests.waiting import seconds_until, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def cluster_config(tmp_path: Path, processes: int = 2):  # type: ignore[no-untyped-def]
    config = registry_config(tmp_path / "data")
    config.streams.processes = processes
    return config


async def test_registry_cameras_play_reconnect_and_end_across_two_processes(
        simulator: SimProcess, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    rec = Recorder()
    async with registry_server(tmp_path, cluster_config(tmp_path)) as server, \
            recording_client(server, rec) as http:
        media = server.services.media
        assert isinstance(media, MediaCluster) and len(media.nodes) == 2
        pids = {n.process.pid for n in media.nodes.values()}
        await server.login(http)
        ids = []
        for k in (1, 2):
            created = await http.post("/api/cameras", json=camera_body(simulator, k))
            assert created.status_code == 201, created.text
            ids.append(created.json()["id"])
        a, b = ids
        assert {media.owner(a), media.owner(b)} == set(media.nodes)   # one on each process

        added = time.monotonic()
        va, answer_a = await play(http, a)
        vb, answer_b = await play(http, b)
        try:
            assert answer_a.status_code == 201 and answer_b.status_code == 201, answer_a.text
            first = await va.first_frame(timeout=10)
            await vb.first_frame(timeout=10)
            print(f"\ncluster: registered -> first WHEP frame {va.frames[0].at - added:.2f} s")
            assert first < 8

            # an edit reaches the owning process: a wrong password loses the stream ...
            wrong = await http.patch(f"/api/cameras/{a}", json={"password": "nope"})
            assert wrong.status_code == 200, wrong.text

            async def lost() -> bool:
                return (await media.camera(a)).streams["sub"].state.value == "lost"
            await seconds_until(lost, 15, "lost after a wrong password")
            # ... the right one reconnects it under the same viewer
            await http.patch(f"/api/cameras/{a}", json={"password": simulator.password})
            mark = time.monotonic()

            async def flowing() -> bool:
                return any(f.at > mark for f in va.frames)
            took = await seconds_until(flowing, 15, "frames after fix")
            print(f"edit -> frames again: {took:.2f} s")

            deleted = await http.delete(f"/api/cameras/{a}")
            assert deleted.status_code == 200 and deleted.json()["state"] == "removed"

            async def ended() -> bool:
                return any(e.get("state") == "removed" for e in va.events)
            await seconds_until(ended, 10, "a 'removed' event for the viewer")
            gone = await http.get(f"/api/cameras/{a}")
            assert gone.status_code == 410 and gone.json()["error"]["code"] == "removed"
            again, refused = await play(http, a)
            await again.close()
            assert refused.status_code == 410
            assert len(await vb.count_during(1.0)) >= 10       # the other process plays on
            listed = [c["id"] for c in (await http.get("/api/cameras")).json()]
            assert listed == [b]
            counters = parse_prometheus((await http.get("/metrics")).text)
            assert counters['iocwall_webrtc_sessions_closed_total{reason="camera_removed"}'] == 1
            assert counters["iocwall_webrtc_sessions"] == 1
            # the media processes are not the web process, and none was restarted
            assert {n.process.pid for n in media.nodes.values()} == pids
        finally:
            await va.close()
            await vb.close()
        log_text = caplog.text
    for where, text in (("responses", rec.text()), ("log", log_text)):
        assert simulator.password not in text, f"camera password in {where}"


async def test_analytics_counts_from_a_camera_in_a_media_process(
        simulator: SimProcess, tmp_path: Path) -> None:
    config = cluster_config(tmp_path)
    camera = "ha-noi-1"                      # the id the registry gives the first camera
    config.analytics.zones = [z.model_copy(update={"camera": camera})
                              for z in sim_zones(1, SUB.width, SUB.height)]
    config.analytics.tap_address = f"tcp://127.0.0.1:{free_port()}"
    worker = start_worker(config.analytics.tap_address, "w-cluster")
    try:
        async with registry_server(tmp_path, config) as server, server.client() as http:
            media = server.services.media
            assert isinstance(media, MediaCluster)
            await server.login(http)
            analytics = server.services.analytics
            # zones first: the tap waits for the camera to be registered
            await wait_until(lambda: camera in analytics._tasks, 10,  # type: ignore[union-attr]
                             "the tap waiting for its camera")
            created = await http.post("/api/cameras", json=camera_body(simulator, 1))
            assert created.json()["id"] == camera
            registered = time.monotonic()

            async def counted() -> bool:
                rows = (await http.get("/api/queues")).json()
                return {r["zone"] for r in rows if r["camera"] == camera} == \
                    {"c1", "c2", "c3", "c4"}
            took = await seconds_until(counted, 60, "counts of the cluster's camera")
            print(f"\ncluster: registered -> counts on /api/queues {took:.1f} s "
                  f"(tap in {media.owner(camera)})")
            assert time.monotonic() - registered < 60
            metrics = (await http.get("/metrics")).text
            assert f'iocwall_analytics_frames_total{{camera="{camera}",fate="counted"}}' in metrics
            # deleting the camera ends its tap in the media process; nothing is left open
            await http.delete(f"/api/cameras/{camera}")

            async def untapped() -> bool:
                return not media._taps._open        # type: ignore[attr-defined]
            await seconds_until(untapped, 10, "the tap to end with its camera")
            # registered again: the waiting tap starts again and counts come back
            again = await http.post("/api/cameras", json=camera_body(simulator, 1))
            assert again.json()["id"] == camera
            mark = time.time()

            async def counted_again() -> bool:
                return any(r["camera"] == camera and
                           datetime.fromisoformat(r["updated_at"]).timestamp() > mark
                           for r in (await http.get("/api/queues")).json())
            took = await seconds_until(counted_again, 30, "counts after the camera came back")
            print(f"registered again -> counts {took:.1f} s")
    finally:
        out = stop_worker(worker)
    assert "Traceback" not in out, out


async def test_a_removed_camera_ends_its_tap_in_process(simulator: SimProcess) -> None:
    """MediaServer (processes = 1) too: a tap of a deleted camera ends instead of waiting
    forever on a stream that will never send again (so it can start again if it returns)."""
    async with media_server(sim_cameras(simulator, 1)) as media:
        channel, sub = media.subscribe("cam1", "sub", "analytics:cam1")
        await media.remove_camera("cam1")
        with pytest.raises(EndOfStream):
            await asyncio.wait_for(sub.get(), 5)
        media.unsubscribe(channel, sub)
        assert channel.users == 0


async def test_a_camera_added_while_its_process_restarts_plays_when_it_is_back(
        simulator: SimProcess) -> None:
    """The process gets its whole camera list when it connects, so a change made while it
    was down is not lost."""
    cams = sim_cameras(simulator, 4)
    cluster = MediaCluster(fast_settings(), [], 2)
    await cluster.start()
    viewer = None
    try:
        down = "media-0"
        cam = next(c for c in cams
                   if placement.place(c.id, {"media-0": 0, "media-1": 0}) == down)
        pid = cluster.nodes[down].process.pid
        os.kill(pid, signal.SIGKILL)
        await seconds_until(lambda: _async(not cluster.nodes[down].ready.is_set()), 5, "seen dead")
        await cluster.add_camera(Camera.from_config(cam))
        assert cluster.owner(cam.id) == down
        assert (await cluster.camera(cam.id)).state.value == "lost"     # shown, not hidden
        await seconds_until(lambda: _async(cluster.nodes[down].ready.is_set()), 30, "restarted")
        assert cluster.nodes[down].process.pid != pid
        viewer = await play_direct(cluster, cam.id)
        await viewer.first_frame(20)
        async def live() -> bool:
            return (await cluster.camera(cam.id)).state.value == "live"  # type: ignore[union-attr]
        await seconds_until(live, 5, "live")
    finally:
        if viewer is not None:
            await viewer.close()
        await asyncio.wait_for(cluster.stop(), 30)


async def _async(value: bool) -> bool:
    return value
