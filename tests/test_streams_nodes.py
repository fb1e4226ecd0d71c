"""The media node table (heartbeats that expire), the watchdog's decisions and the fail-over
placement, without processes (tests/test_streams_watchdog.py runs them for real)."""
from __future__ import annotations

from iocwall.streams import placement
from iocwall.streams.cluster import MediaCluster
from iocwall.streams.nodes import NodeState, NodeTable, Restart, metrics_text
from iocwall.streams.watchdog import FAILURES, STABLE_S, WINDOW_S, Watchdog
from iocwall.streams.wire import Heartbeat
from iocwall.wall.access import Role
from iocwall.wall.config import StreamsConfig, WebRTCConfig, stream_settings
from tests.test_streams_api import client
from tests.test_streams_units import parse_prometheus


def beat(node: str, rss: int = 100 << 20, sent: float = 0.0) -> Heartbeat:
    return Heartbeat(node, 1234, 3, 2, rss, 0.004, sent)


def test_a_node_is_up_while_heartbeats_arrive_and_expires_when_they_stop():
    table = NodeTable(timeout_s=5.0)
    table.add("media-0")
    assert table.state("media-0") is NodeState.STARTING and table.live() == []
    table.set_state("media-0", NodeState.UP, now=100.0)          # its hello
    assert not table.expired("media-0", 104.9)
    assert table.expired("media-0", 105.1)                       # silent since hello
    table.beat(beat("media-0"), now=105.0)
    assert not table.expired("media-0", 109.9) and table.expired("media-0", 110.1)
    # any source may feed it: a node never added announces itself with its first heartbeat
    table.beat(beat("other-host-1"), now=106.0)
    assert table.live() == ["media-0", "other-host-1"]
    # a node that is not up is never "expired" (the supervisor handles it) and shows no figures
    table.set_state("media-0", NodeState.RESTARTING, now=111.0)
    assert not table.expired("media-0", 200.0)
    shown = {n["node"]: n for n in table.to_json(now=107.0)}
    assert shown["media-0"]["state"] == "restarting" and shown["media-0"]["rss_bytes"] == 0
    assert shown["other-host-1"] == {
        "node": "other-host-1", "state": "up", "pid": 1234, "cameras": 3, "sessions": 2,
        "rss_bytes": 100 << 20, "loop_lag_s": 0.004, "heartbeat_age_s": 1.0,
        "restarts": {r.value: 0 for r in Restart}}


def test_the_watchdog_kills_hung_and_oversized_nodes_and_marks_crash_loops_down():
    table = NodeTable(timeout_s=2.0)
    dog = Watchdog(table, memory_limit_bytes=200 << 20, start_timeout_s=30.0)
    table.add("media-0")
    assert dog.verdict("media-0", 10.0, started_at=0.0, greeted=False) is None
    assert dog.verdict("media-0", 31.0, started_at=0.0, greeted=False) is Restart.START_FAILED
    table.beat(beat("media-0"), now=40.0)
    assert dog.verdict("media-0", 41.9, 0.0, True) is None
    assert dog.verdict("media-0", 42.1, 0.0, True) is Restart.HUNG
    table.beat(beat("media-0", rss=201 << 20), now=43.0)
    assert dog.verdict("media-0", 43.1, 0.0, True) is Restart.MEMORY
    dog.memory_limit_bytes = 0                                   # 0 = no cap
    assert dog.verdict("media-0", 43.1, 0.0, True) is None
    # a process that was up a good while ending is not a failed start
    assert not dog.ended("media-0", 100.0, up_since=100.0 - STABLE_S)
    # FAILURES failed starts (never up, or up only briefly) within WINDOW_S: down
    results = [dog.ended("media-0", 200.0 + k, up_since=None if k else 199.0)
               for k in range(FAILURES)]
    assert results == [False] * (FAILURES - 1) + [True]
    assert "hung, no heartbeat for 3.1 s" in dog.explain("media-0", Restart.HUNG, 46.1)
    # restarted: counted by reason; the third quick failure makes the node down, once
    table.add("media-2")
    became = [dog.restarting("media-2", Restart.START_FAILED, 300.0 + k, None)
              for k in range(FAILURES + 1)]
    assert became == [False] * (FAILURES - 1) + [True, False]
    assert table.state("media-2") is NodeState.DOWN
    assert table.get("media-2").restarts[Restart.START_FAILED] == FAILURES + 1
    # spread wider than the window they never add up
    assert not any(dog.ended("media-1", k * (WINDOW_S + 1), None) for k in range(FAILURES + 2))


def test_a_down_nodes_cameras_move_and_nothing_else_does():
    cams = [f"cam{k}" for k in range(60)]
    nodes = placement.node_ids(3)
    split = placement.assign(cams, nodes)
    load = {n: len(split[n]) for n in nodes if n != "media-1"}
    moved = placement.fail_over(split["media-1"], load)
    assert set(moved) == set(split["media-1"]) and set(moved.values()) <= set(load)
    after = {n: len(split[n]) + sum(1 for t in moved.values() if t == n) for n in load}
    assert sum(after.values()) == 60 and max(after.values()) - min(after.values()) <= 1
    assert moved == placement.fail_over(reversed(split["media-1"]), load)   # same everywhere


def test_node_metrics_carry_a_node_label_and_the_config_reaches_the_watchdog():
    table = NodeTable(timeout_s=5.0)
    table.beat(beat("media-0", rss=300 << 20), now=10.0)
    table.add("media-1")
    table.set_state("media-1", NodeState.DOWN)
    table.get("media-1").restarts[Restart.START_FAILED] = 3
    series = parse_prometheus(metrics_text(table, now=12.5))
    assert series['iocwall_media_node_state{node="media-0",state="up"}'] == 1
    assert series['iocwall_media_node_state{node="media-1",state="down"}'] == 1
    assert series['iocwall_media_node_state{node="media-1",state="up"}'] == 0
    assert series['iocwall_media_node_rss_bytes{node="media-0"}'] == 300 << 20
    assert series['iocwall_media_node_sessions{node="media-0"}'] == 2
    assert series['iocwall_media_node_heartbeat_age_seconds{node="media-0"}'] == 2.5
    assert series['iocwall_media_node_restarts_total{node="media-1",reason="start_failed"}'] == 3
    cluster = MediaCluster(stream_settings(StreamsConfig(node_timeout_s=3.0, node_memory_mb=512),
                                           WebRTCConfig()), [], 2)
    assert cluster.watchdog.memory_limit_bytes == 512 << 20
    assert cluster.node_table.timeout_s == 3.0
    assert StreamsConfig().node_memory_mb == 1024 and StreamsConfig().node_timeout_s == 5.0


async def test_the_media_api_lists_the_nodes_to_monitors_only():
    cluster = MediaCluster(stream_settings(StreamsConfig(), WebRTCConfig()), [], 2)  # not started
    async with client(cluster, Role.TECHNICIAN) as c:
        listed = await c.get("/api/streams/nodes")
        assert listed.status_code == 200
        assert [(n["node"], n["state"], n["pid"]) for n in listed.json()] == [
            ("media-0", "starting", None), ("media-1", "starting", None)]
    async with client(cluster, Role.DISPLAY) as c:
        assert (await c.get("/api/streams/nodes")).status_code == 403
    async with client(cluster, None) as c:
        assert (await c.get("/api/streams/nodes")).status_code == 401
