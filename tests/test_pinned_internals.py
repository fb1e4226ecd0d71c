"""The aioice and aiortc internals we patch or read still have the shape we rely on.

streams/ice.py replaces ``Connection.get_component_candidates`` per instance and
reads ``_local_candidates_start``, ``_protocols`` and ``RTCIceGatherer._connection``;
streams/track.py replaces ``RTCRtpSender._send_keyframe`` and hands the sender
``av.Packet``s; streams/whep.py appends to ``aiortc.codecs.CODECS``. Both packages
are pinned exactly in pyproject.toml. When a release moves one of these, each
check below fails with a message naming the internal and the file that uses it,
instead of WebRTC quietly gathering the wrong addresses or ignoring keyframe
requests.
"""
from __future__ import annotations

import importlib.metadata
import inspect
import re
import tomllib
from collections.abc import Callable
from pathlib import Path

import aioice.ice as ice
import pytest
from aiortc import RTCPeerConnection, RTCRtpSender
from aiortc.codecs import CODECS
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

REPO = Path(__file__).resolve().parent.parent


def _moved(internal: str, user: str, detail: str) -> str:
    return (f"PINNED INTERNAL MOVED: {internal} (used by {user}): {detail}. Re-check the patch "
            f"against the new release before changing the pin in pyproject.toml.")


def _params(function: Callable[..., object]) -> list[str]:
    return list(inspect.signature(function).parameters)


@pytest.mark.parametrize("distribution", ["aioice", "aiortc"])
def test_installed_version_is_the_pinned_one(distribution: str) -> None:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = [d for d in deps if re.match(rf"{distribution}\s*==", d)]
    assert len(pins) == 1, f"{distribution} must be pinned exactly (==) in pyproject.toml"
    pinned = pins[0].split("==", 1)[1].strip()
    installed = importlib.metadata.version(distribution)
    assert installed == pinned, _moved(distribution, "streams/", f"installed {installed}, "
                                       f"the patches were checked against {pinned}")


def test_aioice_gathering_hook_has_the_patched_signature() -> None:
    method = ice.Connection.get_component_candidates
    assert inspect.iscoroutinefunction(method), _moved(
        "aioice.ice.Connection.get_component_candidates", "streams/ice.py", "not a coroutine")
    assert _params(method) == ["self", "component", "addresses", "timeout"], _moved(
        "aioice.ice.Connection.get_component_candidates", "streams/ice.py",
        f"parameters are now {_params(method)}")
    caller = inspect.getsource(ice.Connection.gather_candidates)
    assert "self.get_component_candidates(" in caller, _moved(
        "aioice.ice.Connection.gather_candidates", "streams/ice.py",
        "no longer gathers through self.get_component_candidates")


def test_aioice_connection_state_we_read() -> None:
    connection = ice.Connection(ice_controlling=True)
    assert getattr(connection, "_local_candidates_start", None) is False, _moved(
        "aioice.ice.Connection._local_candidates_start", "streams/ice.py",
        "missing or not False before gathering")
    assert getattr(connection, "_protocols", None) == [], _moved(
        "aioice.ice.Connection._protocols", "streams/ice.py", "missing or not a list")


@pytest.mark.parametrize(("name", "params"), [
    ("get_host_addresses", ["use_ipv4", "use_ipv6"]),
    ("candidate_foundation", ["candidate_type", "candidate_transport", "base_address"]),
    ("candidate_priority", ["candidate_component", "candidate_type", "local_pref"]),
])
def test_aioice_helpers(name: str, params: list[str]) -> None:
    function = getattr(ice, name, None)
    assert function is not None, _moved(f"aioice.ice.{name}", "streams/ice.py", "gone")
    assert _params(function) == params, _moved(f"aioice.ice.{name}", "streams/ice.py",
                                               f"parameters are now {_params(function)}")


