"""Runs the checks for a target in order and prints the report."""
from __future__ import annotations

import argparse
import asyncio
import sys
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


def progress(text: str) -> None:
    print(redact(text), file=sys.stderr, flush=True)


async def _smoke(target: Target, args: argparse.Namespace, report: Report) -> None:
    if target.kind is TargetKind.ONVIF:
        await _smoke_onvif(target, args, report)
    else:
        label = target.url.path.rstrip("/").rsplit("/", 1)[-1] or target.url.path
        await _smoke_stream(target.url, label, args, report)


async def _smoke_stream(url: CameraUrl, label: str, args: argparse.Namespace,
                        report: Report) -> list[ProbeResult]:
    results = []
    for transport in _transports(args.transport):
        progress(f"checking {label} over {transport.value} at {url.public()}…")
        probe = StreamProbe(url, label, transport, args.seconds, args.timeout, progress)
        result = await probe.run()
        report.rows.extend(probe_rows(result))
        results.append(result)
        if result.error is not None and result.error.problem in _FINAL:
            break
    return results


async def _smoke_onvif(target: Target, args: argparse.Namespace, report: Report) -> None:
    url = target.url
    progress(f"asking {target.public} for its ONVIF profiles…")
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
        for result in await _smoke_stream(stream_url, label, args, report):
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
