"""The viewer send path without a network: age drops, bounded PLI answers, pacing,
payloads made once, admission limits and offer checks (real aiortc objects throughout)."""
from __future__ import annotations

import asyncio
import dataclasses
import fractions
import threading
import time

import av
import pytest
from aiortc import RTCPeerConnection, rtcrtpsender
from aiortc.codecs.h264 import H264Encoder

from iocwall.streams import rtploop
from iocwall.streams.fanout import MAX_AGE_S, AccessUnit, Fanout
from iocwall.streams.limits import Admission, SessionLimits, WhepError, check_offer
from iocwall.streams.pools import Pool, PoolBusy
from iocwall.streams.sendpath import (
    PACE_PACKETS,
    Pacer,
    PayloadCache,
    PrepackedEncoder,
    PreparedFrame,
    use_prepacked,
)
from tests.test_streams_units import encode
from tests.waiting import wait_until


def unit(i: int, key: bool, received: float, size: int = 10) -> AccessUnit:
    return AccessUnit(bytes([i % 256]) * size, i * 3000, 1 / 90000, key, received=received)


async def test_a_viewer_behind_by_more_than_max_age_skips_to_the_next_keyframe():
    fanout = Fanout("t")
    sub = fanout.subscribe("slow", replay=False)
    old = time.monotonic() - MAX_AGE_S - 0.2
    for i in range(5):                       # a keyframe and four frames, all too old
        fanout.publish(unit(i, i == 0, old))
    fanout.publish(unit(5, False, time.monotonic()))   # fresh, but of the same GOP
    assert sub.pending() == 0 and sub.dropped_late == 6
    fanout.publish(unit(6, False, time.monotonic()))
    assert sub.pending() == 0                # still waiting for a keyframe
    fanout.publish(unit(7, True, time.monotonic()))
    assert sub.pending() == 1
    assert (await sub.get()).keyframe
    assert fanout.late_drops() == sub.dropped_late


async def test_units_that_age_in_the_queue_are_skipped_at_get():
    fanout = Fanout("t")
    sub = fanout.subscribe("slow", replay=False)
    sub.max_age_s = 0.05
    now = time.monotonic()
    fanout.publish(unit(0, True, now))
    fanout.publish(unit(1, False, now))
    await asyncio.sleep(0.1)                 # the consumer was busy
    fanout.publish(unit(2, False, time.monotonic()))   # fresh but undecodable without 0..1
    waiter = asyncio.ensure_future(sub.get())
    await asyncio.sleep(0.02)
    assert not waiter.done() and sub.dropped_late == 3
    fanout.publish(unit(3, True, time.monotonic()))
    assert (await asyncio.wait_for(waiter, 1)).pts == 9000


async def test_a_fast_viewer_loses_nothing_and_replays_are_not_late():
    fanout = Fanout("t")
    old = time.monotonic() - 5               # a cached GOP is old by design
    for i in range(4):
        fanout.publish(unit(i, i == 0, old))
    sub = fanout.subscribe("fast")
    assert sub.pending() == 4
    for i in range(4, 8):
        fanout.publish(unit(i, False, time.monotonic()))
    got = [(await sub.get()).pts for _ in range(8)]
    assert got == [i * 3000 for i in range(8)] and sub.dropped == 0


def test_picture_loss_replay_is_bounded_in_bytes():
    fanout = Fanout("t")
    now = time.monotonic()
    fanout.publish(unit(0, True, now, size=1000))
    for i in range(1, 50):
        fanout.publish(unit(i, False, now, size=1000))
    sub = fanout.subscribe("lossy", replay=False)
    assert fanout.replay_to(sub, max_bytes=10_500)
    assert sub.pending() == 10               # the keyframe and 9 more, not the 50 cached
    fanout.publish(unit(50, False, now))     # the GOP goes on without the skipped units:
    assert sub.pending() == 10               # wait for the next keyframe instead
    fanout.publish(unit(51, True, now))
    assert sub.pending() == 11


async def test_pacer_spreads_a_keyframe_over_the_nack_window_only():
    # a window long enough that a loaded machine's scheduling (tens of ms) cannot end it
    # before the burst: the first 32 packets would then not be "recent" and nothing would wait
    pacer = Pacer(window_packets=32, window_s=0.3)
    start = time.monotonic()
    for _ in range(32):                      # an ordinary frame: no wait
        await pacer.wait()
    assert pacer.waits == 0 and pacer.waited_s == 0
    assert time.monotonic() - start < pacer.window_s
    for _ in range(32):                      # a burst past the window: spread
        await pacer.wait()
    assert pacer.waits >= 1
    assert time.monotonic() - start >= 0.95 * pacer.window_s


