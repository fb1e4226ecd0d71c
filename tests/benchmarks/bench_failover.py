"""Failover drill: `iocwall cluster-demo` under load, its services killed one at a time.

Cluster: `iocwall cluster-demo --restart` (PostgreSQL, Redis, simulator, two controllers,
media nodes when the build has them, HAProxy), every service its own process on 127.0.0.1;
--restart brings a killed one back on its ports, as systemd's Restart= would.
Load, all through HAProxy, from this process (no browsers: 32 Chromium tiles would need
more than the 2 shared cores this runs on):
- two display nodes (paired and approved, as on a site): WebSocket clients of
  /ws/display/demo/1 and /2, each given a 16-tile
  layout; they ack every layout, beat, and reconnect at once when their socket drops;
- tile video: WHEP viewers (aiortc, decoding) of the sub streams shown on the displays, one
  per distinct camera per display (16 tiles of 4 cameras share 4 streams: the display page
  also opens one peer per stream); a viewer with no frame for 2 s re-offers;
- an operator pushing a layout every second (PUT ...?wait=2, alternating monitors);
- a province submitting an indicator value every second (revisions of one month).
Kills, in turn: a controller that is not the leader (kill -9), the leader (kill -9), a media
node (kill -9; only with media nodes), Redis (kill -9, restarted), PostgreSQL (restart: fast
shutdown, started again). For each: display reconnected (s, 0 = its socket never dropped),
every tile playing again (s, 0 = never stopped), lease moved (s; needs GET /api/cluster),
push p50 after / before (ratio), writes refused, and at the end writes lost (every 2xx
answered write must be there: indicator revisions read back, layout pushes in the audit).
Then the availability arithmetic against 99.5 %. BENCH_QUICK=1 (or --quick through `make
drill ARGS=--quick`) shortens every window.
"""
from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.benchmarks.common import QUICK, percentile, ratio, size, table, write_results
from tests.fixtures.cluster_demo import ADMIN_PASSWORD, RunningCluster, start_cluster
from tests.whep_client import Viewer

pytestmark = pytest.mark.timeout(2400)

WINDOW_S = size("drill_window", 30, 12)        # measured after each kill
BEFORE_S = size("drill_before", 10, 5)         # push latency baseline before each kill
STALL_S = 2.0                                  # a viewer with no frame this long re-offers
PLAYING_S = 1.0                                # a tile is playing: a frame within this
VIEWERS_PER_DISPLAY = int(size("drill_viewers", 4, 2))
INDICATOR = "online_dossier_rate"
PERIOD = "2026-10"
YEAR_MIN = 365 * 24 * 60
TARGET_AVAILABILITY = 99.5
FAILURES_PER_YEAR = 12          # assumed: each kind of failure once a month (pessimistic)
MANUAL_RECOVERY_S = 3 * 3600    # the sources' "recovery within 3 h", for what stays broken


def now() -> float:
    return time.monotonic()


