"""`iocwall serve`: placeholder until its issue lands; its owner replaces this module."""
from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    print("iocwall serve: not yet available", file=sys.stderr)
    return 2
