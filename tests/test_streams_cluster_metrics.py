"""/metrics of the web process shows what each media process dropped, refused and closed,
labelled with its node and summed, from the half-second status poll (wire.NodeStatus)."""
from __future__ import annotations

import asyncio
import time

import pytest

from iocwall.streams.cluster import MediaCluster
from tests.streams_helpers import fast_settings, sim_cameras
from tests.test_streams_api import client
from tests.test_streams_cluster import two_on_different_nodes
from tests.test_streams_units import parse_prometheus
from tests.waiting import wait_until
from tests.whep_client import Viewer

KINDS = ("dropped_units", "late_dropped_units", "corrupt", "tap_dropped_frames")


def node(name: str, kind: str) -> str:
    return f'iocwall_node_{kind}_total{{node="{name}"}}'


@pytest.mark.slow
@pytest.mark.timeout(90)
async def test_a_drop_inside_a_media_process_shows_in_metrics_with_its_node(simulator):
    cams = sim_cameras(simulator, 4)
    cluster = MediaCluster(fast_settings(), cams, 2)
    await cluster.start()
    stuck = Viewer()
    try:
        a, b = two_on_different_nodes(cluster, cams)
        node_a, node_b = cluster.owner(a), cluster.owner(b)
        async with client(cluster) as c:
            first = parse_prometheus((await c.get("/metrics")).text)
            assert all(first[node(n, k)] == 0 for n in (node_a, node_b) for k in KINDS), first
            # a viewer whose offer is answered but who never takes the answer: its session's
            # queue in node_a's process fills, and falls over 500 ms behind (drops by age)
            await stuck.pc.setLocalDescription(await stuck.pc.createOffer())
            r = await c.post(f"/api/cameras/{a}/whep/sub", content=stuck.pc.localDescription.sdp,
                             headers={"Content-Type": "application/sdp"})
            assert r.status_code == 201, r.text
            async def dropped() -> dict[str, float] | None:
                seen = parse_prometheus((await c.get("/metrics")).text)
                return seen if seen[node(node_a, "late_dropped_units")] > 0 else None
            start = time.monotonic()
            seen = await wait_until(dropped, 15, "a drop of node_a in /metrics", step=0.25)
            took = time.monotonic() - start
            print(f"late drops of {node_a} in /metrics {took:.1f} s after the offer: "
                  f"{seen[node(node_a, 'late_dropped_units')]:.0f}")
            assert seen[node(node_a, "dropped_units")] >= seen[node(node_a, "late_dropped_units")]
            assert seen[node(node_b, "late_dropped_units")] == 0     # the other process's own
            for kind in KINDS:                                      # sums over the processes
                assert seen[f"iocwall_media_{kind}_total"] == sum(
                    seen[node(n, kind)] for n in (node_a, node_b))

            # the session's end is counted by its process, with its reason
            assert (await c.delete(r.headers["location"])).status_code in (200, 204)
            closed = f'iocwall_node_sessions_closed_total{{node="{node_a}",reason="client_delete"}}'
            async def counted() -> bool:
                return parse_prometheus((await c.get("/metrics")).text).get(closed, 0) == 1
            await wait_until(counted, 5, "the close in /metrics", step=0.25)
    finally:
        await stuck.close()
        await asyncio.wait_for(cluster.stop(), 30)
