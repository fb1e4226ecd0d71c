"""`iocwall sim`: the camera simulator (RTSP + HTTP control; ONVIF + WS-Discovery
when those modules are present). Prints one line per camera, then READY.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def default_cache_dir() -> Path:
    """Where pre-encoded loops are kept between runs (encoding 1080p takes a while).

    ``$IOCWALL_SIM_CACHE``, else ``$XDG_CACHE_HOME/iocwall/sim`` (``~/.cache/iocwall/sim``):
    the user's cache, shared by ``iocwall sim``, ``iocwall demo`` and the tests, never the
    checkout, so a fresh clone (and CI, which starts with an empty XDG_CACHE_HOME) encodes
    cold exactly as a newcomer's first run does.
    """
    if os.environ.get("IOCWALL_SIM_CACHE"):
        return Path(os.environ["IOCWALL_SIM_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "iocwall" / "sim"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cameras", type=int, default=4, help="number of cameras (1-64)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--rtsp-port", type=int, default=8554)
    parser.add_argument("--onvif-port", type=int, default=8000)
    parser.add_argument("--http-port", type=int, default=8001,
                        help="ground truth and fault control")
    parser.add_argument("--discovery-port", type=int, default=3702, help="WS-Discovery (unicast)")
    parser.add_argument("--user", default="", help="camera user (empty: no authentication)")
    parser.add_argument("--password", default="")
    parser.add_argument("--live", action="store_true",
                        help="render and encode in real time "
                             "(few cameras; true capture-time stamp)")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="where pre-encoded loops are kept between runs "
                             "(default: $XDG_CACHE_HOME/iocwall/sim)")
    parser.add_argument("--truth-file", type=Path, help="append ground truth as JSON lines, 1/s")
    parser.add_argument("--fault", action="append", default=[], metavar="camK:KIND[:SECONDS]",
                        help="start with a fault: drop, stall, corrupt, reboot, resolution, "
                             "reject_auth")
    parser.add_argument("--session-timeout", type=float, default=60.0,
                        help="seconds before a silent RTSP session is dropped")
    parser.add_argument("--scenes", type=int, default=4,
                        help="distinct scenes shared by the cameras")


def _check(args: argparse.Namespace) -> list[str]:
    problems = []
    if not 1 <= args.cameras <= 64:
        problems.append("--cameras must be between 1 and 64")
    for name in ("rtsp_port", "onvif_port", "http_port", "discovery_port"):
        if not 0 < getattr(args, name) < 65536:
            problems.append(f"--{name.replace('_', '-')} must be a port number (1-65535)")
    if len({args.rtsp_port, args.onvif_port, args.http_port}) < 3:
        problems.append("--rtsp-port, --onvif-port and --http-port must differ")
    if args.password and not args.user:
        problems.append("--password needs --user")
    if not 1 <= args.session_timeout <= 3600:
        problems.append("--session-timeout must be between 1 and 3600 seconds")
    if args.live and args.cameras > 4:
        problems.append("--live renders in real time: use at most 4 cameras")
    return problems


def run(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    from .faults import FaultError, parse_flag

    problems = _check(args)
    try:
        faults = [parse_flag(f, args.cameras) for f in args.fault]
    except FaultError as exc:
        problems.append(str(exc))
    if problems:
        for line in problems:
            print(f"iocwall sim: {line}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return asyncio.run(_serve(args, faults))
    except OSError as exc:
        print(f"iocwall sim: cannot listen: {exc.strerror or exc}; is another simulator running?",
              file=sys.stderr)
        return 1


async def _serve(args: argparse.Namespace, faults: list) -> int:  # type: ignore[type-arg]
    import asyncio
    import signal

    from .server import SimOptions, Simulator

    options = SimOptions(args.cameras, args.host, args.rtsp_port, args.onvif_port, args.http_port,
                         args.discovery_port, args.user, args.password, args.live,
                         args.cache_dir or default_cache_dir(),
                         args.truth_file, faults, args.session_timeout, args.scenes)
    sim = Simulator(options)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await sim.start()
        base = f"rtsp://{args.host}:{args.rtsp_port}"
        for info in sim.camera_info():
            print(f"{info.name}: {base}{info.main_path} ({info.main_width}x{info.main_height}) "
                  f"{base}{info.sub_path} ({info.sub_width}x{info.sub_height})", flush=True)
        onvif = f"http://{args.host}:{args.onvif_port}/onvif/device_service" if sim.onvif else "off"
        print(f"control: http://{args.host}:{args.http_port}/truth  onvif: {onvif}", flush=True)
        print("READY", flush=True)
        await stop.wait()
    finally:
        await sim.stop()
    return 0
