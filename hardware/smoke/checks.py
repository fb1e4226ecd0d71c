"""Observations of one stream probe -> report rows with PASS / WARN / FAIL and a hint.

Thresholds are the ones a control room cares about: a new viewer must see a
picture within a couple of seconds (GOP, time to first frame), video must be
continuous and decodable, and latency must let an operator react.
"""
from __future__ import annotations

import statistics
from itertools import pairwise

from iocwall.streams.rtsp.auth import AuthScheme
from iocwall.streams.rtsp.errors import Problem
from iocwall.streams.rtsp.rtsp_client import Transport
from iocwall.streams.rtsp.sps import Sps, SpsError, parse_sps

from .probe import ProbeResult
from .report import Check, Result, Row

_CONNECT_PROBLEMS = {Problem.REFUSED, Problem.TIMEOUT, Problem.UNRESOLVED, Problem.UNREACHABLE}
_AUTH_PROBLEMS = {Problem.AUTH_NEEDED, Problem.AUTH_REFUSED}
GOP_PASS_S, GOP_WARN_S = 2.5, 10.0
TTFF_PASS_S, TTFF_WARN_S = 2.0, 5.0
LATENCY_PASS_MS, LATENCY_WARN_MS = 500.0, 2000.0
LOSS_PASS, LOSS_WARN = 0.005, 0.05
FPS_WARN = 10.0
CORRUPT_WARN_SHARE = 0.02  # up to 2% of pictures damaged is a WARN; more is a FAIL


def probe_rows(r: ProbeResult) -> list[Row]:
    """All rows for one probe; after a failure, only the rows up to it."""
    rows = [_reach(r)]
    if r.connect_s is None:
        return rows
    rows += _handshake(r)
    if not r.handshake_ok:
        return rows
    rows += [_codec(r), _continuity(r)]
    if r.packets == 0:
        return rows
    h264 = r.track is not None and r.track.encoding == "H264"
    for check, build in _MEDIA_CHECKS:
        if h264 or check not in _H264_ONLY:
            rows.append(build(r))
        else:
            rows.append(row(r, check, Result.SKIP, "—", "checked for H.264 streams only"))
    return rows


def row(r: ProbeResult, check: Check, result: Result, value: str = "", hint: str = "") -> Row:
    return Row(f"{r.label} {r.transport.value}", check, result, value, hint)


def _reach(r: ProbeResult) -> Row:
    if r.connect_s is not None:
        return row(r, Check.REACH, Result.PASS, f"{r.connect_s * 1000:.1f} ms")
    assert r.error is not None
    return row(r, Check.REACH, Result.FAIL, r.error.problem.value, r.error.message)


def _handshake(r: ProbeResult) -> list[Row]:
    err = r.error if r.failed_step == "handshake" else None
    auth_value = r.auth.value
    if err is not None:
        where = f"{err.problem.value} at {err.method}" if err.method else err.problem.value
        rows = [row(r, Check.HANDSHAKE, Result.FAIL, where, err.message)]
        if err.problem in _AUTH_PROBLEMS:
            rows.append(row(r, Check.AUTH, Result.FAIL, auth_value, "credentials refused"))
        return rows
    rows = [row(r, Check.HANDSHAKE, Result.PASS, "OPTIONS DESCRIBE SETUP PLAY")]
    if r.auth is AuthScheme.DIGEST:
        rows.append(row(r, Check.AUTH, Result.PASS, "Digest"))
    elif r.auth is AuthScheme.BASIC:
        rows.append(row(r, Check.AUTH, Result.WARN, "Basic",
                        "Basic sends the password in clear text: enable Digest on the camera"))
    else:
        rows.append(row(r, Check.AUTH, Result.WARN, "none",
                        "the stream needs no password: anyone on the network can watch it"))
    return rows


def stream_sps(r: ProbeResult) -> Sps | None:
    """The SPS in force at the end of the window (in-band wins over the SDP)."""
    for nal in reversed(r.sps):
        try:
            return parse_sps(nal)
        except SpsError:
            continue
    return None


def _codec(r: ProbeResult) -> Row:
    assert r.track is not None
    enc = r.track.encoding or "unknown"
    if enc != "H264":
        return row(r, Check.CODEC, Result.WARN, enc,
                   "not H.264: browsers need a transcode; frame checks are skipped")
    sps = stream_sps(r)
    if sps is None:
        return row(r, Check.CODEC, Result.WARN, "H.264 (no SPS)",
                   "no sprop-parameter-sets in the SDP and no SPS in the stream")
    value = f"H.264 {sps.profile}, level {sps.level}"
    if sps.profile_idc not in (66, 77, 100):
        return row(r, Check.CODEC, Result.WARN, value,
                   "browsers decode Baseline/Main/High only: set the camera to High or Main")
    return row(r, Check.CODEC, Result.PASS, value)


