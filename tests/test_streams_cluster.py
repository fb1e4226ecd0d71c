"""Media in several processes: cameras placed by rendezvous hashing, each process plays its
own through the one web API, and a killed process is restarted and plays again."""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import time

import pytest

from iocwall.streams import placement
from iocwall.streams.cluster import MediaCluster, process_count
from iocwall.streams.limits import CloseReason
from tests.streams_helpers import fast_settings, sim_cameras
from tests.test_streams_api import client, play_via_api
from tests.test_streams_units import parse_prometheus
from tests.waiting import wait_until
from tests.whep_client import Viewer


def test_rendezvous_placement_is_stable_and_moves_only_a_lost_nodes_cameras():
    cams = [f"cam{k}" for k in range(200)]
    nodes = placement.node_ids(4)
    before = {c: placement.owner(c, nodes) for c in cams}
    assert before == {c: placement.owner(c, list(reversed(nodes))) for c in cams}
    assert all(20 <= len(v) <= 80 for v in placement.assign(cams, nodes).values())
    after = {c: placement.owner(c, nodes[:3]) for c in cams}
    moved = {c for c in cams if before[c] != after[c]}
    assert moved == {c for c in cams if before[c] == "media-3"}
    # with a load bound a few cameras still spread evenly, the same way on every node
    split = placement.assign(["cam1", "cam2", "cam3", "cam4"], placement.node_ids(2))
    assert sorted(len(v) for v in split.values()) == [2, 2]
    assert split == placement.assign(["cam4", "cam3", "cam2", "cam1"], placement.node_ids(2))


def test_cameras_added_later_are_placed_under_the_load_bound():
    nodes = placement.node_ids(3)
    load = dict.fromkeys(nodes, 0)
    placed: dict[str, str] = {}
    for k in range(30):                       # added one by one, as the registry does
        cam = f"cam{k}"
        placed[cam] = placement.place(cam, load)
        load[placed[cam]] += 1
        assert max(load.values()) - min(load.values()) <= 1
    # the first camera goes where plain rendezvous hashing would put it
    assert placed["cam0"] == placement.owner("cam0", nodes)
    with pytest.raises(ValueError):
        placement.place("cam", {})
    assert process_count(3) == 3 and process_count(0) >= 1


def two_on_different_nodes(cluster: MediaCluster, cams: list) -> tuple[str, str]:
    first = cams[0].id
    other = next(c.id for c in cams if cluster.owner(c.id) != cluster.owner(first))
    return first, other


async def play(cluster: MediaCluster, camera: str) -> Viewer:
    viewer = Viewer()

    async def post(sdp: str) -> str:
        viewer.session, answer = await cluster.whep_offer(camera, "sub", sdp, "tester")  # type: ignore[attr-defined]
        return answer

    await viewer.play(post)
    return viewer


@pytest.mark.slow
@pytest.mark.timeout(150)
async def test_two_media_processes_play_and_a_killed_one_comes_back(simulator, caplog):
    caplog.set_level(logging.INFO)
    cams = sim_cameras(simulator, 4)
    cluster = MediaCluster(fast_settings(max_sessions_per_camera=1), cams, 2)
    await cluster.start()
    viewers: list[Viewer] = []
    try:
        a, b = two_on_different_nodes(cluster, cams)
        node_a, node_b = cluster.owner(a), cluster.owner(b)
        assert node_a != node_b
        async with client(cluster) as c:                 # through the web API
            va, _ = await play_via_api(c, f"/api/cameras/{a}/whep/sub")
            viewers.append(va)
            extra = Viewer()                             # limits hold across processes
            await extra.pc.setLocalDescription(await extra.pc.createOffer())
            r = await c.post(f"/api/cameras/{a}/whep/main", content=extra.pc.localDescription.sdp,
                             headers={"Content-Type": "application/sdp"})
            await extra.close()
            assert r.status_code == 503 and r.headers["retry-after"] == "5"
            assert r.json()["error"]["code"] == "overloaded"
            listed = (await c.get("/api/cameras")).json()
            assert [x["id"] for x in listed] == [cam.id for cam in cams]
        vb = await play(cluster, b)
        viewers.append(vb)
        await va.first_frame(20)
        await vb.first_frame(20)
        pids = {n: cluster.nodes[n].process.pid for n in (node_a, node_b)}
        assert len(set(pids.values())) == 2 and os.getpid() not in pids.values()

        os.kill(pids[node_a], signal.SIGKILL)            # camera a's process dies
        start = time.monotonic()
        await wait_until(lambda: not cluster.nodes[node_a].ready.is_set(), 5, "a's process lost")
        assert cluster.closed[CloseReason.PROCESS_LOST] == 1
        assert len(await vb.count_during(1.0)) >= 10     # the other process plays on
        await wait_until(lambda: cluster.nodes[node_a].ready.is_set(), 60, "a's process back",
                         step=0.1)
        assert cluster.nodes[node_a].process.pid != pids[node_a]
        again = await play(cluster, a)                    # the viewer reconnects
        viewers.append(again)
        await again.first_frame(20)
        print(f"{node_a} killed: a new viewer of {a} played "
              f"{time.monotonic() - start:.1f} s later")
        # the media processes log through this one (one log file), marked with their node
        opened = [r for r in caplog.records if getattr(r, "node", None) == node_b
                  and "opened" in r.getMessage()]
        assert opened, [r.getMessage() for r in caplog.records][-20:]
        counters = parse_prometheus(await cluster.metrics_text())
        assert counters["iocwall_webrtc_sessions"] == 2
        assert counters['iocwall_webrtc_sessions_closed_total{reason="process_lost"}'] == 1
    finally:
        for viewer in viewers:
            await viewer.close()
        await asyncio.wait_for(cluster.stop(), 30)
    assert all(n.process is None for n in cluster.nodes.values())
