"""`iocwall cluster-demo --port P --data-dir D [--tls]`: a whole cluster on this machine.

Starts, each as a child process in its own folder under D, on 127.0.0.1 and free ports:
PostgreSQL, Redis, the camera simulator with the demo's cameras, two media nodes (when
this build has `iocwall media-node`; else each controller serves its own media), two
controllers (`iocwall serve` on the shared store and bus; the first one loads the demo's
cameras, wall and indicator figures once) and HAProxy (deploy/haproxy/iocwall.cfg) on
127.0.0.1:P. D/cluster.json says what runs (pids, ports, urls) for the failover drill.
Ctrl+C or SIGTERM stops everything in reverse order; a child that dies is reported and,
with --restart, started again on the same ports.
"""
from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iocwall.wall.cluster_demo import certs, configs, haproxy, postgres, redis
from iocwall.wall.cluster_demo.processes import Child, Supervisor, accepts, free_port

STATE_FILE = "cluster.json"
SIM_START_S = 900.0          # a cold simulator encodes its clips first (minutes, once)
CONTROLLER_START_S = 120.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8090,
                        help="HAProxy's port on 127.0.0.1, where the console is (default 8090)")
    parser.add_argument("--data-dir", metavar="DIR", default="cluster-data",
                        help="one folder per service, secrets and cluster.json "
                             "(default ./cluster-data)")
    parser.add_argument("--tls", action="store_true",
                        help="HTTPS at HAProxy, with a certificate from the demo's own CA")
    parser.add_argument("--cameras", type=int, default=4, help="simulated cameras, 1-16")
    parser.add_argument("--media", choices=("auto", "nodes", "local"), default="auto",
                        help="nodes = two media nodes (`iocwall media-node`); local = each "
                             "controller its own media; auto = nodes when this build has them")
    parser.add_argument("--restart", action="store_true",
                        help="start a child that died again, on the same ports (the drill)")