def layout16(shift: int, cameras: list[str], name: str) -> dict[str, Any]:
    tiles = [{"id": f"t{k}", "kind": "camera", "camera": cameras[(k + shift) % len(cameras)],
              "x": k % 4, "y": k // 4, "w": 1, "h": 1} for k in range(16)]
    return {"name": name, "grid": {"columns": 4, "rows": 4}, "tiles": tiles}


@dataclass
class DisplayClient:
    """A display node through HAProxy that reconnects at once; records up/down times."""
    url: str
    cookie: str
    ssl_context: ssl.SSLContext | None
    events: list[tuple[float, str]] = field(default_factory=list)
    layouts: int = 0

    async def run(self) -> None:
        while True:
            try:
                async with websockets.connect(self.url, ssl=self.ssl_context, open_timeout=3,
                                              additional_headers={"Cookie": self.cookie}) as ws:
                    beat = asyncio.create_task(self._beat(ws))
                    try:
                        async for text in ws:
                            message = json.loads(text)
                            if message["type"] != "layout":
                                continue
                            if not self.events or self.events[-1][1] != "up":
                                self.events.append((now(), "up"))
                            self.layouts += 1
                            version = (message["layout"] or {}).get("version", 0)
                            await ws.send(json.dumps({"type": "ack", "version": version,
                                                      "push_id": message["push_id"]}))
                    finally:
                        beat.cancel()
            except (TimeoutError, OSError, websockets.WebSocketException):
                pass
            if self.events and self.events[-1][1] == "up":
                self.events.append((now(), "down"))
            await asyncio.sleep(0.1)

    async def _beat(self, ws: Any) -> None:
        while True:
            await ws.send(json.dumps({"type": "heartbeat", "health": {"memory_mb": 80}}))
            await asyncio.sleep(1.0)

    def reconnected(self, kill: float, end: float) -> float:
        """Seconds from ``kill`` to the socket up again; 0 when it never dropped."""
        downs = [t for t, kind in self.events if kind == "down" and kill <= t <= end]
        if not downs:
            return 0.0
        ups = [t for t, kind in self.events if kind == "up" and t >= downs[0]]
        return ups[-1] - kill if ups and ups[-1] <= end + 60 else math.nan


@dataclass
class TileViewer:
    """One WHEP viewer through HAProxy; re-offers when it stalls."""
    http: httpx.AsyncClient
    camera: str
    viewer: Viewer | None = None
    offers: int = 0

    async def run(self) -> None:
        while True:
            viewer = Viewer()
            self.viewer = viewer
            self.offers += 1
            try:
                await viewer.play(self._post)
                while True:
                    await asyncio.sleep(0.2)
                    last = viewer.frames[-1].at if viewer.frames else viewer.started
                    if now() - last > STALL_S or viewer.pc.connectionState in ("failed",
                                                                                "closed"):
                        break
            except (RuntimeError, httpx.HTTPError, OSError, ValueError):
                await asyncio.sleep(0.3)
            finally:
                await viewer.close()

    async def _post(self, sdp: str) -> str:
        r = await self.http.post(f"/api/cameras/{self.camera}/whep/sub", content=sdp,
                                 headers={"Content-Type": "application/sdp"}, timeout=5)
        if r.status_code != 201:
            raise RuntimeError(f"{r.status_code} {r.text[:200]}")
        return r.text

    def playing(self) -> bool:
        v = self.viewer
        return bool(v is not None and v.frames and now() - v.frames[-1].at < PLAYING_S)


@dataclass
class Load:
    cluster: RunningCluster
    http: httpx.AsyncClient
    cameras: list[str]
    displays: list[DisplayClient] = field(default_factory=list)
    viewers: list[TileViewer] = field(default_factory=list)
    pushes: list[tuple[float, int, float]] = field(default_factory=list)    # t, status, s
    undelivered: list[float] = field(default_factory=list)   # 200, but not every display acked
    submits: list[tuple[float, int, int]] = field(default_factory=list)     # t, status, rev
    playing: list[tuple[float, bool]] = field(default_factory=list)
    leaders: list[tuple[float, str | None]] = field(default_factory=list)
    cluster_api: bool = False
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def operator(self) -> None:
        k = 0
        while True:
            k += 1
            monitor = "1" if k % 2 else "2"
            body = layout16(k, self.cameras, f"drill {k}")
            t0 = now()
            try:
                r = await self.http.put(f"/api/walls/demo/monitors/{monitor}/layout?wait=2",
                                        json=body, timeout=5)
                status = r.status_code
                if status == 200 and not r.json().get("complete"):
                    self.undelivered.append(t0)
            except (httpx.HTTPError, ValueError):
                status = 0
            self.pushes.append((t0, status, now() - t0))
            await asyncio.sleep(max(0.0, 1.0 - (now() - t0)))

    async def province(self) -> None:
        k = 0
        while True:
            k += 1
            t0 = now()
            try:
                r = await self.http.post(f"/api/indicators/{INDICATOR}/values", json={
                    "province": "Hà Nội", "period": PERIOD, "value": 10 + (k % 50),
                    "revise": True, "reason": f"drill {k}"}, timeout=5)
                status = r.status_code
                revision = r.json()["value"]["revision"] if status == 201 else -1
                if status == 409:                   # nothing to revise yet: the first value
                    r = await self.http.post(f"/api/indicators/{INDICATOR}/values", json={
                        "province": "Hà Nội", "period": PERIOD, "value": 10}, timeout=5)
                    status = r.status_code
                    revision = r.json()["value"]["revision"] if status == 201 else -1
            except (httpx.HTTPError, ValueError, KeyError):
                status, revision = 0, -1
            self.submits.append((t0, status, revision))
            await asyncio.sleep(max(0.0, 1.0 - (now() - t0)))

    async def sampler(self) -> None:
        while True:
            self.playing.append((now(), all(v.playing() for v in self.viewers)))
            await asyncio.sleep(0.1)

    async def leader_watch(self) -> None:
        while True:
            try:
                r = await self.http.get("/api/cluster", timeout=2)
                if r.status_code == 200:
                    self.cluster_api = True
                    lead = [c for c in r.json().get("controllers", []) if c.get("leader")]
                    self.leaders.append((now(), str(lead[0]["pid"]) if lead else None))
            except (httpx.HTTPError, ValueError):
                pass
            await asyncio.sleep(0.25)

    def start(self) -> None:
        for coro in (*(d.run() for d in self.displays), *(v.run() for v in self.viewers),
                     self.operator(), self.province(), self.sampler(), self.leader_watch()):
            self.tasks.append(asyncio.create_task(coro))

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for v in self.viewers:
            if v.viewer is not None:
                await v.viewer.close()

    def leader_pid(self) -> int | None:
        recent = [pid for t, pid in self.leaders[-4:] if pid]
        return int(recent[-1]) if recent else None

    def tiles_back(self, kill: float, end: float) -> float:
        after = [(t, ok) for t, ok in self.playing if kill <= t <= end]
        bad = [t for t, ok in after if not ok]
        if not bad:
            return 0.0
        good = [t for t, ok in after if ok and t > bad[-1]]
        return good[0] - kill if good else math.nan

    def pushes_back(self, kill: float, end: float) -> float:
        """Seconds from ``kill`` to the first push every display acked after the last one
        that some display missed; 0 when none was missed; NaN when the window ended on a
        missed one (not recovered by itself)."""
        window = [(t, c == 200 and t not in self.undelivered) for t, c, _ in self.pushes
                  if kill <= t < end]
        missed = [t for t, ok in window if not ok]
        if not missed:
            return 0.0
        good = [t for t, ok in window if ok and t > missed[-1]]
        return good[0] + 1 - kill if good else math.nan

    def lease_moved(self, kill: float, end: float, old: int | None) -> float:
        moved = [t for t, pid in self.leaders if kill <= t <= end and pid
                 and int(pid) != old]
        return moved[0] - kill if moved else math.nan


def _pid_of(cluster: RunningCluster, name: str) -> int:
    return int(cluster.service(name)["pid"])


def _name_of(cluster: RunningCluster, pid: int | None) -> str | None:
    return next((s["name"] for s in cluster.state()["services"] if s["pid"] == pid), None)


async def _back(cluster: RunningCluster, name: str, old_pid: int, http: httpx.AsyncClient,
                timeout: float = 120) -> None:
    """Until ``name`` runs again (a new pid, alive) and the console answers."""
    deadline = now() + timeout
    while now() < deadline:
        s = cluster.service(name)
        if s["alive"] and s["pid"] != old_pid:
            try:
                if (await http.get("/healthz", timeout=2)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
        await asyncio.sleep(0.5)
    raise AssertionError(f"{name} did not come back within {timeout:.0f} s")


async def _paired_node(cluster: RunningCluster, admin: httpx.AsyncClient, verify: Any,
                       monitor: str) -> str:
    """A display node as a site has them: paired, approved for one monitor of the demo wall,
    its display-session cookie (a paired node's reconnect replaces its old link at once)."""
    async with httpx.AsyncClient(base_url=cluster.base_url, verify=verify, timeout=10) as node:
        started = (await node.post("/api/display/pair", json={"name": f"drill-{monitor}"})
                   ).json()
        r = await admin.post(f"/api/display/pairings/{started['code']}/approve",
                             json={"wall": "demo", "monitors": {monitor: "HDMI-1"}})
        assert r.status_code == 200, r.text
        token = (await node.post(f"/api/display/pair/{started['node']}/poll",
                                 json={"secret": started["secret"]})).json()["token"]
        r = await node.post("/api/display/session", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        return f"iocwall_display={r.cookies['iocwall_display']}"


async def _drill(cluster: RunningCluster) -> dict[str, Any]:
    verify = cluster.verify()
    context = verify if isinstance(verify, ssl.SSLContext) else None
    async with httpx.AsyncClient(base_url=cluster.base_url, verify=verify, timeout=10) as http:
        assert (await cluster.login(http)).status_code == 200
        cameras = sorted(c["id"] for c in (await http.get("/api/cameras")).json())
        ws_base = cluster.base_url.replace("http", "ws", 1)
        load = Load(cluster, http, cameras)
        for monitor in ("1", "2"):
            r = await http.put(f"/api/walls/demo/monitors/{monitor}/layout",
                               json=layout16(0, cameras, "drill"))
            assert r.status_code == 200, r.text
            cookie = await _paired_node(cluster, http, verify, monitor)
            load.displays.append(DisplayClient(f"{ws_base}/ws/display/demo/{monitor}", cookie,
                                               context))
            for k in range(VIEWERS_PER_DISPLAY):
                load.viewers.append(TileViewer(http, cameras[k % len(cameras)]))
        started = now()
        wall_started = time.time()
        load.start()
        await asyncio.sleep(max(BEFORE_S, 8))          # everything playing, a baseline
        media_nodes = cluster.state()["media"] == "nodes"
        steps = ["controller (not leader)", "controller (leader)"]
        steps += ["media node"] if media_nodes else []
        steps += ["redis (kill -9)", "postgresql (restart)"]
        rows, figures = [], {}
        for step in steps:
            leader = load.leader_pid()
            leader_name = _name_of(cluster, leader)
            if step == "controller (not leader)":
                victim = "c2" if leader_name != "c2" else "c1"
            elif step == "controller (leader)":
                victim = leader_name or "c1"
            elif step == "media node":
                victim = "m1"
            elif step.startswith("redis"):
                victim = "redis"
            else:
                victim = "postgres"
            pid = _pid_of(cluster, victim)
            kill = now()
            os.kill(pid, signal.SIGINT if victim == "postgres" else signal.SIGKILL)
            await asyncio.sleep(WINDOW_S)
            end = now()
            before = [s for t, c, s in load.pushes if kill - BEFORE_S <= t < kill and c == 200]
            after = [s for t, c, s in load.pushes if kill + WINDOW_S / 2 <= t < end and c == 200]
            failed = sorted([t for t, c, _ in load.pushes if kill <= t < end and c != 200]
                            + [t for t, c, _ in load.submits if kill <= t < end and c != 201])
            refused = len(failed)
            undelivered = sum(1 for t in load.undelivered if kill <= t < end)
            display_s = max(d.reconnected(kill, end) for d in load.displays)
            figure = {
                "killed": victim, "pid": pid,
                "display_reconnected_s": round(display_s, 2),
                "tiles_playing_again_s": round(load.tiles_back(kill, end), 2),
                "lease_moved_s": round(load.lease_moved(kill, end, leader), 2)
                if step == "controller (leader)" and load.cluster_api else None,
                "push_p50_before_ms": round(percentile(before, 50) * 1000, 1),
                "push_p50_after_ms": round(percentile(after, 50) * 1000, 1),
                "push_ratio": ratio(percentile(after, 50), percentile(before, 50)),
                "writes_refused": refused,
                # the last refused write, from the kill (+1 s: writes are tried each second)
                "writes_refused_for_s": round(failed[-1] - kill + 1, 2) if failed else 0.0,
                "pushes_not_acked_by_every_display": undelivered,
                "pushes_reach_every_display_again_s": round(load.pushes_back(kill, end), 2),
                # pushes already missing a display before this kill: an earlier failure's
                # outage still running, not this one's (its figure is not charged here)
                "pushes_broken_before": any(kill - BEFORE_S <= t < kill
                                            for t in load.undelivered),
            }
            figures[step] = figure
            rows.append([step, victim, figure["display_reconnected_s"],
                         figure["tiles_playing_again_s"],
                         "n/a" if figure["lease_moved_s"] is None else figure["lease_moved_s"],
                         figure["push_p50_before_ms"], figure["push_p50_after_ms"],
                         figure["push_ratio"], refused, undelivered,
                         "broken before" if figure["pushes_broken_before"]
                         else figure["pushes_reach_every_display_again_s"]])
            print(f"drill: {step}: {figure}", flush=True)
            await _back(cluster, victim, pid, http)
            await asyncio.sleep(3)
        await load.stop()
        lost = await _writes_lost(http, load, wall_started)
        elapsed = now() - started
    table("Failover drill (kill, then measure; s = seconds from the kill)",
          ["failure", "killed", "display s", "tiles s", "lease s", "push p50 before ms",
           "after ms", "ratio", "refused", "not acked", "pushes ok s"], rows)
    if not load.cluster_api:
        print("note: this build has no GET /api/cluster (no lease): \"not leader\" is c2 and "
              "\"leader\" is c1, the controller that seeded the demo; lease s is n/a",
              flush=True)
    availability = _availability(figures)
    return {"steps": figures, "writes": lost, "availability": availability,
            "media": "nodes" if media_nodes else "local", "cluster_api": load.cluster_api,
            "viewers": len(load.viewers), "displays": len(load.displays),
            "window_s": WINDOW_S, "elapsed_s": round(elapsed, 1)}


async def _writes_lost(http: httpx.AsyncClient, load: Load, since: float) -> dict[str, Any]:
    """Every 2xx-answered write read back: indicator revisions, layout pushes in the audit."""
    acked = {rev for _, c, rev in load.submits if c == 201}
    r = await http.get(f"/api/indicators/{INDICATOR}/values",
                       params={"province": "Hà Nội", "revisions": "1", "limit": 1000})
    stored = {v["revision"] for v in r.json()["values"] if v["period"] == PERIOD}
    pushes_ok = sum(1 for _, c, _ in load.pushes if c == 200)
    entries = await _audit_since(http, since)
    layout_entries = [e for e in entries if e["action"] == "wall.push"
                      and (e["target"] or "").startswith("wall:demo/")]
    ids = sorted(e["id"] for e in entries)
    gaps = sum(1 for a, b in zip(ids, ids[1:], strict=False) if b != a + 1)
    figures = {"indicator_writes_acked": len(acked),
               "indicator_writes_lost": len(acked - stored),
               "layout_pushes_acked": pushes_ok,
               "layout_pushes_audited": len(layout_entries),
               "layout_pushes_lost": max(0, pushes_ok - len(layout_entries)),
               "audit_entries": len(entries), "audit_id_gaps": gaps}
    table("Writes answered 2xx, read back afterwards", list(figures), [list(figures.values())])
    return figures


async def _audit_since(http: httpx.AsyncClient, since: float) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    before = 0
    while True:
        params: dict[str, Any] = {"limit": 500}
        if before:
            params["before_id"] = before
        page = (await http.get("/api/audit", params=params)).json()
        fresh = [e for e in page["entries"] if e["epoch"] >= since - 5]
        out += fresh
        if len(fresh) < len(page["entries"]) or not page.get("next_before_id"):
            return out
        before = page["next_before_id"]


def _availability(steps: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Outage per failure (the longest of: a display away, a tile dark, writes refused,
    pushes missing a display) x an assumed rate, over a year's minutes, against 99.5 %.
    A failure the cluster did not recover from by itself within the window costs the
    sources' recovery bound (3 h: someone restarts what is stuck)."""
    outage, unrecovered = {}, []
    for step, f in steps.items():
        values = [f["display_reconnected_s"], f["tiles_playing_again_s"],
                  f["writes_refused_for_s"]]
        if not f["pushes_broken_before"]:
            values.append(f["pushes_reach_every_display_again_s"])
        if any(math.isnan(v) for v in values):
            unrecovered.append(step)
            outage[step] = MANUAL_RECOVERY_S
        else:
            outage[step] = max(values)
    minutes = sum(FAILURES_PER_YEAR * s / 60 for s in outage.values())
    allowed = YEAR_MIN * (100 - TARGET_AVAILABILITY) / 100
    figures = {"year_minutes": YEAR_MIN, "allowed_minutes_at_99_5": round(allowed, 1),
               "failures_per_year_each": FAILURES_PER_YEAR,
               "outage_s_per_failure": {k: round(v, 2) for k, v in outage.items()},
               "outage_minutes_per_year": round(minutes, 2),
               "availability_percent": round(100 * (1 - minutes / YEAR_MIN), 4),
               "share_of_budget_used_percent": round(100 * minutes / allowed, 3),
               "not_recovered_by_itself": unrecovered,
               "manual_recovery_s_assumed": MANUAL_RECOVERY_S}
    print("\n== Availability arithmetic ==\n"
          f"  a year = {YEAR_MIN} min; 99.5 % allows {allowed:.0f} min of outage\n"
          f"  assumed: each failure above {FAILURES_PER_YEAR} times a year; one not recovered "
          f"by itself within the window costs {MANUAL_RECOVERY_S / 3600:.0f} h (manual)\n"
          + "".join(f"  {k}: {v:.2f} s per failure"
                    f"{' (not recovered by itself)' if k in unrecovered else ''}\n"
                    for k, v in outage.items())
          + f"  total {minutes:.2f} min a year -> availability "
          f"{figures['availability_percent']} % ({figures['share_of_budget_used_percent']} % "
          "of the 99.5 % budget)", flush=True)
    return figures


def test_failover_drill(tmp_path: Path) -> None:
    data = Path(os.environ.get("BENCH_DRILL_DIR") or tmp_path) / "cluster"
    with start_cluster(data, restart=True) as cluster:
        figures = asyncio.run(_drill(cluster))
        assert cluster.interrupt() == 0
    figures["quick"] = QUICK
    write_results("failover_drill", figures)
    assert figures["steps"], "no figures"
    assert ADMIN_PASSWORD not in json.dumps(figures)
