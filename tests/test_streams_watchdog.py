"""The media watchdog with real processes and the real simulator: a stopped (SIGSTOP) media
process is killed and restarted and its camera plays again through WHEP; one over the memory
cap is restarted with that reason; one that keeps failing to start is down and its cameras
play from the other process; when it is back it takes new cameras only."""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import time

import pytest

from iocwall.streams.cluster import MediaCluster
from iocwall.streams.limits import CloseReason
from iocwall.streams.nodes import HEARTBEAT_S, NodeState, Restart
from iocwall.streams.server import Camera
from iocwall.streams.worker import FAIL_START_ENV
from tests.streams_helpers import fast_settings, sim_cameras
from tests.test_streams_api import client, play_via_api
from tests.test_streams_cluster import two_on_different_nodes
from tests.test_streams_units import parse_prometheus
from tests.waiting import seconds_until
from tests.whep_client import Viewer

TIMEOUT_S = 3.0          # [streams] node_timeout_s in these tests




def cluster_of(simulator, cameras: int, **streams: object) -> MediaCluster:  # noqa: ANN001
    return MediaCluster(fast_settings(node_timeout_s=TIMEOUT_S, **streams),
                        sim_cameras(simulator, cameras), 2)


def state(cluster: MediaCluster, node: str) -> NodeState:
    return cluster.node_table.state(node)


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_a_stopped_media_process_is_killed_restarted_and_plays_again(simulator, caplog):
    caplog.set_level(logging.INFO)
    cams = sim_cameras(simulator, 2)
    cluster = cluster_of(simulator, 2)
    await cluster.start()
    viewers: list[Viewer] = []
    try:
        a, b = two_on_different_nodes(cluster, cams)
        node_a, node_b = cluster.owner(a), cluster.owner(b)
        async with client(cluster) as c:
            va, _ = await play_via_api(c, f"/api/cameras/{a}/whep/sub")
            vb, _ = await play_via_api(c, f"/api/cameras/{b}/whep/sub")
            viewers += [va, vb]
            await va.first_frame(20)
            await vb.first_frame(20)

            def beating() -> bool:                   # a heartbeat since both sessions opened
                return all(n["sessions"] == 1 for n in cluster.node_states())
            await seconds_until(beating, 5, "heartbeats counting one session on each node")
            shown = {n["node"]: n for n in (await c.get("/api/streams/nodes")).json()}
            for node in (node_a, node_b):
                assert shown[node]["state"] == "up" and shown[node]["cameras"] == 1
                assert shown[node]["pid"] == cluster.nodes[node].process.pid
                assert 20 << 20 < shown[node]["rss_bytes"] < 2 << 30
                assert 0 <= shown[node]["loop_lag_s"] < 1.0
                assert shown[node]["heartbeat_age_s"] < 1.5

            pid = cluster.nodes[node_a].process.pid
            os.kill(pid, signal.SIGSTOP)             # alive, but answers nothing
            stopped = time.monotonic()
            killed = await seconds_until(lambda: cluster.closed[CloseReason.NODE_HUNG] == 1,
                                         TIMEOUT_S + 3, "the stopped process declared hung")
            assert killed > TIMEOUT_S - HEARTBEAT_S - 0.3     # not before it was overdue
            assert state(cluster, node_a) is NodeState.HUNG
            assert len(await vb.count_during(1.0)) >= 10      # the other process plays on
            await seconds_until(lambda: state(cluster, node_a) is NodeState.UP, 30, "restarted")
            assert cluster.nodes[node_a].process.pid != pid
            again, _ = await play_via_api(c, f"/api/cameras/{a}/whep/sub")   # the reconnect
            viewers.append(again)
            await again.first_frame(20)
            replay = again.frames[0].at - stopped
            print(f"\nSIGSTOP {node_a}: killed after {killed:.1f} s "
                  f"(node_timeout_s {TIMEOUT_S}), {a} playing again after {replay:.1f} s")
            hung = [r for r in caplog.records if getattr(r, "reason", "") == "node_hung"]
            assert hung and node_a in hung[0].getMessage()
            series = parse_prometheus((await c.get("/metrics")).text)
            assert series['iocwall_webrtc_sessions_closed_total{reason="node_hung"}'] == 1
            assert series[f'iocwall_media_node_restarts_total{{node="{node_a}",'
                          'reason="node_hung"}'] == 1
            assert series[f'iocwall_media_node_state{{node="{node_a}",state="up"}}'] == 1
            assert series[f'iocwall_media_node_restarts_total{{node="{node_b}",'
                          'reason="node_hung"}'] == 0

            # the memory cap (lowered at run time here): both are over it, both restart
            cluster.watchdog.memory_limit_bytes = 1 << 20
            await seconds_until(lambda: cluster.closed[CloseReason.NODE_MEMORY] == 2, 5,
                                "both viewers' sessions ended by the memory cap")
            cluster.watchdog.memory_limit_bytes = 0

            def counted() -> bool:           # (a quick restart may be caught once more)
                return all(cluster.node_table.get(n).restarts[Restart.MEMORY] >= 1
                           for n in (node_a, node_b))
            await seconds_until(counted, 5, "both restarts counted as node_memory")
            series = parse_prometheus(await cluster.metrics_text())
            for node in (node_a, node_b):
                assert series[f'iocwall_media_node_restarts_total{{node="{node}",'
                              'reason="node_memory"}'] >= 1
            assert series['iocwall_webrtc_sessions_closed_total{reason="node_memory"}'] == 2
            assert [r for r in caplog.records if getattr(r, "reason", "") == "node_memory"]
    finally:
        for viewer in viewers:
            await viewer.close()
        await asyncio.wait_for(cluster.stop(), 30)
    assert all(n.process is None for n in cluster.nodes.values())


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_a_node_that_cannot_start_is_down_and_its_cameras_play_elsewhere(
        simulator, monkeypatch, caplog):
    caplog.set_level(logging.INFO)
    cams = sim_cameras(simulator, 4)
    cluster = MediaCluster(fast_settings(node_timeout_s=TIMEOUT_S), cams[:3], 2)
    await cluster.start()
    viewers: list[Viewer] = []
    try:
        a, b = two_on_different_nodes(cluster, cams[:3])
        node_a, node_b = cluster.owner(a), cluster.owner(b)
        kept = {c: n for c, n in ((c.id, cluster.owner(c.id)) for c in cams[:3]) if n == node_b}
        async with client(cluster) as c:
            vb, _ = await play_via_api(c, f"/api/cameras/{b}/whep/sub")
            viewers.append(vb)
            await vb.first_frame(20)
            monkeypatch.setenv(FAIL_START_ENV, node_a)     # each new start of node_a exits
            os.kill(cluster.nodes[node_a].process.pid, signal.SIGKILL)
            killed = time.monotonic()
            down = await seconds_until(lambda: state(cluster, node_a) is NodeState.DOWN, 45,
                                       f"{node_a} down after failed starts")
            assert all(cluster.owner(cam.id) == node_b for cam in cams[:3])
            assert cluster.nodes[node_a].cameras == {}
            assert {cam: cluster.owner(cam) for cam in kept} == kept   # b's own stayed put
            shown = {n["node"]: n for n in (await c.get("/api/streams/nodes")).json()}
            assert shown[node_a]["state"] == "down"
            assert shown[node_a]["restarts"]["start_failed"] >= 2
            moved, _ = await play_via_api(c, f"/api/cameras/{a}/whep/sub")   # via node_b
            viewers.append(moved)
            await moved.first_frame(20)
            replay = moved.frames[0].at - killed
            assert [s.node for s in await cluster.session_refs() if s.camera == a] == [node_b]
            assert len(await vb.count_during(0.5)) >= 5          # b's viewer never stopped
            print(f"\n{node_a} killed and kept failing: down after {down:.1f} s, "
                  f"{a} playing from {node_b} after {replay:.1f} s")
            series = parse_prometheus((await c.get("/metrics")).text)
            assert series[f'iocwall_media_node_state{{node="{node_a}",state="down"}}'] == 1
            assert series[f'iocwall_media_node_cameras{{node="{node_a}"}}'] == 0

            monkeypatch.delenv(FAIL_START_ENV)             # it can start again
            await seconds_until(lambda: state(cluster, node_a) is NodeState.UP, 30,
                                f"{node_a} back")
            assert cluster.owner(a) == node_b                # playing cameras do not move back
            await cluster.add_camera(Camera.from_config(cams[3]))  # a new camera goes to it
            assert cluster.owner(cams[3].id) == node_a
            fresh, _ = await play_via_api(c, f"/api/cameras/{cams[3].id}/whep/sub")
            viewers.append(fresh)
            await fresh.first_frame(20)
        assert any("moved from" in r.getMessage() for r in caplog.records)
    finally:
        for viewer in viewers:
            await viewer.close()
        await asyncio.wait_for(cluster.stop(), 30)


