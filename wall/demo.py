"""`iocwall demo`: the camera simulator + the server on this machine, /live opened.

The simulator runs in this process (its Python API), on free loopback ports,
with a camera password made up at start: the banner prints it and the registry
page shows it (marked demo), so a registrar can connect a simulated camera by
hand; it is never logged. The simulator's cameras (cam1..camN) are registered in
the camera registry (credentials sealed) like any province's, and the media
server follows the registry.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import signal
import socket
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

log = logging.getLogger(__name__)

SIM_USER = "demo"
STOP_TIMEOUT_S = 10.0
# Pieces the demo stands on, and the issue that delivers each (for the "missing" line).
PIECES = {
    "iocwall.hardware.sim.server": "camera simulator",
    "iocwall.streams.server": "media server",
    "iocwall.wall.media_api": "media API",
    "iocwall.wall.serve": "web server",
    "iocwall.wall.pages": "/live and /login pages",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080,
                        help="console port (default 8080; 0 = any)")
    parser.add_argument("--data-dir", metavar="DIR", default="data",
                        help="database, logs and caches (default ./data)")
    parser.add_argument("--cameras", type=int, default=4,
                        help="simulated cameras, 1-16 (default 4)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")
    parser.add_argument("--detector", choices=("auto", "hog"), default="auto",
                        help="people detector: auto = the simulator-trained YOLO when it is "
                             "there (unless [analytics] names weights), else HOG; hog = HOG")
    parser.add_argument("--config", metavar="PATH", help="config.toml (default: ./config.toml "
                        "if present); its [[cameras]] are not used by the demo")


@dataclass(frozen=True)
class SimPorts:
    rtsp: int
    onvif: int
    http: int
    discovery: int


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pick_ports() -> SimPorts:
    tcp: set[int] = set()
    while len(tcp) < 3:
        tcp.add(_free_port(socket.SOCK_STREAM))
    rtsp, onvif, http = sorted(tcp)
    return SimPorts(rtsp, onvif, http, _free_port(socket.SOCK_DGRAM))


def _check(args: argparse.Namespace) -> list[str]:
    problems = []
    if not 1 <= args.cameras <= 16:
        problems.append(f"--cameras {args.cameras}: use 1 to 16")
    if not 0 <= args.port <= 65535:
        problems.append(f"--port {args.port}: use a port number 0-65535")
    return problems


def _missing() -> list[str]:
    import importlib
    out = []
    for module, what in PIECES.items():
        try:
            importlib.import_module(module)
        except ImportError as exc:
            out.append(f"{what} ({module}: {exc})")
    return out


DEMO_PROVINCE = "Hà Nội"
DEMO_CENTRE = "Trung tâm Phục vụ hành chính công (mô phỏng / simulated)"


def camera_configs(count: int, rtsp_port: int, password: str) -> list[Any]:
    """The simulator's cameras as registry entries (password in memory, then sealed)."""
    from iocwall.wall.registry.model import CameraIn
    base = f"rtsp://127.0.0.1:{rtsp_port}"
    return [CameraIn(id=f"cam{k}", province=DEMO_PROVINCE, centre=DEMO_CENTRE,
                     name=f"Quầy {k}", rtsp_main=f"{base}/cam{k}/main",
                     rtsp_sub=f"{base}/cam{k}/sub", username=SIM_USER, password=password,
                     location=f"PVHCC — sảnh {1 + (k - 1) // 4} / hall {1 + (k - 1) // 4}",
                     tags=["demo"])
            for k in range(1, count + 1)]


async def register_demo_cameras(services: Any, cameras: list[Any],
                                zones: list[Any] | None = None) -> None:
    """Through the registry, like a province would: the media server follows it. The
    simulator's counters become queue zones through the zone store, like config.toml's
    (cameras that never had zones only: an operator's edits stay)."""
    from iocwall.wall.registry.seed import upsert
    wanted = {c.id for c in cameras}
    for old in await services.registry.cameras():
        if old.source == "demo" and old.id not in wanted:   # an earlier demo had more
            await services.registry.remove(old.id)
    await upsert(services.registry, cameras, "demo")
    if cameras:
        first = cameras[0]
        services.demo_camera_login = {"username": first.username, "password": first.password,
                                      "rtsp_main": first.rtsp_main, "rtsp_sub": first.rtsp_sub}
    if zones:
        await services.zones.seed(zones, "demo")
    if services.wall is not None:
        await services.wall.ensure_demo()


def describe(notify: Any) -> str:
    """One line on where alerts go ([notify]); never a secret."""
    from iocwall.wall.notify.contacts import mask
    from iocwall.wall.notify.smtp_url import parse_smtp_url
    parts = []
    if notify.smtp_url:
        parts.append(f"e-mail {parse_smtp_url(notify.smtp_url).display()} -> "
                     f"{len(notify.email_to)} + subscribers")
    if notify.webhook_url:
        parts.append(f"webhook {mask('webhook', notify.webhook_url)}")
    if notify.sms_url:
        parts.append(f"SMS {mask('webhook', notify.sms_url)}")
    return "; ".join(parts) or "none configured ([notify] in --config) / chưa cấu hình"


