"""The one entry point: ``iocwall <command>``.

Each command lives in its own module exposing ``add_arguments(parser)`` and
``run(args) -> int``. Those modules import heavy libraries inside ``run`` so
that ``iocwall --help`` stays instant.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# command -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("iocwall.wall.demo", "simulator + server + demo data on this machine; opens /live"),
    "serve": ("iocwall.wall.serve", "run the server (media + controller + web) from config.toml"),
    "cluster-demo": ("iocwall.wall.cluster_demo.command",
                     "PostgreSQL + Redis + HAProxy + two controllers + simulator on this machine"),
    "sim": ("iocwall.hardware.sim.command", "camera simulator: RTSP + ONVIF + WS-Discovery"),
    "registry": ("iocwall.wall.registry.command", "camera registry tasks: rotate-key"),
    "store": ("iocwall.wall.store.command", "store tasks: copy a SQLite site into PostgreSQL"),
    "smoke": ("iocwall.hardware.smoke.command", "hardware smoke test of a camera or display node"),
    "media-node": ("iocwall.wall.media_node_command",
                   "media node for controllers on other machines ([media_node], [cluster])"),
    "worker": ("iocwall.wall.worker_command", "analytics worker (people counting per counter)"),
    "display-agent": ("iocwall.hardware.display_agent", "display PC agent: a kiosk per monitor"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="iocwall",
        description="iocwall: operations-centre video wall and camera monitoring.",
    )
    subs = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        sub = subs.add_parser(name, help=help_text, description=help_text)
        module = importlib.import_module(module_name)
        module.add_arguments(sub)
        sub.set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._module.run(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