def test_aioice_candidate_and_protocol_constructors() -> None:
    assert _params(ice.StunProtocol.__init__) == ["self", "receiver"], _moved(
        "aioice.ice.StunProtocol(connection)", "streams/ice.py",
        f"parameters are now {_params(ice.StunProtocol.__init__)}")
    # declared on the class, set by the gatherer (ours sets it), read when data arrives
    assert "local_candidate" in inspect.get_annotations(ice.StunProtocol) and \
        "self.local_candidate.component" in inspect.getsource(ice.StunProtocol), _moved(
            "aioice.ice.StunProtocol.local_candidate", "streams/ice.py", "gone or unused")
    wanted = {"foundation", "component", "transport", "priority", "host", "port", "type"}
    have = set(_params(ice.Candidate.__init__))
    assert wanted <= have, _moved("aioice.ice.Candidate(...)", "streams/ice.py",
                                  f"keywords missing: {sorted(wanted - have)}")


async def test_aiortc_ice_gatherer_holds_an_aioice_connection() -> None:
    pc = RTCPeerConnection()
    try:
        transceiver = pc.addTransceiver("video", direction="sendonly")
        gatherer = transceiver.sender.transport.transport.iceGatherer
        connection = getattr(gatherer, "_connection", None)
        assert isinstance(connection, ice.Connection), _moved(
            "aiortc.RTCIceGatherer._connection", "streams/ice.py",
            f"is {type(connection).__name__}, not aioice.ice.Connection")
    finally:
        await pc.close()


def test_aiortc_sender_keyframe_hook() -> None:
    method = getattr(RTCRtpSender, "_send_keyframe", None)
    assert method is not None and _params(method) == ["self"], _moved(
        "aiortc.RTCRtpSender._send_keyframe()", "streams/track.py", "gone or takes arguments")
    rtcp = inspect.getsource(RTCRtpSender._handle_rtcp_packet)
    assert re.search(r"RTCP_PSFB_PLI.*?self\._send_keyframe\(\)", rtcp, re.S), _moved(
        "aiortc.RTCRtpSender._handle_rtcp_packet", "streams/track.py",
        "PLI/FIR no longer call self._send_keyframe()")


def test_aiortc_sender_packs_pre_encoded_packets() -> None:
    source = inspect.getsource(RTCRtpSender._next_encoded_frame)
    assert "isinstance(data, Frame)" in source and ".pack(data)" in source, _moved(
        "aiortc.RTCRtpSender._next_encoded_frame", "streams/track.py",
        "a non-Frame (av.Packet) from recv() is no longer packed as it is")


def test_aiortc_codec_table_is_the_list_getcapabilities_reads() -> None:
    video = CODECS.get("video")
    assert isinstance(video, list) and all(isinstance(c, RTCRtpCodecParameters)
                                           for c in video), _moved(
        "aiortc.codecs.CODECS['video']", "streams/whep.py",
        "not a list of RTCRtpCodecParameters")
    assert any(c.mimeType == "video/H264" and "profile-level-id" in c.parameters
               for c in video), _moved("aiortc.codecs.CODECS['video']", "streams/whep.py",
                                       "no H.264 entry with a profile-level-id parameter")
    from iocwall.streams.whep import EXTRA_PROFILES, ensure_h264_profiles
    ensure_h264_profiles()
    offered = {c.parameters.get("profile-level-id")
               for c in RTCRtpSender.getCapabilities("video").codecs}
    assert set(EXTRA_PROFILES) <= offered, _moved(
        "aiortc.codecs.CODECS", "streams/whep.py",
        "getCapabilities() does not see profiles appended to CODECS['video']")


