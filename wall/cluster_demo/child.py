"""What the cluster demo runs as children besides Debian's servers:

    python -m iocwall.wall.cluster_demo.child sim --cameras N --rtsp-port P ...
        `iocwall sim`, with the camera password from IOCWALL_DEMO_CAMERA_PASSWORD (a
        command-line argument would show in `ps` to every account).
    python -m iocwall.wall.cluster_demo.child controller --config PATH [--seed N --sim-rtsp P]
        `iocwall serve --config PATH`; with --seed, once started it registers the
        simulator's N cameras and makes the demo wall, exactly as `iocwall demo` does
        (wall/demo.register_demo_cameras): only the first controller seeds.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

PASSWORD_ENV = "IOCWALL_DEMO_CAMERA_PASSWORD"


def _sim(argv: list[str]) -> int:
    from iocwall.hardware.sim import command
    parser = argparse.ArgumentParser(prog="iocwall cluster-demo sim")
    command.add_arguments(parser)
    args = parser.parse_args(argv)
    args.password = os.environ.get(PASSWORD_ENV, "")
    args.user = "demo" if args.password else ""
    return command.run(args)


def _controller(argv: list[str]) -> int:
    from iocwall.wall import serve
    parser = argparse.ArgumentParser(prog="iocwall cluster-demo controller")
    serve.add_arguments(parser)
    parser.add_argument("--seed", type=int, default=0, help="register N simulated cameras")
    parser.add_argument("--sim-rtsp", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.seed:
        return serve.run(args)
    from iocwall.wall.config import load_config
    from iocwall.wall.logs import setup
    from iocwall.wall.private_files import private_dir
    config = load_config(args.config)
    private_dir(config.data_path)
    log_file = config.data_path / config.logging.file if config.logging.file else None
    setup(config.logging.level, log_file, config.logging.json_lines,
          config.logging.max_bytes, config.logging.backup_count)
    asyncio.run(_seeded(config, args.seed, args.sim_rtsp))
    return 0


async def _seeded(config: Any, count: int, rtsp_port: int) -> None:
    from iocwall.wall.demo import camera_configs, register_demo_cameras
    from iocwall.wall.serve import run_server
    cameras = camera_configs(count, rtsp_port, os.environ.get(PASSWORD_ENV, ""))
    await run_server(config, setup=lambda services: register_demo_cameras(services, cameras))


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("sim", "controller"):
        print("usage: python -m iocwall.wall.cluster_demo.child sim|controller ...",
              file=sys.stderr)
        return 2
    return (_sim if argv[0] == "sim" else _controller)(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
