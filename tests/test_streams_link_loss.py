"""RTP over UDP through a lossy camera link: 1 % of the packets the camera sends are dropped
by the kernel (nftables, at the server's end of a veth pair between two network namespaces
that the test makes and always removes; tests/fixtures/netns.py). A WHEP viewer still plays
the stream, and the media server counts the lost packets in /api/streams/health and /metrics.

The media server is tests/benchmarks/media_proc.py: a real MediaServer behind iocwall's real
media routes, in its own process, with the camera set to ``transport = "udp"``.
"""
from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
import pytest

from tests.benchmarks.common import ServerProc
from tests.benchmarks.viewer import BenchViewer
from tests.fixtures import netns
from tests.fixtures.simulator import SimProcess

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

PLAY_S = 8.0
FPS = 25                  # the simulator's main stream (1920x1080, the most packets per s)


async def _play(base: str) -> tuple[list[float], list[dict], str]:
    async with httpx.AsyncClient(base_url=base, timeout=15) as http:
        viewer = BenchViewer(decode=True)
        try:
            await viewer.play(http, "/api/cameras/cam1/whep/main")
            await viewer.first_frame_s(15)
            await asyncio.sleep(PLAY_S)
        finally:
            await viewer.close(http)
        health = (await http.get("/api/streams/health")).json()
        metrics = (await http.get("/metrics")).text
    return [f.at for f in viewer.frames], health, metrics


def play_over_udp(sim: SimProcess, tmp: Path) -> tuple[list[float], list[dict], str]:
    """Run inside the server namespace: media server (camera over UDP), one decoding viewer."""
    with ServerProc(sim, 1, tmp, transport="udp") as server:
        return asyncio.run(_play(server.base))


def test_one_percent_loss_over_udp_still_plays_and_is_counted(tmp_path: Path) -> None:
    reason = netns.missing()
    if reason:
        pytest.skip(f"cannot make a lossy camera link: {reason}")
    try:
        with netns.linked_namespaces() as link:
            netns.set_loss(link, 1.0)
            sim = netns.start_camera(link, tmp_path)
            try:
                frames, health, metrics = netns.run_in(link.server_ns, play_over_udp, sim,
                                                       tmp_path)
            finally:
                sim.stop()
            dropped = netns.dropped(link)
    except netns.NetnsUnavailable as exc:
        pytest.skip(f"cannot make a lossy camera link: {exc}")

    # it plays through the loss: most frames decoded, and still decoding at the end
    assert len(frames) >= 0.5 * FPS * PLAY_S, f"{len(frames)} frames decoded in {PLAY_S} s"
    assert frames[-1] - frames[0] >= PLAY_S - 1.0, "the picture froze before the end"
    main = next(h for h in health if (h["camera"], h["stream"]) == ("cam1", "main"))
    assert main["transport"] == "udp", main
    # the link really dropped packets, and the server saw them missing: never more than
    # were dropped (RTCP reports are UDP too, so the link may count a few more)
    assert dropped.get("udp", 0) >= 1, dropped
    assert 1 <= main["rtp_lost"] <= dropped["udp"], (main, dropped)
    series = re.search(r'^iocwall_stream_rtp_lost_total\{[^}]*camera="cam1"[^}]*'
                       r'stream="main"[^}]*\} ([0-9.e+]+)$', metrics, re.M)
    assert series is not None, metrics[:2000]
    assert float(series.group(1)) >= main["rtp_lost"]    # read just after: may have grown
