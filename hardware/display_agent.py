"""``iocwall display-agent``: kiosk windows on a display PC. Not built yet: the wall issue."""
from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--controller", help="URL of the wall controller")
    parser.add_argument("--token", help="display-node token")


def run(args: argparse.Namespace) -> int:
    print("iocwall display-agent: not yet available (it comes with the wall controller issue)",
          file=sys.stderr)
    return 2
