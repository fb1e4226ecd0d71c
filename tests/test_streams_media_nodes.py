"""Media nodes on other machines (here: other processes on loopback): `iocwall media-node`
processes announce themselves on a real Redis, controllers reach them over TLS with the
shared secret, offers play from both through real WHEP, a killed node's cameras move to
the other, a stale leader's placement is refused, hostile peers are refused, and the node
table freezes while Redis itself is down."""
from __future__ import annotations

import asyncio
import contextlib
import ssl
import subprocess
import time
from collections.abc import Iterator

import pytest

from iocwall.streams import netwire, nodeauth
from iocwall.streams.leadership import LeaderChange
from iocwall.streams.limits import WhepError
from iocwall.streams.nodelink import NodeLink
from iocwall.streams.nodes import NodeState
from iocwall.streams.nodeservice import NodeMediaService
from iocwall.streams.server import Camera
from iocwall.streams.wire import Call, Op
from tests.fixtures.redis_server import start_redis
from tests.fixtures.tls import self_signed
from tests.fixtures.tools import require_tool
from tests.node_helpers import SECRET, media_nodes, secret_file
from tests.streams_helpers import fast_settings, sim_cameras
from tests.test_streams_api import client, play_via_api
from tests.waiting import wait_until
from tests.whep_client import Viewer

TIMEOUT_S = 2.0


class FixedLeader:
    """A Leadership (streams.leadership protocol) that leads, or not, at a set epoch."""

    def __init__(self, epoch: int, leader: bool = True) -> None:
        self._epoch, self._leader = epoch, leader

    def set(self, leader: bool, epoch: int) -> None:
        """The lease moved (what wall/cluster/lease.py would report)."""
        self._epoch, self._leader = epoch, leader

    def is_leader(self) -> bool:
        return self._leader

    def epoch(self) -> int:
        return self._epoch if self._leader else 0

    def holder(self) -> str | None:
        return "test"

    def on_change(self, callback: LeaderChange) -> None:
        """Never changes."""


def controller(redis_url: str, prefix: str, ca: str, leadership: FixedLeader,
               secret: bytes = SECRET.encode()) -> NodeMediaService:
    ctl = NodeMediaService(fast_settings(node_timeout_s=TIMEOUT_S), redis_url=redis_url,
                           prefix=prefix, secret=secret, ca_file=ca)
    ctl.follow_leader(leadership)
    return ctl


async def play(ctl: NodeMediaService, camera: str) -> Viewer:
    viewer = Viewer()

    async def post(sdp: str) -> str:
        viewer.session, answer = await ctl.whep_offer(camera, "sub", sdp, "tester")  # type: ignore[attr-defined]
        return answer

    try:
        await viewer.play(post)
    except BaseException:
        await viewer.close()
        raise
    return viewer


async def raw_connection(address: str, ca: str) -> tuple[asyncio.StreamReader,
                                                         asyncio.StreamWriter]:
    host, _, port = address.rpartition(":")
    return await asyncio.open_connection(host, int(port), ssl=nodeauth.client_context(ca),
                                         server_hostname=host)