@pytest.mark.slow
@pytest.mark.timeout(90)
async def test_a_lone_node_that_cannot_start_keeps_its_cameras_and_is_retried(
        simulator, monkeypatch):
    cams = sim_cameras(simulator, 2)
    cluster = MediaCluster(fast_settings(node_timeout_s=TIMEOUT_S), cams, 1)
    await cluster.start()
    viewers: list[Viewer] = []
    try:
        monkeypatch.setenv(FAIL_START_ENV, "media-0")
        os.kill(cluster.nodes["media-0"].process.pid, signal.SIGKILL)
        await seconds_until(lambda: state(cluster, "media-0") is NodeState.DOWN, 30, "down")
        assert set(cluster.nodes["media-0"].cameras) == {c.id for c in cams}   # nowhere to go
        status = await cluster.camera(cams[0].id)
        assert status is not None and status.streams["sub"].state.value == "lost"
        monkeypatch.delenv(FAIL_START_ENV)            # it is retried, and comes back
        await seconds_until(lambda: state(cluster, "media-0") is NodeState.UP, 30, "back up")
        async with client(cluster) as c:
            viewer, _ = await play_via_api(c, f"/api/cameras/{cams[0].id}/whep/sub")
            viewers.append(viewer)
            await viewer.first_frame(20)
    finally:
        for viewer in viewers:
            await viewer.close()
        await asyncio.wait_for(cluster.stop(), 30)
