"""`iocwall cluster-demo` as a user runs it: every service started, the console through
HAProxy over TLS, login, a child that dies reported and (--restart) started again while the
rest goes on, and Ctrl+C leaving no process and no port behind."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from iocwall.wall.cluster_demo.command import port_free
from tests.benchmarks.common import descendants
from tests.fixtures.cluster_demo import start_cluster
from tests.waiting import wait_until_sync

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.timeout(180)]

SERVICES = ["postgres", "redis", "sim", "c1", "c2", "haproxy"]


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper is not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_cluster_demo_starts_serves_through_haproxy_and_stops_clean(tmp_path: Path) -> None:
    data = tmp_path / "cluster"
    with start_cluster(data, tls=True, restart=True) as cluster:
        state = cluster.state()
        names = [s["name"] for s in state["services"]]
        assert [n for n in names if n not in ("m1", "m2")] == SERVICES
        assert state["media"] == "nodes" and state["tls"] is True
        assert {"m1", "m2"} <= set(names)
        assert "Console / Bảng điều khiển:  https://127.0.0.1:" in cluster.output
        with cluster.client() as http:
            r = cluster.login(http)
            assert r.status_code == 200, r.text
            assert "secure" in r.headers["set-cookie"].lower()
            wall = http.get("/api/walls/demo")          # loaded once, by the first controller
            assert wall.status_code == 200 and len(wall.json()["monitors"]) == 2
            cameras = [c["id"] for c in http.get("/api/cameras").json()]
            assert cameras == ["cam1", "cam2", "cam3", "cam4"]
            # what a drill reads to know what to kill: the controllers' side agrees with
            # cluster.json, one leader, the two media nodes sharing the four cameras
            def described() -> dict | None:
                body = http.get("/api/cluster").json()
                whole = (len(body["controllers"]) == 2
                         and sum(c["leader"] for c in body["controllers"]) == 1
                         and sorted(n["id"] for n in body["media_nodes"]) == ["m1", "m2"]
                         and sum(n["cameras"] for n in body["media_nodes"]) == 4)
                return body if whole else None
            body = wait_until_sync(described, 30, "2 controllers, 1 leader, 2 nodes, 4 cameras")
            pid = {s["name"]: s["pid"] for s in state["services"]}
            assert {c["pid"] for c in body["controllers"]} == {pid["c1"], pid["c2"]}
            assert {n["pid"] for n in body["media_nodes"]} == {pid["m1"], pid["m2"]}
            assert body["store"] == {"engine": "postgresql", "ok": True}
            assert body["bus"] == {"backend": "redis", "ok": True}
        ports = [s["port"] for s in state["services"] if s["port"]]
        pids = set(descendants(cluster.proc.pid))
        assert {s["pid"] for s in state["services"]} <= pids

        # a controller that dies is reported; the demo and the console go on; --restart
        # brings it back on its port
        old = cluster.service("c2")["pid"]
        os.kill(old, 9)
        wait_until_sync(lambda: "c2 (pid" in cluster.output, 10, "the death reported")
        assert "signal SIGKILL" in cluster.output
        with cluster.client() as http:
            for _ in range(5):
                assert cluster.login(http).status_code == 200
        assert cluster.proc.poll() is None
        wait_until_sync(lambda: cluster.service("c2")["alive"] and
                        cluster.service("c2")["pid"] != old, 15, "c2 started again")
        assert "c2 restarted" in cluster.output
        pids |= set(descendants(cluster.proc.pid))

        assert cluster.interrupt() == 0
    assert "stopped / đã dừng" in cluster.output
    assert [p for p in pids if _alive(p)] == []
    assert [p for p in ports if not port_free(p)] == []
    assert cluster.state()["running"] is False


def test_no_service_outlives_a_killed_cluster_demo(tmp_path: Path) -> None:
    """kill -9 of the demo itself (no chance to stop anything): every service still goes."""
    with start_cluster(tmp_path / "cluster") as cluster:
        state = cluster.state()
        pids = set(descendants(cluster.proc.pid))
        ports = [s["port"] for s in state["services"] if s["port"]]
        assert {s["pid"] for s in state["services"]} <= pids
        cluster.proc.kill()
        cluster.proc.wait(10)
        wait_until_sync(lambda: not [p for p in pids if _alive(p)], 30,
                        "every service gone after the demo died")
        wait_until_sync(lambda: all(port_free(p) for p in ports), 10, "every port free")
