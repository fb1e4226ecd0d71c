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
    summary = summarise(report, declared_bps)
    summary["explain"] = explain(report, seconds)
    return report, summary


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


def explain(report: Report, seconds: float) -> dict[str, str]:
    """The one reason a registrar reads, in both languages, with a code the page keys on:
    ok, wrong_password, unreachable, no_picture, bad_url, or other (the first failure)."""
    rows = report.rows
    failed = [r for r in rows if r.result is Result.FAIL]
    if not failed:
        return {"code": "ok", "vi": "Kết nối được, có hình.", "en": "Connected, picture received."}
    if any(r.check is Check.AUTH for r in failed):
        return {"code": "wrong_password",
                "vi": "Sai tài khoản hoặc mật khẩu camera: camera từ chối đăng nhập.",
                "en": "Wrong user name or password: the camera refused the login."}
    if any(r.value == "bad URL" for r in failed):
        return {"code": "bad_url", "vi": "Địa chỉ RTSP không hợp lệ.",
                "en": "The RTSP address is not valid."}
    reached = any(r.check is Check.REACH and r.result is Result.PASS for r in rows)
    if not reached and any(r.check in (Check.REACH, Check.ONVIF_DEVICE) for r in failed):
        return {"code": "unreachable",
                "vi": "Không tới được địa chỉ: không có gì trả lời ở địa chỉ và cổng này "
                      "(kiểm tra địa chỉ, cổng, tường lửa, VPN).",
                "en": "Address unreachable: nothing answers at this address and port "
                      "(check the address, port, firewall, VPN)."}
    if _first(rows, Check.BITRATE) is None or any(
            r.check is Check.TTFF and r.value == "no frame" for r in failed):
        n = f"{seconds:g}"
        return {"code": "no_picture",
                "vi": f"Không có hình: camera không gửi khung hình nào trong {n} giây.",
                "en": f"No picture: the camera sent no frame in {n} s."}
    first = failed[0]
    return {"code": "other", "vi": f"{first.check.label}: {first.hint or first.value}",
            "en": f"{first.check.label}: {first.hint or first.value}"}


def _first(rows: list[Row], which: Check) -> Row | None:
    return next((r for r in rows if r.check is which), None)


def _bps(text: str) -> int | None:
    try:
        return check.bandwidth(text)
    except ValueError:
        return None


def checklist_row(cam: RegisteredCamera, media_state: str | None,
                  on_wall: bool | None = None) -> dict[str, Any]:
    """One line of a province's checklist: registered, reachable, streaming, on the wall."""
    test = cam.last_test or {}
    live = media_state == "live"
    return {
        "id": cam.id, "name": cam.name, "location": cam.location, "centre": cam.centre,
        "registered": True,
        "reachable": True if live else test.get("reachable"),      # None = not tested yet
        "streaming": True if live else test.get("streaming"),
        "on_wall": on_wall,              # None: no wall controller to ask
        "media_state": media_state,
        "last_test": test or None,
    }
