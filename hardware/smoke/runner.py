"""Runs the checks for a target in order and prints the report."""
from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from typing import Any

from iocwall.streams.clock import now_iso
from iocwall.streams.rtsp.errors import Problem
from iocwall.streams.rtsp.rtsp_client import Transport
from iocwall.streams.urls import CameraUrl, UrlError, parse, redact

from .checks import probe_rows
from .onvif_checks import probe_onvif, profile_match_row
from .probe import ProbeResult, StreamProbe
from .report import Check, Report, Result, Row, render_json, render_table
from .target import Target, TargetKind

# After these, trying the other transport would only repeat the same failure.
_FINAL = {Problem.REFUSED, Problem.TIMEOUT, Problem.UNRESOLVED, Problem.UNREACHABLE,
          Problem.HTTP, Problem.NOT_RTSP, Problem.NO_ANSWER, Problem.AUTH_NEEDED,
          Problem.AUTH_REFUSED, Problem.NOT_FOUND, Problem.NO_VIDEO}


def run_smoke(target: Target, args: argparse.Namespace) -> int:
    report = Report(target.public, now_iso())
    asyncio.run(_smoke(target, args, report))
    report.finished = now_iso()
    print(render_json(report) if args.json else render_table(report), flush=True)
    return 1 if report.verdict is Result.FAIL else 0


async def run_checks(target: Target, transport: str = "auto", seconds: float = 3.0,
                     timeout: float = 5.0, quiet: bool = True) -> Report:
    """The same checks as ``iocwall smoke TARGET``, for callers inside a server (the
    registry's "Test connection"): returns the report instead of printing it."""
    report = Report(target.public, now_iso())
    args = argparse.Namespace(transport=transport, seconds=seconds, timeout=timeout)
    # a server has no terminal to show progress on: the rows say what happened
    await _smoke(target, args, report, _silent if quiet else progress)
    report.finished = now_iso()
    return report


def _silent(text: str) -> None:
    return None


def progress(text: str) -> None:
    print(redact(text), file=sys.stderr, flush=True)


async def _smoke(target: Target, args: argparse.Namespace, report: Report,
                 say: Callable[[str], None] | None = None) -> None:
    say = say or progress
    if target.kind is TargetKind.DISPLAY:
        from iocwall.hardware.smoke.display import smoke_display
        await smoke_display(target, args.timeout, report)
    elif target.kind is TargetKind.ONVIF:
        await _smoke_onvif(target, args, report, say)
    else:
        label = target.url.path.rstrip("/").rsplit("/", 1)[-1] or target.url.path
        await _smoke_stream(target.url, label, args, report, say)


async def _smoke_stream(url: CameraUrl, label: str, args: argparse.Namespace,
                        report: Report, say: Callable[[str], None]) -> list[ProbeResult]:
    results = []
    for transport in _transports(args.transport):
        say(f"checking {label} over {transport.value} at {url.public()}…")
        probe = StreamProbe(url, label, transport, args.seconds, args.timeout, say)
        result = await probe.run()
        report.rows.extend(probe_rows(result))
        results.append(result)
        if result.error is not None and result.error.problem in _FINAL:
            break
    return results


async def _smoke_onvif(target: Target, args: argparse.Namespace, report: Report,
                       say: Callable[[str], None]) -> None:
    url = target.url
    say(f"asking {target.public} for its ONVIF profiles…")
    device, rows = await probe_onvif(url.host, url.port, url.username or "", url.password or "",
                                     args.timeout)
    report.rows.extend(rows)
    if device is None:
        return
    for profile in device.profiles:
        stream_url = _stream_url(profile, url, report)
        if stream_url is None:
            continue
        label = profile.name or profile.token
        for result in await _smoke_stream(stream_url, label, args, report, say):
            report.rows.append(profile_match_row(profile, result))


def _stream_url(profile: Any, onvif_url: CameraUrl, report: Report) -> CameraUrl | None:
    if not profile.stream_uri:
        return None
    try:
        # The ONVIF credentials are the camera's; RTSP on the same camera takes the same ones.
        return parse(profile.stream_uri, onvif_url.username, onvif_url.password,
                     allow_basic_auth=onvif_url.allow_basic_auth)
    except UrlError as exc:
        report.rows.append(Row(profile.name or profile.token, Check.PROFILE_MATCH, Result.FAIL,
                               "bad URI", f"the device reported an unusable stream URI: {exc}"))
        return None


def _transports(choice: str) -> list[Transport]:
    return {"tcp": [Transport.TCP], "udp": [Transport.UDP]}.get(
        choice, [Transport.TCP, Transport.UDP])