@pytest.mark.slow
@pytest.mark.timeout(150)
async def test_two_nodes_play_fail_over_fence_and_refuse_strangers(simulator, tmp_path):
    tls = self_signed(tmp_path / "tls")
    ca = str(tls.cert)
    secret = secret_file(tmp_path)
    cams = [Camera.from_config(c) for c in sim_cameras(simulator, 4)]
    viewers: list[Viewer] = []
    with start_redis() as redis, media_nodes(tmp_path, ["m1", "m2"], redis.url, "t", tls,
                                             secret, TIMEOUT_S) as nodes:
        leading, following = FixedLeader(7), FixedLeader(0, leader=False)
        leader = controller(redis.url, "t", ca, leading)
        follower = controller(redis.url, "t", ca, following)
        for cam in cams:
            await leader.add_camera(cam)
            await follower.add_camera(cam)
        try:
            await wait_until(lambda: announced(redis.url, "t") == ["m1", "m2"], 60,
                             "both nodes announced on Redis")
            await leader.start()                  # it sees both at once (their keys)
            await follower.start()
            assert leader.live() == ["m1", "m2"]
            # the leader places the 4 cameras 2 + 2 and each node says so in its heartbeat
            await wait_until(lambda: sorted(c for n in follower.live()
                                            for c in follower._ann[n].serves)
                             == [c.id for c in cams], 20, "every camera served")
            owners = {c.id: leader.owner(c.id) for c in cams}
            assert sorted(owners.values()) == ["m1", "m1", "m2", "m2"]
            a = next(c for c, n in owners.items() if n == "m1")
            b = next(c for c, n in owners.items() if n == "m2")
            assert follower.owner(a) == "m1" and follower.owner(b) == "m2"

            # offers play from both nodes: through the web API on the leader, directly on
            # the follower (it forwards to the node whose heartbeat serves the camera)
            async with client(leader) as c:
                va, r = await play_via_api(c, f"/api/cameras/{a}/whep/sub")
                viewers.append(va)
                assert r.headers["location"].endswith(f"/m1.{va_id(r)}")
                # the answer's candidates are the node's own ([media_node] ice_addresses)
                candidates = [x for x in r.text.splitlines() if x.startswith("a=candidate")]
                assert candidates and all(" 127.0.0.1 " in x for x in candidates)
                vb = await play(follower, b)
                viewers.append(vb)
                await va.first_frame(20)
                await vb.first_frame(20)
                refs = await follower.session_refs()
                assert {(x.camera, x.node) for x in refs} == {(a, "m1"), (b, "m2")}
                # any controller finds any session by its id and can end it
                ref = await follower.find_session(r.headers["location"].rsplit("/", 1)[1])
                assert ref is not None and ref.node == "m1" and ref.camera == a
                listed = (await c.get("/api/cameras")).json()
                assert [x["id"] for x in listed] == [cam.id for cam in cams]
            nodes_json = await leader.media_nodes()
            assert {n["id"]: n["epoch"] for n in nodes_json} == {"m1": 7, "m2": 7}

            # a stale leader (epoch 3 < 7) is refused by the node, with a clear error
            stale = NodeLink("m1", nodes["m1"].address, SECRET.encode(), ca,
                             on_message=lambda *_: None, on_lost=lambda _: None)
            await stale.connect()
            with pytest.raises(WhepError) as err:
                await stale.call(Op.SYNC, [], epoch=3)
            assert err.value.status == 409 and err.value.code == "stale_epoch"
            assert "epoch 3" in err.value.message and "7" in err.value.message
            await stale.close()

            # strangers: a wrong secret, no secret at all, are refused
            wrong = NodeLink("m1", nodes["m1"].address, b"not-the-cluster-secret!!", ca,
                             on_message=lambda *_: None, on_lost=lambda _: None)
            with pytest.raises(nodeauth.AuthFailed, match="refused"):
                await wrong.connect()
            reader, writer = await raw_connection(nodes["m1"].address, ca)
            challenge = await netwire.receive(reader)
            assert isinstance(challenge, netwire.AuthChallenge)
            await netwire.send(writer, Call(1, Op.SESSIONS))     # a call, no proof
            refused = await netwire.receive(reader)
            assert isinstance(refused, netwire.AuthRefused)
            writer.close()
            # a node certificate we do not trust is refused by the controller side too
            other = self_signed(tmp_path / "other")
            with pytest.raises(ssl.SSLError):
                await raw_connection(nodes["m1"].address, str(other.cert))

            # hostile frames from an authenticated peer: errors, and the node serves on
            reader, writer = await raw_connection(nodes["m2"].address, ca)
            await nodeauth.controller_side(reader, writer, SECRET.encode(), "m2")
            writer.write(frame({"m": {"$type": "Popen", "f": {"args": "sh"}}, "parts": []}))
            err1 = await netwire.receive(reader)
            assert isinstance(err1, netwire.ProtocolError) and err1.code == "unknown_type"
            writer.write(frame({"m": {"$type": "Call", "f": {"id": "x", "op": 1}},
                                "parts": []}))
            err2 = await netwire.receive(reader)
            assert isinstance(err2, netwire.ProtocolError) and err2.code == "malformed"
            writer.write(b"\x7f\xff\xff\xff\x00\x00\x00\x00")          # a 2 GiB header
            err3 = await netwire.receive(reader)
            assert isinstance(err3, netwire.ProtocolError) and err3.code == "oversized"
            assert await reader.read() == b""                        # and it hung up
            writer.close()
            assert len(await vb.count_during(1.0)) >= 5              # m2 plays on
            assert leader._links["m2"].ready

            # the lease moves to the follower (epoch 8): it re-sends every node its list,
            # adopted from what they serve, so nothing moves and nobody stops playing
            leading.set(False, 0)
            following.set(True, 8)
            await wait_until(lambda: {n: follower._ann[n].epoch for n in follower.live()}
                             == {"m1": 8, "m2": 8}, 10, "both nodes follow epoch 8")
            assert {c.id: follower.owner(c.id) for c in cams} == owners
            assert {c.id: leader.owner(c.id) for c in cams} == owners
            assert len(await va.count_during(0.5)) >= 2 and len(vb.frames) > 0

            # kill -9 m1: its cameras move to m2 (placed by the new leader); a new offer for
            # one, through the controller that no longer leads, plays again
            killed = time.monotonic()
            nodes["m1"].kill()
            again = await offer_until_playing(leader, a, 15)
            viewers.append(again)
            moved_s = time.monotonic() - killed
            print(f"m1 killed: a new viewer of {a} played {moved_s:.2f} s later "
                  f"(node_timeout_s {TIMEOUT_S})")
            assert moved_s < TIMEOUT_S + 3.0
            assert follower.owner(a) == "m2" and leader.owner(b) == "m2"
            assert leader.table.state("m1") is NodeState.DOWN
            assert len(await vb.count_during(0.5)) >= 2              # never interrupted

            # Redis itself down: nobody is dropped (the node table freezes), video plays on;
            # m9 announces itself once and then falls silent as Redis goes
            announce_once(redis.url, "t", "m9")
            await wait_until(lambda: follower.live() == ["m2", "m9"], 10, "m9 heard")
            redis.process.kill()
            redis.process.wait(10)
            await asyncio.sleep(TIMEOUT_S * 2 + 1)
            assert leader.live() == ["m2", "m9"] and follower.live() == ["m2", "m9"]
            assert not leader._listener.bus_ok
            assert len(await vb.count_during(0.5)) >= 2
            late = await play(leader, b)                              # signalling works too
            viewers.append(late)
            await late.first_frame(15)

            # Redis back: the table thaws and nobody is dropped for the silence meanwhile
            with restarted_redis(redis.port):
                await wait_until(lambda: leader._listener.bus_ok and follower._listener.bus_ok,
                                 15, "controllers hear Redis again")
                # everyone gets a fresh node_timeout_s to be heard, not judged at once ...
                await asyncio.sleep(TIMEOUT_S / 2)
                assert leader.live() == ["m2", "m9"] and follower.live() == ["m2", "m9"]
                # ... after which the silent one is dropped and the others stay
                await asyncio.sleep(TIMEOUT_S / 2 + 1.5)
                assert leader.live() == ["m2"] and follower.live() == ["m2"]
                assert leader.table.state("m2") is NodeState.UP
                assert len(await vb.count_during(0.5)) >= 2
        finally:
            for viewer in viewers:
                await viewer.close()
            await asyncio.wait_for(follower.stop(), 20)
            await asyncio.wait_for(leader.stop(), 20)
        # credentials never in a node's log
        for n in nodes.values():
            assert simulator.password not in n.output()
            assert "Traceback" not in n.output(), n.output()[-3000:]


