"""``iocwall display-agent``: on a display PC, one kiosk chromium window per monitor.

    iocwall display-agent --controller http://ioc-server:8080

``--controller`` may be given several times (controllers of one site, first used first):
when the one in use stops answering, the agent reopens its windows on the next.

finds the monitors with xrandr, pairs with the controller (the code shows on the first
monitor; an admin approves it in the console), then opens each bound monitor's display
page full-screen, restarts a window that crashes, and answers GET /health on
--health-port for ``iocwall smoke display://host:port``.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from iocwall.hardware.display.xrandr import Output

DEFAULT_HEALTH_PORT = 8765


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--controller", required=True, action="append",
                        help="URL of a wall controller (repeatable: the agent moves to the "
                             "next one when the one in use stops answering)")
    parser.add_argument("--state-dir", default=str(Path.home() / ".local/state/iocwall-agent"),
                        help="where the pairing state and browser profiles are kept")
    parser.add_argument("--browser", default="/usr/bin/chromium", help="chromium binary")
    parser.add_argument("--browser-arg", action="append", default=[],
                        help="extra chromium argument (repeatable)")
    parser.add_argument("--display", help="X display (default: $DISPLAY)")
    parser.add_argument("--xrandr-file", help="read xrandr --query output from this file "
                        "instead of running xrandr (tests, headless setups)")
    parser.add_argument("--health-host", default="0.0.0.0", help="address of GET /health")
    parser.add_argument("--health-port", type=int, default=DEFAULT_HEALTH_PORT,
                        help=f"port of GET /health (default {DEFAULT_HEALTH_PORT})")


def run(args: argparse.Namespace) -> int:
    from iocwall.hardware.display import xrandr
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        if args.xrandr_file:
            outputs = xrandr.parse(Path(args.xrandr_file).read_text(encoding="utf-8"))
        else:
            outputs = xrandr.query(args.display)
    except (OSError, xrandr.XrandrError) as exc:
        print(f"iocwall display-agent: cannot list monitors: {exc}", file=sys.stderr)
        return 2
    if not outputs:
        print("iocwall display-agent: no connected monitor found", file=sys.stderr)
        return 2
    try:
        asyncio.run(_main(args, outputs))
    except OSError as exc:
        print(f"iocwall display-agent: {exc}", file=sys.stderr)
        return 1
    except RuntimeError as exc:
        print(f"iocwall display-agent: {exc}", file=sys.stderr)
        return 1
    return 0


async def _main(args: argparse.Namespace, outputs: list[Output]) -> None:
    import os

    from iocwall.hardware.display.agent import Agent, serve_health
    from iocwall.hardware.display.kiosk import Kiosks

    env = dict(os.environ)
    if args.display:
        env["DISPLAY"] = args.display
    kiosks = Kiosks(args.browser, env, tuple(args.browser_arg))
    state = Path(args.state_dir)
    agent = Agent(args.controller, outputs, state / "agent.json", kiosks, state / "profiles")
    server = await serve_health(agent, args.health_host, args.health_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await agent.run(stop)
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await server.wait_closed()