def banner(info: Any, config: Any, ports: SimPorts, cameras: int, log_file: Path | None,
           admin_from_env: bool, camera_password: str = "") -> str:
    """The one block the demo prints: where to go, who to log in as, where things are."""
    live = info.url.rstrip("/") + "/live"
    if info.generated_password:
        password = (f"{info.generated_password}   "
                    "(generated, shown once / tạo tự động, chỉ hiện một lần)")
    elif admin_from_env:
        password = "(from IOCWALL_ADMIN_PASSWORD / lấy từ IOCWALL_ADMIN_PASSWORD)"
    else:
        password = "(as set before / như đã đặt trước đây)"
    rtsp = f"rtsp://127.0.0.1:{ports.rtsp}/camK/main|sub"
    lines = [
        "",
        "  iocwall demo is running / bản demo iocwall đang chạy",
        f"  Console / Bảng điều khiển:  {live}",
        f"  Video wall / Tường video:   {info.url.rstrip('/')}/console?wall=demo",
        f"  Displays / Màn hình:        {info.url.rstrip('/')}/display/demo/1 , /display/demo/2"
        " (loopback only / chỉ máy này)",
        f"  Cameras registry / Đăng ký: {info.url.rstrip('/')}/register",
        f"  User / Tài khoản:           {info.admin_user}",
        f"  Password / Mật khẩu:        {password}",
        f"  Cameras / Camera:           {cameras} simulated / mô phỏng ({rtsp})",
        f"  Camera login / Đăng nhập camera: {SIM_USER} / {camera_password}"
        "   (simulated cameras only / chỉ camera mô phỏng)",
        f"  Camera faults / Lỗi giả lập: http://127.0.0.1:{ports.http}/faults",
        f"  Data / Dữ liệu:             {config.data_path.resolve()}",
        f"  Log / Nhật ký:              {log_file.resolve() if log_file else '(console only)'}",
        f"  Alerts / Cảnh báo:          {describe(config.notify)}",
        f"                              {info.url.rstrip('/')}/admin/outbox"
        " (outbox, test message / hộp thư đi, gửi thử)",
        "  Ctrl+C to stop / Ctrl+C để dừng",
        "",
    ]
    return "\n".join(lines)


def _open_browser(url: str) -> None:
    """Open the console; a daemon thread, so a stuck browser launcher never blocks exit."""
    import webbrowser

    def opener() -> None:
        try:
            opened = webbrowser.open(url, new=2)
        except Exception as exc:      # any launcher failure is only a warning
            opened = False
            log.debug("webbrowser failed: %s", exc)
        if not opened:
            print(f"iocwall demo: warning: could not open a browser; open {url} yourself",
                  file=sys.stderr, flush=True)

    threading.Thread(target=opener, name="open-browser", daemon=True).start()