@contextlib.contextmanager
def restarted_redis(port: int) -> Iterator[None]:
    """redis-server again on the port of one that was killed (same URL for everyone)."""
    process = subprocess.Popen(
        [require_tool("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--loglevel", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        process.kill()
        process.wait(10)


def announce_once(url: str, prefix: str, node: str) -> None:
    """One announcement of a node that then says nothing more (typed JSON, as a node's)."""
    import redis

    from iocwall.streams import announce
    from iocwall.streams.wire import Heartbeat
    ann = netwire.NodeAnnouncement(Heartbeat(node, 1, 0, 0, 0, 0.0, 0.0), "ghost",
                                   "127.0.0.1:9", ["127.0.0.1"], 1, "test", [], 0)
    client = redis.Redis.from_url(url)
    try:
        client.set(announce.key(prefix, node), netwire.encode_json(ann), px=int(TIMEOUT_S * 1000))
        client.publish(announce.channel(prefix), netwire.encode_json(ann))
    finally:
        client.close()


def announced(url: str, prefix: str) -> list[str]:
    import redis
    client = redis.Redis.from_url(url)
    try:
        return sorted(k.decode().rsplit(":", 1)[1] for k in client.keys(f"{prefix}:media.node:*"))
    finally:
        client.close()


def announced_epoch(url: str, prefix: str, node: str) -> int:
    import redis
    client = redis.Redis.from_url(url)
    try:
        raw = client.get(f"{prefix}:media.node:{node}")
        return netwire.decode_json(raw).epoch if raw is not None else -1
    finally:
        client.close()


def va_id(r) -> str:  # noqa: ANN001
    return r.headers["location"].rsplit("/", 1)[1].split(".", 1)[1]


def frame(doc: dict) -> bytes:
    import json
    import struct
    header = json.dumps(doc).encode()
    return struct.pack("!II", len(header), 0) + header


async def offer_until_playing(ctl: NodeMediaService, camera: str, timeout: float) -> Viewer:
    """Offer (again and again while the camera moves: 503) until a viewer plays."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            viewer = await play(ctl, camera)
        except WhepError as exc:
            if exc.status != 503 or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)
            continue
        await viewer.first_frame(max(1.0, deadline - time.monotonic()))
        return viewer


def test_media_node_command_says_what_is_missing(tmp_path):
    import subprocess

    from tests.node_helpers import IOCWALL
    config = tmp_path / "node.toml"
    config.write_text('[media_node]\nid = "m1"\n')
    r = subprocess.run([*IOCWALL, "media-node", "--config", str(config)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2
    assert "missing [media_node] cert_file, [media_node] key_file, [cluster] secret_file" \
        in r.stderr
    short = secret_file(tmp_path, "tiny-9")
    config.write_text(f'[media_node]\nid = "m1"\ncert_file = "c"\nkey_file = "k"\n'
                      f'[cluster]\nsecret_file = "{short}"\n[bus]\nbackend = "redis"\n')
    r = subprocess.run([*IOCWALL, "media-node", "--config", str(config)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2 and "shorter than 16 bytes" in r.stderr
    assert "tiny-9" not in r.stderr                           # never the secret itself


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_a_controller_with_media_on_nodes_plays_a_registered_camera(
        simulator, tmp_path, redis_server):
    from iocwall.streams.nodeservice import NodeMediaService as Service
    from tests.registry_helpers import play as play_http
    from tests.registry_helpers import registry_config, registry_server

    tls = self_signed(tmp_path / "tls")
    secret = secret_file(tmp_path)
    prefix = redis_server.fresh_prefix()
    config = registry_config(tmp_path / "data")
    config.bus.backend, config.bus.redis_url, config.bus.prefix = "redis", redis_server.url, prefix
    config.cluster.media, config.cluster.secret_file = "nodes", str(secret)
    config.cluster.ca_file = str(tls.cert)
    config.streams.node_timeout_s = TIMEOUT_S
    with media_nodes(tmp_path, ["n1"], redis_server.url, prefix, tls, secret) as nodes:
        await wait_until(lambda: announced(redis_server.url, prefix) == ["n1"], 60,
                         "n1 announced")
        async with registry_server(tmp_path, config) as server, server.client() as admin:
            assert isinstance(server.services.media, Service)
            await server.login(admin)
            created = await admin.post("/api/cameras", json={
                "province": "Hà Nội", "centre": "TT PVHCC", "name": "Quầy 1",
                "rtsp_main": simulator.url(1, "main", auth=False),
                "rtsp_sub": simulator.url(1, "sub", auth=False),
                "username": simulator.user, "password": simulator.password})
            assert created.status_code == 201, created.text
            camera = created.json()["id"]
            viewer, answer = None, None
            for _ in range(40):                 # placed and announced within a heartbeat
                viewer, answer = await play_http(admin, camera)
                if answer.status_code == 201:
                    break
                assert answer.status_code == 503, answer.text
                await asyncio.sleep(0.25)
            assert viewer is not None and answer is not None and answer.status_code == 201
            try:
                await viewer.first_frame(20)
                location = answer.headers["Location"]
                assert location.rsplit("/", 1)[1].startswith("n1.")
                async def nodes_listed() -> list:
                    listed = (await admin.get("/api/streams/nodes")).json()
                    return [(n["id"], n["state"], n["serves"], n["sessions"]) for n in listed]
                await wait_until(lambda: _eq(nodes_listed(), [("n1", "up", [camera], 1)]), 5,
                                 "the node's heartbeat lists the camera and its viewer")
                listed = (await admin.get("/api/streams/nodes")).json()
                assert simulator.password not in str(listed)
                text = await server.services.media.metrics_text()   # the nodes' sums
                assert "iocwall_webrtc_sessions 1.0" in text, text[:2000]
                assert (await admin.delete(location)).status_code == 200
                await wait_until(lambda: viewer.pc.connectionState in ("closed", "failed")
                                 or not viewer.channel.readyState == "open", 10,
                                 "the viewer's session ended")
            finally:
                await viewer.close()
        assert simulator.password not in nodes["n1"].output()


async def _eq(value, expected) -> bool:  # noqa: ANN001
    return await value == expected


def test_media_on_nodes_needs_the_clusters_own_ca(tmp_path):
    """Camera passwords go to the node a Redis heartbeat names: the public roots would let
    anyone who can write to Redis and buy a certificate stand in for a node."""
    from iocwall.wall.config import Config
    from iocwall.wall.serve import build_media
    config = Config()
    config.cluster.media, config.cluster.secret_file = "nodes", str(secret_file(tmp_path))
    with pytest.raises(ValueError, match=r"needs \[cluster\] ca_file"):
        build_media(config)


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_a_node_that_starts_late_refuses_an_epoch_older_than_the_clusters(
        tmp_path, redis_server):
    """A node's fence lives in its memory: one that starts (or restarts) begins at the
    highest epoch the other nodes announce, so a stale leader cannot slip an order in."""
    tls = self_signed(tmp_path / "tls")
    secret, prefix, ca = secret_file(tmp_path), redis_server.fresh_prefix(), str(tls.cert)

    def link(node: str, address: str) -> NodeLink:
        return NodeLink(node, address, SECRET.encode(), ca, on_message=lambda *_: None,
                        on_lost=lambda _: None)
    with media_nodes(tmp_path, ["m1"], redis_server.url, prefix, tls, secret) as first:
        await wait_until(lambda: announced(redis_server.url, prefix) == ["m1"], 60,
                         "m1 announced")
        leader = link("m1", first["m1"].address)
        await leader.connect()
        await leader.call(Op.SYNC, [], epoch=7)              # the current leader's epoch
        await leader.close()
        await wait_until(lambda: announced_epoch(redis_server.url, prefix, "m1") == 7, 10,
                         "m1's heartbeat says epoch 7")
        (tmp_path / "late").mkdir()
        with media_nodes(tmp_path / "late", ["m2"], redis_server.url, prefix, tls,
                         secret) as late:
            await wait_until(lambda: announced(redis_server.url, prefix) == ["m1", "m2"],
                             60, "m2 announced")
            stale = link("m2", late["m2"].address)
            await stale.connect()
            with pytest.raises(WhepError) as err:
                await stale.call(Op.SYNC, [], epoch=3)
            assert err.value.code == "stale_epoch" and "7" in err.value.message
            await stale.call(Op.SYNC, [], epoch=7)           # the current leader is obeyed
            await stale.close()
