"""One suite, both bus backends: in-process and Redis pub/sub against a real redis-server."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from iocwall.wall.bus import Bus, Event, EventKind, MemoryBus, open_bus
from iocwall.wall.config import BusConfig
from tests.waiting import wait_until


@pytest.fixture(params=["memory", "redis"])
async def bus_config(request: pytest.FixtureRequest) -> BusConfig:
    if request.param == "memory":
        return BusConfig(backend="memory")
    server = request.getfixturevalue("redis_server")
    return BusConfig(backend="redis", redis_url=server.url, prefix=server.fresh_prefix())


@pytest.fixture
async def bus(bus_config: BusConfig) -> AsyncIterator[Bus]:
    opened = await open_bus(bus_config, node_id="node-a")
    try:
        yield opened
    finally:
        await opened.close()


def ev(topic: str, n: int = 0, kind: EventKind = EventKind.UPDATED) -> Event:
    return Event(topic=topic, kind=kind, payload={"n": n, "text": "Hà Nội"})


async def test_publish_subscribe_roundtrip(bus: Bus) -> None:
    assert isinstance(bus, Bus)
    sub = await bus.subscribe("user.*")
    await bus.publish("user.created", ev("user.created", 1, EventKind.CREATED))
    got = await sub.get(timeout=5)
    assert got is not None
    assert got.topic == "user.created" and got.kind is EventKind.CREATED
    assert got.payload == {"n": 1, "text": "Hà Nội"}
    assert got.origin == "node-a" and got.time.endswith("+07:00")
    await sub.close()


async def test_pattern_filters_topics(bus: Bus) -> None:
    cams = await bus.subscribe("camera.*.state")
    everything = await bus.subscribe("*")
    await bus.publish("user.updated", ev("user.updated", 1))
    await bus.publish("camera.hn-01.state", ev("camera.hn-01.state", 2, EventKind.STATE))
    got = await cams.get(timeout=5)
    assert got is not None and got.topic == "camera.hn-01.state"
    assert await cams.get(timeout=0.3) is None        # user.updated never arrived
    topics = [(await everything.get(timeout=5)).topic for _ in range(2)]  # type: ignore[union-attr]
    assert topics == ["user.updated", "camera.hn-01.state"]   # order kept
    await cams.close()
    await everything.close()


async def test_each_subscriber_gets_every_event(bus: Bus) -> None:
    subs = [await bus.subscribe("a.*") for _ in range(3)]
    for i in range(10):
        await bus.publish("a.x", ev("a.x", i))
    for sub in subs:
        got = [(await sub.get(timeout=5)).payload["n"] for _ in range(10)]  # type: ignore[union-attr]
        assert got == list(range(10))
        await sub.close()


async def test_slow_subscriber_drops_oldest_and_counts(bus: Bus) -> None:
    slow = await bus.subscribe("burst", maxsize=5)
    fast = await bus.subscribe("burst", maxsize=100)
    for i in range(20):
        await bus.publish("burst", ev("burst", i))
    received = [(await fast.get(timeout=5)).payload["n"] for _ in range(20)]  # type: ignore[union-attr]
    assert received == list(range(20))
    kept = []
    while (item := await slow.get(timeout=0.3)) is not None:
        kept.append(item.payload["n"])
    assert kept == [15, 16, 17, 18, 19]       # the newest survive
    assert slow.dropped == 15
    await slow.close()
    await fast.close()


async def test_closed_subscription_stops_iteration(bus: Bus) -> None:
    sub = await bus.subscribe("t")
    await bus.publish("t", ev("t", 1))

    got: list[int] = []

    async def consume() -> list[int]:
        async for e in sub:
            got.append(e.payload["n"])
        return got
    task = asyncio.create_task(consume())
    await wait_until(lambda: got == [1], 5, "the subscriber got its event")   # now it waits
    await sub.close()
    assert await asyncio.wait_for(task, 5) == [1]         # ends, never hangs
    await bus.publish("t", ev("t", 2))                    # no subscriber left: fine


async def test_close_ends_all_subscriptions_and_ping(bus: Bus) -> None:
    sub = await bus.subscribe("x.*")
    assert await bus.ping() is True
    await bus.close()
    assert await bus.ping() is False
    assert await asyncio.wait_for(sub.get(), 5) is None
    with pytest.raises(RuntimeError):
        await bus.publish("x.y", ev("x.y"))
    await bus.close()   # idempotent


async def test_payload_must_be_json(bus: Bus) -> None:
    with pytest.raises(TypeError):
        await bus.publish("x", Event("x", EventKind.STATE, {"bad": object()}))


async def test_event_json_roundtrip_and_rejects_garbage() -> None:
    e = ev("t", 3)
    assert Event.from_json(e.to_json()) == e
    from iocwall.wall.bus import EventError
    for bad in ["{", "[]", '{"topic":"t","kind":"nope","payload":{},"time":"x"}']:
        with pytest.raises(EventError):
            Event.from_json(bad)


async def test_two_redis_buses_see_each_other(redis_server) -> None:  # type: ignore[no-untyped-def]
    config = BusConfig(backend="redis", redis_url=redis_server.url,
                       prefix=redis_server.fresh_prefix())
    a = await open_bus(config, node_id="server-a")
    b = await open_bus(config, node_id="server-b")
    try:
        on_a = await a.subscribe("wall.*")
        on_b = await b.subscribe("wall.*")
        await a.publish("wall.push", ev("wall.push", 1, EventKind.COMMAND))
        await b.publish("wall.push", ev("wall.push", 2, EventKind.COMMAND))
        for sub in (on_a, on_b):
            got = [await sub.get(timeout=5) for _ in range(2)]
            assert [(g.origin, g.payload["n"]) for g in got if g] == [("server-a", 1),
                                                                     ("server-b", 2)]
        # another prefix is another installation: it hears nothing
        other = await open_bus(BusConfig(backend="redis", redis_url=redis_server.url,
                                         prefix="elsewhere"))
        try:
            quiet = await other.subscribe("wall.*")
            await a.publish("wall.push", ev("wall.push", 3))
            assert (await on_b.get(timeout=5)).payload["n"] == 3  # type: ignore[union-attr]
            assert await quiet.get(timeout=0.3) is None
        finally:
            await other.close()
    finally:
        await a.close()
        await b.close()


async def test_redis_unreachable_fails_clearly() -> None:
    from redis.exceptions import ConnectionError as RedisConnectionError

    from tests.fixtures.ports import free_port
    config = BusConfig(backend="redis", redis_url=f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises((RedisConnectionError, OSError)):
        await open_bus(config)


async def test_memory_bus_default_node_ids_differ() -> None:
    assert MemoryBus().node_id != MemoryBus().node_id
