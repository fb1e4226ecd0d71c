"""`iocwall smoke TARGET`: the technician's hardware smoke test.

Exit codes: 0 when nothing FAILs (PASS or WARN), 1 when a check FAILs,
2 when the target cannot be tested as typed (bad URL, display nodes for now),
3 on an internal error (one line; details only with --debug logging).
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys

log = logging.getLogger(__name__)
PASSWORD_ENV = "IOCWALL_SMOKE_PASSWORD"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="TARGET",
                        help="rtsp://[user:pass@]host[:port]/path, onvif://user:pass@host:port, "
                             "or display://host:port")
    parser.add_argument("--user", help="user name (instead of user@ in the URL)")
    parser.add_argument("--password",
                        help=f"password (instead of :pass@ in the URL; or set {PASSWORD_ENV})")
    parser.add_argument("--transport", choices=("tcp", "udp", "both"), default="both",
                        help="RTP over TCP (interleaved), UDP, or both one after the other "
                             "(default both)")
    parser.add_argument("--allow-basic", action="store_true",
                        help="send the password as Basic auth (clear text) if the camera asks "
                             "for it; without this a camera that offers only Basic fails the "
                             "auth check and never sees the password")
    parser.add_argument("--seconds", type=_positive, default=5.0,
                        help="measurement window per stream and transport, seconds (default 5)")
    parser.add_argument("--timeout", type=_positive, default=5.0,
                        help="seconds to wait for each answer from the device (default 5)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args: argparse.Namespace) -> int:
    from .runner import run_smoke  # heavy imports (av, onvif) stay out of `iocwall --help`
    from .target import TargetError, parse_target

    password = args.password if args.password is not None else os.environ.get(PASSWORD_ENV)
    try:
        target = parse_target(args.target, args.user, password)
    except TargetError as exc:
        _line(f"iocwall smoke: {exc}")
        return 2
    if getattr(args, "allow_basic", False):
        target = dataclasses.replace(
            target, url=dataclasses.replace(target.url, allow_basic_auth=True))
    secret = target.url.password
    try:
        return run_smoke(target, args)
    except Exception as exc:  # noqa: BLE001 — the user gets one line, never a traceback
        log.debug("smoke test crashed", exc_info=True)
        _line(_scrub(f"iocwall smoke: internal error ({type(exc).__name__}: {exc}); "
                     "please report it", secret))
        return 3


def _line(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _scrub(text: str, secret: str | None) -> str:
    from iocwall.streams.urls import redact

    text = redact(text)
    return text.replace(secret, "***") if secret else text


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not 0 < value <= 600:
        raise argparse.ArgumentTypeError(f"{text} must be between 0 and 600 seconds")
    return value