def _continuity(r: ProbeResult) -> Row:
    if r.stalled_after is not None and r.stall_gap is not None:
        if r.packets == 0:
            udp = " (a firewall/NAT may block UDP: try --transport tcp)" \
                if r.transport is Transport.UDP else ""
            return row(r, Check.CONTINUITY, Result.FAIL, "no packets",
                       f"stream stalled after 0.0 s: PLAY was accepted but no video came for "
                       f"{r.stall_gap:.1f} s{udp}")
        return row(r, Check.CONTINUITY, Result.FAIL, f"gap {r.stall_gap:.1f} s",
                   f"stream stalled after {r.stalled_after:.1f} s: no packets for "
                   f"{r.stall_gap:.1f} s while the connection stayed open")
    if r.dropped_after is not None:
        return row(r, Check.CONTINUITY, Result.FAIL, f"closed at {r.dropped_after:.1f} s",
                   f"the camera closed the connection after {r.dropped_after:.1f} s of streaming")
    if r.error is not None:
        return row(r, Check.CONTINUITY, Result.FAIL, r.error.problem.value, r.error.message)
    return row(r, Check.CONTINUITY, Result.PASS, f"{r.seconds:g} s without a gap")


def _resolution(r: ProbeResult) -> Row:
    sps, sizes = stream_sps(r), r.decode.sizes
    if not sizes:
        value = f"{sps.width}x{sps.height} (SPS)" if sps else "unknown"
        return row(r, Check.RESOLUTION, Result.FAIL if sps is None else Result.WARN, value,
                   "no picture could be decoded")
    w, h = sizes[-1]
    if len(sizes) > 1:
        first = "x".join(map(str, sizes[0]))
        return row(r, Check.RESOLUTION, Result.WARN, f"{w}x{h}",
                   f"resolution changed during the window (was {first}): viewers will re-negotiate")
    if sps is not None and (sps.width, sps.height) != (w, h):
        return row(r, Check.RESOLUTION, Result.FAIL, f"{w}x{h}",
                   f"decoded pictures are {w}x{h} but the SPS says {sps.width}x{sps.height}")
    return row(r, Check.RESOLUTION, Result.PASS, f"{w}x{h}")


def media_span(r: ProbeResult) -> float:
    if r.first_packet_at is None or r.last_packet_at is None:
        return 0.0
    return max(r.last_packet_at - r.first_packet_at, 1e-3)


def measured_fps(r: ProbeResult) -> float | None:
    units = r.units
    if len(units) < 2:
        return None
    span = units[-1].arrived - units[0].arrived
    return (len(units) - 1) / span if span > 0 else None


def _fps(r: ProbeResult) -> Row:
    fps = measured_fps(r)
    if fps is None:
        return row(r, Check.FPS, Result.FAIL, "—", "fewer than two pictures arrived")
    value = f"{fps:.1f} fps"
    if fps < 1.0:
        return row(r, Check.FPS, Result.FAIL, value, "under 1 picture per second")
    if fps < FPS_WARN:
        return row(r, Check.FPS, Result.WARN, value, "low frame rate: motion will look choppy")
    return row(r, Check.FPS, Result.PASS, value)


def _bitrate(r: ProbeResult) -> Row:
    kbps = r.payload_bytes * 8 / media_span(r) / 1000
    value = f"{kbps / 1000:.2f} Mbit/s" if kbps >= 1000 else f"{kbps:.0f} kbit/s"
    return row(r, Check.BITRATE, Result.PASS, value)


def _gop(r: ProbeResult) -> Row:
    keys = [u.timestamp for u in r.units if u.keyframe]
    rate = r.track.clock_rate if r.track else 90000
    if not keys:
        bad = Result.FAIL if r.seconds >= GOP_WARN_S else Result.WARN
        return row(r, Check.GOP, bad, "no keyframe",
                   f"no keyframe in {r.seconds:g} s: a new viewer waits; set GOP to 1-2 s")
    if len(keys) < 2:
        return row(r, Check.GOP, Result.WARN, f"> {media_span(r):.1f} s",
                   "only one keyframe in the window: set the camera's GOP to 1-2 s")
    gaps = [((b - a) & 0xFFFFFFFF) / rate for a, b in pairwise(keys)]
    gop = max(gaps)
    value = f"{statistics.mean(gaps):.2f} s (max {gop:.2f} s)"
    if gop > GOP_WARN_S:
        return row(r, Check.GOP, Result.FAIL, value, "keyframes too rare: set GOP to 1-2 s")
    if gop > GOP_PASS_S:
        return row(r, Check.GOP, Result.WARN, value, "new viewers wait for a keyframe: GOP 1-2 s")
    return row(r, Check.GOP, Result.PASS, value)


