""""Test connection": the same checks as ``iocwall smoke`` (its runner, not a copy), on each
of a camera's streams, summed up and stored with a timestamp; and the per-province checklist."""
from __future__ import annotations

from typing import Any

from iocwall.hardware.smoke.report import Check, Report, Result, Row
from iocwall.streams.urls import UrlError, parse
from iocwall.wall.registry import validation as check
from iocwall.wall.registry.crypto import Credentials
from iocwall.wall.registry.model import RegisteredCamera


async def run_test(cam: RegisteredCamera, creds: Credentials, declared_bps: int | None,
                   seconds: float, timeout: float) -> tuple[Report, dict[str, Any]]:
    """Smoke-check every stream of ``cam`` (and its ONVIF service); returns (report, summary)."""
    from iocwall.hardware.smoke.onvif_checks import probe_onvif
    from iocwall.hardware.smoke.runner import run_checks
    from iocwall.hardware.smoke.target import Target, TargetKind

    report = Report(cam.id, "")
    user, password = creds.username or None, creds.password or None
    for stream, url in (("main", cam.rtsp_main), ("sub", cam.rtsp_sub)):
        if not url:
            continue
        try:
            target = Target(TargetKind.RTSP, parse(url, user, password,
                                                   allow_basic_auth=cam.allow_basic_auth))
        except UrlError as exc:
            report.rows.append(Row(stream, Check.REACH, Result.FAIL, "bad URL", str(exc)))
            continue
        part = await run_checks(target, cam.transport.value, seconds, timeout)
        report.started = report.started or part.started
        report.finished = part.finished
        report.rows += [Row(f"{stream}: {r.stream}", r.check, r.result, r.value, r.hint)
                        for r in part.rows]
    if cam.onvif:
        host, port = check.host_port(cam.onvif)
        _, rows = await probe_onvif(host, port, creds.username, creds.password, timeout)
        report.rows += rows
    return report, summarise(report, declared_bps)


def summarise(report: Report, declared_bps: int | None) -> dict[str, Any]:
    """What the checklist shows: status, reachability, bitrate vs declared, codec, size,
    and the transport that worked."""
    main = [r for r in report.rows if r.stream.startswith("main")]
    reachable = any(r.check is Check.REACH and r.result is Result.PASS for r in report.rows)
    bitrate = _first(main, Check.BITRATE)
    measured = _bps(bitrate.value) if bitrate else None
    worked = next((r.stream.split()[-1].lower() for r in report.rows
                   if r.check is Check.HANDSHAKE and r.result is Result.PASS), None)
    codec, size = _first(main, Check.CODEC), _first(main, Check.RESOLUTION)
    return {
        "status": report.verdict.value,
        "reason": report.reason,
        "reachable": reachable,
        "streaming": bitrate is not None and (measured or 0) > 0,
        "bitrate_bps": measured,
        "declared_bps": declared_bps,
        "bitrate_share_of_declared": round(measured / declared_bps, 4)
        if measured and declared_bps else None,
        "codec": codec.value if codec else None,
        "resolution": size.value if size else None,
        "transport": worked,
    }


def _first(rows: list[Row], which: Check) -> Row | None:
    return next((r for r in rows if r.check is which), None)


def _bps(text: str) -> int | None:
    try:
        return check.bandwidth(text)
    except ValueError:
        return None


def checklist_row(cam: RegisteredCamera, media_state: str | None) -> dict[str, Any]:
    """One line of a province's checklist: registered, reachable, streaming, on the wall."""
    test = cam.last_test or {}
    live = media_state == "live"
    return {
        "id": cam.id, "name": cam.name, "location": cam.location, "centre": cam.centre,
        "registered": True,
        "reachable": True if live else test.get("reachable"),      # None = not tested yet
        "streaming": True if live else test.get("streaming"),
        "on_wall": "unknown",            # walls and layouts do not exist yet
        "media_state": media_state,
        "last_test": test or None,
    }