@dataclass
class Plan:
    """What the demo runs, and where."""
    data: Path
    port: int
    tls: bool
    cameras: int
    media_nodes: bool
    admin_password: str
    admin_generated: bool
    camera_password: str
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def console(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/"


def _check(args: argparse.Namespace) -> list[str]:
    problems = []
    if not 1 <= args.port <= 65535:
        problems.append(f"--port {args.port}: use a port number 1-65535")
    if not 1 <= args.cameras <= 16:
        problems.append(f"--cameras {args.cameras}: use 1 to 16")
    return problems


def port_free(port: int) -> bool:
    """Nothing listens on 127.0.0.1:``port`` (the demo's port, and every port after Ctrl+C)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def media_node_command() -> bool:
    """Does this build have `iocwall media-node` (the nodes19 branch)?"""
    try:
        done = subprocess.run([sys.executable, "-m", "iocwall.wall.cli", "media-node", "--help"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def _iocwall(*args: str) -> list[str]:
    return [sys.executable, "-m", *args]


def _sim_ports() -> dict[str, int]:
    tcp: set[int] = set()
    while len(tcp) < 3:
        tcp.add(free_port())
    rtsp, onvif, http = sorted(tcp)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        discovery = int(s.getsockname()[1])
    return {"sim_rtsp": rtsp, "sim_onvif": onvif, "sim_http": http, "sim_discovery": discovery}


class ClusterDemo:
    """Starts the children in order and keeps D/cluster.json up to date."""

    def __init__(self, plan: Plan, out: Any = sys.stdout) -> None:
        self.plan = plan
        self.out = out
        self.sup = Supervisor(on_change=self.write_state, report=self.say)
        self.secrets = plan.data / "secrets"

    def say(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    def write_state(self) -> None:
        body = {"running": True, "pid": os.getpid(), "console": self.plan.console,
                "tls": self.plan.tls, "media": "nodes" if self.plan.media_nodes else "local",
                "ca_file": str(self.secrets / "ca.pem") if self.plan.tls else None,
                "cameras": self.plan.cameras, "ports": self.plan.ports,
                "services": [c.state() for c in self.sup.children]}
        path = self.plan.data / STATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)

    def mark_stopped(self) -> None:
        path = self.plan.data / STATE_FILE
        if path.is_file():
            body = json.loads(path.read_text(encoding="utf-8"))
            body["running"] = False
            path.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")

    async def start(self) -> None:
        plan, data, sup = self.plan, self.plan.data, self.sup
        p = plan.ports
        p.update(postgres=free_port(), redis=free_port(), c1=free_port(), c2=free_port(),
                 haproxy=plan.port, **_sim_ports())
        if plan.media_nodes:
            p.update(m1=free_port(), m2=free_port())
        # -- PostgreSQL, Redis: the shared state and the bus
        self.say("iocwall cluster-demo: PostgreSQL…")
        pg_home = postgres.home(data)
        if pg_home != data / "postgres":
            self.say(f"iocwall cluster-demo: the postgres account cannot reach {data}: its "
                     f"data is in {pg_home} / dữ liệu PostgreSQL nằm ở {pg_home}")
        await asyncio.to_thread(postgres.prepare, pg_home)
        pg = sup.spawn(postgres.child(pg_home, p["postgres"]))
        await sup.ready(pg, lambda: asyncio.to_thread(postgres.answers, p["postgres"]), 60,
                        "PostgreSQL accepting connections")
        await asyncio.to_thread(postgres.create_database, p["postgres"])
        rd = sup.spawn(redis.child(data / "redis", p["redis"]))
        await sup.ready(rd, lambda: redis.answers(p["redis"]), 20, "Redis answering PING")
        # -- the simulator: the cameras
        self.say("iocwall cluster-demo: camera simulator / camera mô phỏng…")
        sim = sup.spawn(Child("sim", _iocwall(
            "iocwall.wall.cluster_demo.child", "sim", "--cameras", str(plan.cameras),
            "--rtsp-port", str(p["sim_rtsp"]), "--onvif-port", str(p["sim_onvif"]),
            "--http-port", str(p["sim_http"]), "--discovery-port", str(p["sim_discovery"])),
            data / "sim", port=p["sim_rtsp"], url=f"rtsp://127.0.0.1:{p['sim_rtsp']}/",
            env={"IOCWALL_DEMO_CAMERA_PASSWORD": plan.camera_password}))
        await sup.ready(sim, lambda: accepts(p["sim_http"]) and accepts(p["sim_rtsp"]),
                        SIM_START_S, "the simulator listening")
        # -- media nodes
        secret = certs.secret_file(self.secrets, "cluster.secret")
        ca = certs.ca(self.secrets)
        redis_url = redis.url(p["redis"])
        if plan.media_nodes:
            for name in ("m1", "m2"):
                issued = certs.issue(self.secrets, f"media-{name}")
                folder = data / name
                config = configs.media_node(
                    folder, node_id=name, listen=f"127.0.0.1:{p[name]}", cert=issued.cert,
                    key=issued.key, redis_url=redis_url, secret_file=secret, ca_file=ca)
                node = sup.spawn(Child(name, _iocwall("iocwall.wall.cli", "media-node",
                                                      "--config", str(config)),
                                       folder, port=p[name], url=f"tls://127.0.0.1:{p[name]}"))
                await sup.ready(node, functools.partial(accepts, p[name]), 60,
                                "the media node listening")
        # -- controllers: the first one loads the demo data, then the second
        session = certs.read_secret(certs.secret_file(self.secrets, "session.secret"))
        env = {"IOCWALL_SESSION_SECRET": session, "IOCWALL_ADMIN_PASSWORD": plan.admin_password,
               "IOCWALL_DEMO_CAMERA_PASSWORD": plan.camera_password}
        for name in ("c1", "c2"):
            cluster: dict[str, Any] = {"controller_url": f"http://127.0.0.1:{p[name]}"}
            if plan.media_nodes:
                cluster.update(media="nodes", secret_file=str(secret), ca_file=str(ca))
            config = configs.controller(
                data / name, p[name], public_url=plan.console,
                store_url=postgres.url(p["postgres"]), redis_url=redis_url,
                registry_key=self.secrets / "registry.key", cluster=cluster)
            seed = ["--seed", str(plan.cameras), "--sim-rtsp", str(p["sim_rtsp"])] \
                if name == "c1" else []
            self.say(f"iocwall cluster-demo: controller {name} / máy chủ điều khiển {name}…")
            ctl = sup.spawn(Child(name, _iocwall("iocwall.wall.cluster_demo.child",
                                                 "controller", "--config", str(config), *seed),
                                  data / name, port=p[name], url=f"http://127.0.0.1:{p[name]}/",
                                  env=env))
            await sup.ready(ctl, functools.partial(_healthy, f"http://127.0.0.1:{p[name]}"),
                            CONTROLLER_START_S, "/healthz answering")
        # -- HAProxy in front
        pem = certs.issue(self.secrets, "haproxy").pem if plan.tls else None
        lb = sup.spawn(haproxy.child(data / "haproxy", plan.port, [p["c1"], p["c2"]], pem))
        ca_file = str(ca) if plan.tls else None
        await sup.ready(lb, lambda: _healthy(plan.console.rstrip("/"), ca_file), 30,
                        "the console answering through HAProxy")
        self.write_state()

    def table(self) -> str:
        plan = self.plan
        rows = [("Service / Dịch vụ", "PID", "Address / Địa chỉ")]
        names = {"postgres": "PostgreSQL (store / CSDL)", "redis": "Redis (bus)",
                 "sim": "Camera simulator / camera mô phỏng",
                 "m1": "Media node / nút media 1", "m2": "Media node / nút media 2",
                 "c1": "Controller / máy chủ 1 (seeds / nạp dữ liệu demo)",
                 "c2": "Controller / máy chủ 2",
                 "haproxy": "HAProxy (load balancer / cân bằng tải)"}
        for child in self.sup.children:
            rows.append((names.get(child.name, child.name), str(child.pid), child.url))
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        lines = ["", "  iocwall cluster-demo is running / cụm iocwall demo đang chạy"]
        for n, row in enumerate(rows):
            lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
            if n == 0:
                lines.append("  " + "  ".join("-" * w for w in widths))
        if plan.admin_generated:
            password = f"{plan.admin_password}   (generated, shown once; used only if the " \
                       "site has no admin yet / tạo tự động, chỉ hiện một lần)"
        else:
            password = "(from IOCWALL_ADMIN_PASSWORD / lấy từ IOCWALL_ADMIN_PASSWORD)"
        media = ("two media nodes / hai nút media" if plan.media_nodes else
                 "each controller its own (no `iocwall media-node` in this build) / "
                 "mỗi máy chủ tự phục vụ video")
        lines += [
            "",
            f"  Console / Bảng điều khiển:  {plan.console}console?wall=demo",
            f"  Live / Xem trực tiếp:       {plan.console}live",
            f"  Displays / Màn hình:        {plan.console}display/demo/1 , /display/demo/2",
            "  User / Tài khoản:           admin",
            f"  Password / Mật khẩu:        {password}",
            f"  Media / Video:              {media}",
            f"  State / Trạng thái:         {plan.data.resolve() / STATE_FILE}",
        ]
        if plan.tls:
            lines.append(f"  CA / Chứng chỉ gốc:         {self.secrets.resolve() / 'ca.pem'}")
        lines += ["  Ctrl+C to stop everything / Ctrl+C để dừng tất cả", ""]
        return "\n".join(lines)


async def _healthy(base: str, ca_file: str | None = None) -> bool:
    import httpx
    verify: Any = ca_file if ca_file else True
    try:
        async with httpx.AsyncClient(verify=verify, timeout=3) as http:
            r = await http.get(base + "/healthz")
    except httpx.HTTPError:
        return False
    return r.status_code == 200


async def _main(plan: Plan, restart: bool) -> int:
    demo = ClusterDemo(plan)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    code = 0
    try:
        starting = asyncio.create_task(demo.start())
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({starting, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
            code = 130
        else:
            stopper.cancel()
            starting.result()            # a failed start raises here
            demo.sup.restart = restart
            demo.sup.start_watching()
            demo.say(demo.table())
            await stop.wait()
    except Exception as exc:
        demo.say(f"iocwall cluster-demo: cannot start / không khởi động được: {exc}")
        code = 1
    finally:
        demo.say("iocwall cluster-demo: stopping / đang dừng…")
        started = time.monotonic()
        await demo.sup.stop_all()
        demo.mark_stopped()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        demo.say(f"iocwall cluster-demo: stopped / đã dừng ({time.monotonic() - started:.1f} s)")
    return code


def run(args: argparse.Namespace) -> int:
    problems = _check(args)
    if problems:
        for line in problems:
            print(f"iocwall cluster-demo: {line}", file=sys.stderr)
        return 2
    if not port_free(args.port):
        print(f"iocwall cluster-demo: port {args.port} on 127.0.0.1 is in use; choose "
              "another --port", file=sys.stderr)
        return 1
    data = Path(args.data_dir).expanduser().resolve()
    data.mkdir(parents=True, exist_ok=True)
    # others may pass through (not list) when we are root: PostgreSQL runs as its own
    # account inside D/postgres; every other folder below is 0700
    data.chmod(0o711 if os.geteuid() == 0 else 0o700)
    try:
        postgres.pg_bin()
    except postgres.PostgresMissing as exc:
        print(f"iocwall cluster-demo: {exc}", file=sys.stderr)
        return 2
    nodes = args.media == "nodes" or (args.media == "auto" and media_node_command()
                                      and configs.known("cluster", "media"))
    if args.media == "nodes" and not media_node_command():
        print("iocwall cluster-demo: --media nodes: this build has no `iocwall media-node`",
              file=sys.stderr)
        return 2
    admin = os.environ.get("IOCWALL_ADMIN_PASSWORD", "")
    plan = Plan(data, args.port, args.tls, args.cameras, nodes,
                admin or secrets.token_urlsafe(12), not admin, secrets.token_urlsafe(16))
    return asyncio.run(_main(plan, args.restart))