def _timestamps(r: ProbeResult) -> Row:
    rate = r.track.clock_rate if r.track else 90000
    steps = [((b.timestamp - a.timestamp + 0x80000000) & 0xFFFFFFFF) - 0x80000000
             for a, b in pairwise(r.units)]
    # B-frames legitimately step back a little; a jump of a second or more is a broken clock.
    backward = [s for s in steps if s < 0]
    big = [s for s in steps if abs(s) >= rate]
    if not steps:
        return row(r, Check.TIMESTAMPS, Result.SKIP, "—", "too few pictures")
    if big or (backward and not r.decode.b_frames):
        return row(r, Check.TIMESTAMPS, Result.FAIL, f"{len(backward)} back, {len(big)} jumps",
                   "RTP timestamps go backwards or jump: players will stutter or freeze")
    arrival = r.units[-1].arrived - r.units[0].arrived
    media = sum(steps) / rate
    drift = (media - arrival) / arrival if arrival > 0.5 else 0.0
    value = f"monotonic, clock {drift * 100:+.1f}%"
    if abs(drift) > 0.05:
        return row(r, Check.TIMESTAMPS, Result.WARN, value,
                   "RTP clock runs at a different speed than the wall clock")
    return row(r, Check.TIMESTAMPS, Result.PASS, value)


def _loss(r: ProbeResult) -> Row:
    seq = r.sequence
    share = seq.lost / seq.expected if seq.expected else 0.0
    value = f"{seq.lost}/{seq.expected} ({share * 100:.2f}%)"
    where = "the network or our receive buffer" if r.transport is Transport.UDP else "the camera"
    if share >= LOSS_WARN:
        return row(r, Check.LOSS, Result.FAIL, value,
                   f"packets lost in {where}; try --transport tcp")
    if share > LOSS_PASS:
        return row(r, Check.LOSS, Result.WARN, value, f"some packets lost in {where}")
    return row(r, Check.LOSS, Result.PASS, value)


def _corruption(r: ProbeResult) -> Row:
    d = r.decode
    bad_pictures = d.corrupt_frames + d.decode_errors
    pictures = max(len(r.units), 1)
    value = (f"{r.corrupt_payloads + r.bad_rtp} bad packets, {d.decode_errors} undecodable, "
             f"{d.corrupt_frames} damaged of {len(r.units)} pictures")
    if d.dropped:
        value += f", {d.dropped} skipped (decoder busy)"
    if not (r.corrupt_payloads or bad_pictures or r.bad_rtp):
        return row(r, Check.CORRUPT, Result.PASS, f"0 errors in {len(r.units)} pictures")
    share = bad_pictures / pictures
    if share > CORRUPT_WARN_SHARE or r.corrupt_payloads > 10:
        return row(r, Check.CORRUPT, Result.FAIL, value,
                   f"corrupt video: {r.corrupt_payloads + r.bad_rtp} bad packets, "
                   f"{bad_pictures} of {len(r.units)} pictures damaged")
    return row(r, Check.CORRUPT, Result.WARN, value, "a few damaged packets or pictures")


def _ttff(r: ProbeResult) -> Row:
    first, play = r.decode.first_frame_at, r.play_at
    if first is None or play is None:
        return row(r, Check.TTFF, Result.FAIL, "no frame", "no picture could be decoded")
    ttff = first - play
    value = f"{ttff * 1000:.0f} ms"
    if ttff > TTFF_WARN_S:
        return row(r, Check.TTFF, Result.FAIL, value, "slow start: shorten the GOP to 1-2 s")
    if ttff > TTFF_PASS_S:
        return row(r, Check.TTFF, Result.WARN, value, "slow start: shorten the GOP to 1-2 s")
    return row(r, Check.TTFF, Result.PASS, value)


def _latency(r: ProbeResult) -> Row:
    values = sorted(r.decode.latencies_ms)
    if not values:
        return row(r, Check.LATENCY, Result.SKIP, "—", "no frame stamp in the picture")
    p50 = values[len(values) // 2]
    p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
    value = f"p50 {p50:.0f} ms, p95 {p95:.0f} ms ({len(values)} frames)"
    if p50 < -50:
        return row(r, Check.LATENCY, Result.WARN, value,
                   "the stamp is ahead of our clock: synchronise both clocks (NTP)")
    if p95 > LATENCY_WARN_MS:
        return row(r, Check.LATENCY, Result.FAIL, value, "too much delay for live monitoring")
    if p95 > LATENCY_PASS_MS:
        return row(r, Check.LATENCY, Result.WARN, value, "noticeable delay")
    return row(r, Check.LATENCY, Result.PASS, value)


_MEDIA_CHECKS = [(Check.RESOLUTION, _resolution), (Check.FPS, _fps), (Check.BITRATE, _bitrate),
                 (Check.GOP, _gop), (Check.TIMESTAMPS, _timestamps), (Check.LOSS, _loss),
                 (Check.CORRUPT, _corruption), (Check.TTFF, _ttff), (Check.LATENCY, _latency)]
_H264_ONLY = {Check.RESOLUTION, Check.GOP, Check.CORRUPT, Check.TTFF, Check.LATENCY}