def test_payloads_are_made_once_per_unit_and_match_aiortc():
    _, data = encode(3, global_header=False)
    units = [AccessUnit(d, i, 1 / 25, key) for i, (d, key) in enumerate(data)]
    cache = PayloadCache()
    for _ in range(3):                       # three viewers of the same stream
        for u in units:
            cache.payloads(u)
    assert cache.packed == len(units) and cache.reused == 2 * len(units)
    packet = av.Packet(units[0].data)
    packet.pts, packet.time_base = 0, fractions.Fraction(1, 90000)
    reference, _ = H264Encoder().pack(packet)
    assert reference and reference[0][0] & 0x1f == 24     # one STAP-A: SPS, PPS, IDR
    assert cache.payloads(units[0]) == reference
    frame = PreparedFrame(reference, 1234, True)

    @dataclasses.dataclass(slots=True)           # no weak references, not hashable
    class Bare:
        data: bytes
        keyframe: bool

    bare = PayloadCache()
    unit0 = Bare(units[0].data, True)
    assert bare.payloads(unit0) == reference and bare.payloads(unit0) is bare.payloads(unit0)
    assert bare.packed == 1 and bare.reused == 2
    assert PrepackedEncoder().pack(frame) == (reference, 1234)


async def test_prepacked_encoder_fits_a_real_sender():
    pc = RTCPeerConnection()
    sender = pc.addTransceiver("video", direction="sendonly").sender
    use_prepacked(sender)
    rtploop.install(sender)
    assert isinstance(sender._RTCRtpSender__encoder, PrepackedEncoder)
    assert sender._run_rtp.__qualname__.startswith("install")
    with pytest.raises(RuntimeError, match="aiortc changed"):
        rtploop.install(object())  # type: ignore[arg-type]
    # a 1080p keyframe (~160 packets) fits the retransmission history unpaced
    assert rtcrtpsender.RTP_HISTORY_SIZE >= 512 > PACE_PACKETS >= 256
    await pc.close()


def test_admission_limits_per_server_user_and_camera():
    adm = Admission(SessionLimits(per_server=3, per_user=2, per_camera=2, retry_after_s=7))
    adm.add("ann", "cam1")
    adm.add("ann", "cam2")
    with pytest.raises(WhepError) as exc:
        adm.check("ann", "cam3")
    assert exc.value.status == 503 and exc.value.retry_after_s == 7
    adm.add("bob", "cam1")
    with pytest.raises(WhepError):
        adm.check("carl", "cam3")            # the server is full
    adm.remove("ann", "cam2")
    with pytest.raises(WhepError):
        adm.check("carl", "cam1")            # cam1 is full
    adm.check("carl", "cam2")
    assert SessionLimits(0, 0, 0).per_server == 0
    Admission(SessionLimits(0, 0, 0)).check("x", "y")   # 0 = unlimited


async def test_offers_are_judged_before_anything_is_opened():
    pc = RTCPeerConnection()
    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    good = pc.localDescription.sdp
    await pc.close()
    assert check_offer(good).h264
    vp9_only = good.replace("H264/90000", "VP9/90000").replace("VP8/90000", "VP9/90000")
    cases = {"": "bad_sdp", "hello": "bad_sdp", vp9_only: "no_codec",
             good.replace("a=ice-ufrag:", "a=x-ufrag:"): "bad_sdp",
             good.replace("a=recvonly", "a=sendonly"): "bad_sdp",
             good + "a=x\r\n" * 20_000: "too_large"}
    for text, code in cases.items():
        with pytest.raises(WhepError) as exc:
            check_offer(text)
        assert exc.value.code == code, (code, exc.value.message)


async def test_a_blocking_pool_refuses_past_its_bound_instead_of_queueing():
    pool = Pool("t", workers=1, max_pending=2)
    release = threading.Event()
    busy = [asyncio.ensure_future(pool.run(release.wait, 5)) for _ in range(2)]
    await wait_until(lambda: pool.pending == 2, 5, "both calls in the pool", step=0.005)
    with pytest.raises(PoolBusy):
        await pool.run(time.sleep, 0)
    release.set()
    assert await asyncio.gather(*busy) == [True, True]
    assert await pool.run(sum, [1, 2]) == 3 and pool.refused == 1
    pool.shutdown()