def test_ultralytics_internals_the_worker_uses() -> None:
    """analytics/detectors.py sets up ultralytics' predictor itself (to skip a warm-up that
    imports torchvision) and analytics/tracking.py drives ByteTrack directly."""
    from ultralytics import YOLO
    from ultralytics.engine.predictor import BasePredictor
    from ultralytics.trackers.byte_tracker import BYTETracker

    user = "analytics/"
    installed = importlib.metadata.version("ultralytics")
    extra = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]["analytics"]
    pinned = [d.split("==", 1)[1].split()[0] for d in extra if d.startswith("ultralytics==")]
    assert pinned == [installed], _moved("ultralytics", user, f"installed {installed}, "
                                         f"pinned {pinned}")
    assert callable(getattr(YOLO, "_smart_load", None)), _moved("Model._smart_load", user,
                                                                "gone")
    assert "model" in _params(BasePredictor.setup_model), _moved(
        "BasePredictor.setup_model", user, f"parameters {_params(BasePredictor.setup_model)}")
    source = inspect.getsource(BasePredictor.stream_inference)
    assert "done_warmup" in source, _moved("BasePredictor.done_warmup", user,
                                           "the warm-up is no longer skipped by it")
    assert _params(BYTETracker.__init__)[:2] == ["self", "args"], _moved(
        "BYTETracker(args)", user, f"parameters {_params(BYTETracker.__init__)}")
    assert _params(BYTETracker.update)[:2] == ["self", "results"], _moved(
        "BYTETracker.update(results)", user, f"parameters {_params(BYTETracker.update)}")


def test_aiortc_h264_payload_code_the_protocol_layer_uses() -> None:
    """streams/rtsp/rtp.py packs with H264Encoder's private steps (the media server's send
    path and the simulator) and parses with H264PayloadDescriptor (the ingest)."""
    from aiortc.codecs.h264 import H264Encoder, H264PayloadDescriptor

    user = "streams/rtsp/rtp.py"
    units = list(H264Encoder._split_bitstream(b"\x00\x00\x00\x01\x67\x01\x00\x00\x01\x68\x02"))
    assert units == [b"\x67\x01", b"\x68\x02"], _moved(
        "aiortc.codecs.h264.H264Encoder._split_bitstream", user, f"gave {units!r}")
    packed = H264Encoder._packetize(iter(units))
    assert packed == [b"\x78\x00\x02\x67\x01\x00\x02\x68\x02"], _moved(
        "aiortc.codecs.h264.H264Encoder._packetize", user, f"gave {packed!r} (no STAP-A)")
    descriptor, data = H264PayloadDescriptor.parse(b"\x7c\x85\x01\x02")
    assert descriptor.first_fragment and data == b"\x00\x00\x00\x01\x65\x01\x02", _moved(
        "aiortc.codecs.h264.H264PayloadDescriptor.parse", user,
        "an FU-A start no longer gives a start code and the rebuilt NAL header")


def test_the_direct_send_path_finds_what_it_reads() -> None:
    """streams/rtploop.py sends a frame's packets straight to the nominated ICE pair's
    socket; if aiortc/aioice moved any of these it would fall back to the slow path
    silently, so name what moved here."""
    from aiortc import rtcdtlstransport
    from aiortc.rtcrtpsender import RTCRtpSender as Sender

    dtls_source = inspect.getsource(rtcdtlstransport.RTCDtlsTransport)
    for needle in ("self._tx_srtp", "self.__tx_bytes", "self.__tx_packets", "self._state"):
        assert needle in dtls_source, _moved(f"aiortc.RTCDtlsTransport {needle}",
                                             "streams/rtploop.py", "gone")
    assert hasattr(rtcdtlstransport.State, "CONNECTED")
    connection = ice.Connection(ice_controlling=True)
    assert isinstance(getattr(connection, "_nominated", None), dict), _moved(
        "aioice.ice.Connection._nominated", "streams/rtploop.py", "missing or not a dict")
    pair = ice.CandidatePair(None, None)  # type: ignore[arg-type]
    assert hasattr(pair, "protocol") and hasattr(type(pair), "remote_addr"), _moved(
        "aioice.ice.CandidatePair.protocol/remote_addr", "streams/rtploop.py", "gone")
    retransmit = inspect.getsource(Sender._retransmit)
    assert "self.__rtp_history.get(" in retransmit, _moved(
        "aiortc.RTCRtpSender._retransmit", "streams/rtploop.py (LazyHistory)",
        "no longer reads its history with .get()")
