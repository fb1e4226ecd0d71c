"""WS-Discovery: a unicast Probe to 127.0.0.1 finds the simulated device (never multicast)."""
from __future__ import annotations

import asyncio
import socket
import uuid

import pytest

from iocwall.hardware.sim.discovery import DiscoveryResponder
from iocwall.onvif.client import probe_device
from iocwall.onvif.discovery import NVT, build_probe, probe
from tests.fixtures.ports import free_port
from tests.onvif_helpers import PASSWORD, USER, running_device
from tests.waiting import wait_until


@pytest.fixture
async def device_and_responder():
    async with running_device() as device:
        responder = device.discovery_responder(port=free_port(socket.SOCK_DGRAM))
        await responder.start()
        try:
            yield device, responder
        finally:
            await responder.stop()


async def test_unicast_probe_finds_the_device_with_its_xaddrs(device_and_responder):
    device, responder = device_and_responder
    found = await probe("127.0.0.1", responder.port, timeout=0.5)
    assert len(found) == 1
    hit = found[0]
    assert hit.urn == device.urn
    assert hit.xaddrs == [f"http://127.0.0.1:{device.port}/onvif/device_service"]
    assert NVT in hit.types
    assert "onvif://www.onvif.org/Profile/Streaming" in hit.scopes


async def test_discovered_xaddr_leads_to_a_working_device(device_and_responder):
    _, responder = device_and_responder
    (hit,) = await probe("127.0.0.1", responder.port, timeout=0.5)
    host_port = hit.xaddrs[0].split("//")[1].split("/")[0]
    host, port = host_port.rsplit(":", 1)
    report = await probe_device(host, int(port), USER, PASSWORD)
    assert [p.token for p in report.profiles] == ["cam1_main", "cam1_sub"]


async def test_probe_for_other_types_gets_no_answer(device_and_responder):
    _, responder = device_and_responder
    assert await probe("127.0.0.1", responder.port, timeout=0.3,
                       types="dn:NetworkVideoDisplay") == []
    assert len(await probe("127.0.0.1", responder.port, timeout=0.3, types="")) == 1


async def test_garbage_datagrams_are_dropped_and_the_responder_keeps_answering(
        device_and_responder):
    _, responder = device_and_responder
    probe_bytes = build_probe(f"urn:uuid:{uuid.uuid4()}")
    hostile = [
        b"\x00\xff" * 100,
        b"<not-xml",
        b"x" * 60000,  # oversized
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]><d>&a;</d>',  # DTD
        probe_bytes.replace(b"/Probe</a:Action>", b"/Resolve</a:Action>"),  # not a Probe
        probe_bytes.replace(b"<a:MessageID>", b"<a:Other>").replace(b"</a:MessageID>",
                                                                     b"</a:Other>"),
    ]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for datagram in hostile:
            sock.sendto(datagram, ("127.0.0.1", responder.port))
    finally:
        sock.close()
    await wait_until(lambda: responder.dropped == len(hostile), 2, "every hostile datagram dropped")
    assert responder.dropped == len(hostile) and responder.answered == 0
    assert len(await probe("127.0.0.1", responder.port, timeout=0.3)) == 1


async def test_probe_to_a_silent_port_returns_nothing_in_time():
    port = free_port(socket.SOCK_DGRAM)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await probe("127.0.0.1", port, timeout=0.3) == []
    assert loop.time() - started < 1.5


async def test_answers_to_someone_elses_probe_are_ignored():
    # A ProbeMatches whose RelatesTo is not our MessageID must not be reported.
    port = free_port(socket.SOCK_DGRAM)
    responder = DiscoveryResponder("127.0.0.1", port, ["http://127.0.0.1:1/onvif/device_service"],
                                   [], "urn:uuid:00000000-0000-0000-0000-000000000001")
    reply = responder.answer(build_probe("urn:uuid:someone-else"))
    assert reply is not None
    from iocwall.onvif.discovery import parse_probe_matches
    assert parse_probe_matches(reply, "urn:uuid:me") == []
    assert parse_probe_matches(reply, "urn:uuid:someone-else")[0].urn.endswith("0001")
