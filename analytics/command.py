"""``iocwall worker``: the analytics worker. Not built yet: it has its own issue."""
from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="path to YOLO weights (never downloaded)")


def run(args: argparse.Namespace) -> int:
    print("iocwall worker: not yet available (the analytics worker has its own issue)",
          file=sys.stderr)
    return 2