async def _demo(args: argparse.Namespace, config: Any, log_file: Path | None) -> int:
    from iocwall.hardware.sim.command import default_cache_dir
    from iocwall.hardware.sim.server import SimOptions, Simulator
    from iocwall.wall.serve import build_media, run_server

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Our handler (not asyncio.run's, which would cancel the shutdown half-way): a signal
    # only asks everything to stop, and the stops below run to the end.
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    ports = _pick_ports()
    cam_password = os.environ.get("IOCWALL_DEMO_CAMERA_PASSWORD") or secrets.token_urlsafe(16)
    sim = Simulator(SimOptions(cameras=args.cameras, host="127.0.0.1", rtsp_port=ports.rtsp,
                               onvif_port=ports.onvif, http_port=ports.http,
                               discovery_port=ports.discovery, user=SIM_USER,
                               password=cam_password, cache_dir=default_cache_dir(),
                               progress=_progress_line))
    try:
        print("iocwall demo: starting the camera simulator / đang khởi động camera mô phỏng…",
              file=sys.stderr, flush=True)
        if not await _until_stop(sim.start(), stop):
            return 130
        config.cameras = []                # the demo's cameras are the simulator's
        cameras = camera_configs(args.cameras, ports.rtsp, cam_password)
        config.indicators.demo_data = True          # the real 2024/2019 figures, once
        config.wall.demo_open_display = True        # /display/demo/N from loopback, no pairing
        if config.replay.cameras == "wall":
            config.replay.cameras = "all"            # every demo camera can be rewound
        media = build_media(config)       # its cameras come from the registry
        worker, zones = _demo_analytics(config, args.cameras, args.detector)
        admin_from_env = bool(os.environ.get("IOCWALL_ADMIN_PASSWORD"))

        def on_ready(info: Any) -> None:
            print(banner(info, config, ports, args.cameras, log_file, admin_from_env,
                         cam_password), flush=True)
            if not args.no_browser:
                _open_browser(info.url.rstrip("/") + "/console?wall=demo")

        try:
            await run_server(config, media=media, on_ready=on_ready, stop=stop,
                             setup=lambda services: _setup_demo(services, cameras, zones,
                                                                worker),
                             extra_routes=[demo_info_route(ports)])
        finally:
            if worker is not None:
                await _bounded(worker.stop(), "analytics worker")
        return 0
    finally:
        await _bounded(sim.stop(), "camera simulator")
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        print("iocwall demo: stopped / đã dừng", file=sys.stderr, flush=True)


async def _setup_demo(services: Any, cameras: list[Any], zones: list[Any],
                      worker: Any) -> None:
    if worker is not None:
        worker.on_off(services.queues.set_off)      # "analytics off" on /api/queues, tiles
    await register_demo_cameras(services, cameras, zones)


def _progress_line(line: str) -> None:
    """The simulator's first-start encoding progress (from its encoder threads)."""
    print(f"iocwall demo: {line}", file=sys.stderr, flush=True)


def _demo_analytics(config: Any, cameras: int, detector: str = "auto") -> tuple[Any, list[Any]]:
    """Queue zones for every simulated camera, and a worker to count them."""
    from iocwall.hardware.sim.server import SUB
    from iocwall.wall.zones.demo import DemoWorker, free_tap_address, sim_zones
    from iocwall.wall.zones.demo_detector import choose_demo_detector
    cfg = config.analytics
    if not cfg.enabled:
        return None, []
    cfg.tap_address = free_tap_address()
    chosen = choose_demo_detector(cfg.detector, cfg.weights, forced_hog=detector == "hog")
    print(f"iocwall demo: {chosen.line}", file=sys.stderr, flush=True)
    worker = DemoWorker(cfg.tap_address, chosen.kind, chosen.weights, chosen.imgsz,
                        chosen.min_score)
    worker.start()
    return worker, sim_zones(cameras, SUB.width, SUB.height)


def demo_info_route(ports: SimPorts) -> Any:
    """GET /api/demo (admin): the simulator's ports, to compare /api/queues with its /truth."""
    from starlette.responses import JSONResponse

    from iocwall.wall.access import Role, route

    async def demo_info(request: Any) -> Any:
        return JSONResponse({"sim": {"rtsp": ports.rtsp, "onvif": ports.onvif,
                                     "http": ports.http}})
    return route("/api/demo", demo_info, roles=frozenset({Role.ADMIN}), methods=["GET"])


async def _until_stop(work: Any, stop: asyncio.Event) -> bool:
    """Run ``work`` unless ``stop`` comes first; True if the work finished."""
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if task.done():
        task.result()
        return True
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return False


async def _bounded(work: Any, what: str) -> None:
    try:
        async with asyncio.timeout(STOP_TIMEOUT_S):
            await work
    except TimeoutError:
        log.warning("%s did not stop within %.0f s", what, STOP_TIMEOUT_S)
    except Exception:
        log.exception("stopping %s failed", what)


def run(args: argparse.Namespace) -> int:
    problems = _check(args)
    if problems:
        for line in problems:
            print(f"iocwall demo: {line}", file=sys.stderr)
        return 2
    missing = _missing()
    if missing:
        print(f"iocwall demo: cannot start: not built yet: {'; '.join(missing)}", file=sys.stderr)
        return 2
    from iocwall.wall.config import ConfigError, load_config
    try:
        config = load_config(args.config, host=args.host, port=args.port,
                             data_dir=args.data_dir)
    except ConfigError as exc:
        for line in str(exc).splitlines():
            print(f"iocwall demo: {line}", file=sys.stderr)
        return 2
    log_file = _setup(config)
    if log_file is False:
        return 2
    try:
        return asyncio.run(_demo(args, config, log_file))
    except OSError as exc:                # port in use, unwritable data dir ...
        print(f"iocwall demo: cannot start: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        log.exception("demo failed")
        print(f"iocwall demo: failed: {type(exc).__name__}: {exc} (details in the log)",
              file=sys.stderr)
        return 1


def _setup(config: Any) -> Path | None | Literal[False]:
    """Data dir and logging: INFO and up to the file, only warnings to the terminal."""
    from iocwall.wall.logs import setup
    from iocwall.wall.private_files import UnsafeDataDir, private_dir
    try:
        private_dir(config.data_path)     # 0700; refused if other accounts can read it
    except UnsafeDataDir as exc:
        print(f"iocwall demo: cannot start: {exc}", file=sys.stderr)
        return False
    except OSError as exc:
        print(f"iocwall demo: cannot create data dir {config.data_path}: {exc.strerror}",
              file=sys.stderr)
        return False
    log_file = config.data_path / config.logging.file if config.logging.file else None
    setup(config.logging.level, log_file, config.logging.json_lines,
          config.logging.max_bytes, config.logging.backup_count)
    for handler in logging.getLogger().handlers:
        if not isinstance(handler, logging.FileHandler):
            handler.setLevel(logging.WARNING)
    return log_file
