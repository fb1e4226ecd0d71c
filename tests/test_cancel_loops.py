"""Loops that must end when cancelled, cancelled at random moments many times.

Python 3.11's ``asyncio.wait_for`` can swallow a cancellation that arrives just as the
awaitable it wraps finishes: the caller's loop then goes round again and ``stop()`` waits
forever (it hung the analytics tap router once in CI). These loops wait with
``asyncio.timeout`` instead; each cancel here must end its loop within a second.
"""
from __future__ import annotations

import asyncio
import random
import re
from pathlib import Path

import pytest

from iocwall.streams import urls
from iocwall.streams.rtp_ingest import RtpPuller
from iocwall.streams.source import PullSettings
from iocwall.wall.bus import Event, EventKind, MemoryBus

CANCELS = 200


async def _ends(task: asyncio.Task, why: str) -> None:
    done, _ = await asyncio.wait({task}, timeout=1.0)
    assert done, f"{why}: the loop went on after its cancellation"


async def test_a_bus_consumer_loop_ends_on_every_cancel() -> None:
    """A consumer waits with a timeout, and events keep arriving: the cancellation is sent
    0-3 loop turns after an event, so it often lands exactly as the wait completes."""
    rand = random.Random(8)
    bus = MemoryBus(node_id="node-a")
    sub = await bus.subscribe("cam.*")

    async def consume() -> None:
        while True:                      # a consumer that only a cancellation stops
            await sub.get(timeout=0.5)

    got_through = 0
    for n in range(CANCELS):
        task = asyncio.create_task(consume())
        for _ in range(rand.randint(1, 4)):
            await bus.publish("cam.1", Event("cam.1", EventKind.UPDATED, {"n": n}))
            await asyncio.sleep(0)
        await bus.publish("cam.1", Event("cam.1", EventKind.UPDATED, {"n": n}))
        for _ in range(rand.randint(0, 3)):
            await asyncio.sleep(0)
        task.cancel()
        await _ends(task, f"cancel {n}")
        got_through += task.cancelled()
    assert got_through == CANCELS
    assert sub.delivered > CANCELS       # the consumer really was taking events
    await bus.close()


class _Listener:
    """Counts units; ``cancel_on_unit`` cancels the pull's task from inside its first unit."""

    def __init__(self) -> None:
        self.units = 0
        self.task: asyncio.Task[None] | None = None
        self.cancel_on_unit = False

    def on_open(self, info: object) -> None: ...
    def on_unit(self, unit: object) -> None:
        self.units += 1
        if self.cancel_on_unit and self.task is not None and self.units == 1:
            self.task.cancel()

    def on_invalid(self) -> None: ...
    def on_packets(self, counts: object) -> None: ...
    def on_fail(self, reason: str) -> None: ...


def _settings() -> PullSettings:
    return PullSettings(open_timeout_s=4.0, read_timeout_s=4.0, reconnect_min_s=0.2,
                        reconnect_max_s=2.0)


def _rtsp_readers() -> list[asyncio.Task]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("rtsp-read")
            and not t.done()]


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_an_rtp_pull_ends_when_cancelled_as_an_answer_arrives(simulator) -> None:  # noqa: ANN001
    """The cancellation lands as an RTSP answer is delivered, before the pull's task has
    resumed from its wait for it: from inside the first unit (the simulator sends its first
    packets right behind the PLAY answer, often in the same read), and after 0-299 loop
    turns of the opening (connect, DESCRIBE, 401, DESCRIBE, SETUP, PLAY). A wait that
    swallows such a cancellation (Python 3.11's ``wait_for``) pulls on, and every reader
    task is gone afterwards even when the TEARDOWN is cancelled too."""
    url = urls.parse(simulator.url(1, "sub", auth=False), simulator.user, simulator.password)
    loop = asyncio.get_running_loop()
    for n in range(330):
        listener = _Listener()
        puller = RtpPuller("cam1/sub", url, _settings(), listener, loop)
        puller.start()
        task = puller._task
        assert task is not None
        listener.task = task
        if n < 30:                       # from the first unit, right behind PLAY's answer
            listener.cancel_on_unit = True
            for _ in range(250):
                if listener.units or task.done():
                    break
                await asyncio.sleep(0.02)
            assert listener.units, f"pull {n}: no unit came"
        else:                            # somewhere in the opening, by loop turns
            for _ in range(n - 30):
                await asyncio.sleep(0)
            task.cancel()
            if n % 3 == 0:               # and a second cancel, into the TEARDOWN
                for _ in range(n % 7):
                    await asyncio.sleep(0)
                task.cancel()
        await _ends(task, f"pull {n}")
        await puller.stop()
        for _ in range(50):              # the reader task ends with its session
            if not _rtsp_readers():
                break
            await asyncio.sleep(0.01)
        assert not _rtsp_readers(), f"pull {n}: an RTSP reader outlived its pull"


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_an_rtp_pull_ends_on_every_cancel(simulator) -> None:  # noqa: ANN001
    """A real RTP pull of the simulator, cancelled at a random moment of its life 40 times
    (half while opening, half while playing in its watch loop): its task always ends."""
    rand = random.Random(11)
    url = urls.parse(simulator.url(1, "sub", auth=False), simulator.user, simulator.password)
    settings = PullSettings(open_timeout_s=4.0, read_timeout_s=4.0, reconnect_min_s=0.2,
                            reconnect_max_s=2.0)
    loop = asyncio.get_running_loop()

    class Listener:
        def __init__(self) -> None:
            self.units = 0

        def on_open(self, info: object) -> None: ...
        def on_unit(self, unit: object) -> None:
            self.units += 1

        def on_invalid(self) -> None: ...
        def on_packets(self, counts: object) -> None: ...
        def on_fail(self, reason: str) -> None: ...

    played = 0
    for n in range(40):
        listener = Listener()
        puller = RtpPuller("cam1/sub", url, settings, listener, loop)
        puller.start()
        if n % 2:                        # somewhere in the opening (or just after it)
            await asyncio.sleep(rand.uniform(0.0, 0.5))
        else:                            # playing: inside the watch loop
            for _ in range(250):
                if listener.units:
                    break
                await asyncio.sleep(0.02)
            await asyncio.sleep(rand.uniform(0.0, 0.3))
        played += listener.units > 0
        task = puller._task
        assert task is not None
        task.cancel()
        await _ends(task, f"pull {n}")
        await puller.stop()
    print(f"{played} of 40 pulls were playing when cancelled")
    assert played >= 20              # half the cancels at least landed in the watch loop


PACKAGES = ("streams", "wall", "hardware", "analytics", "onvif", "layouts")
# A suppress(CancelledError) that is meant: uvicorn's shutdown is waited for in a finally even
# when serve is cancelled again (the first cancellation is raised after the finally).
MEANT = {("wall/serve.py", "with contextlib.suppress(Exception, asyncio.CancelledError):")}


def test_no_code_waits_in_a_way_that_can_swallow_a_cancellation() -> None:
    """The two shapes that lost cancellations here, kept out of the product code:
    ``asyncio.wait_for`` (Python 3.11 returns the result when the cancel lands as the wait
    completes) and ``await task`` inside ``suppress(CancelledError)`` (it also swallows a
    cancellation of the awaiting task itself). Use ``asyncio.timeout``, and
    ``asyncio.gather(task, return_exceptions=True)`` or ``asyncio.wait`` after ``cancel()``."""
    root = Path(__file__).resolve().parent.parent
    found = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                code = line.split("#", 1)[0].strip()
                if "asyncio.wait_for(" in code or (
                        re.search(r"suppress\(.*CancelledError", code)
                        and (rel, code) not in MEANT):
                    found.append(f"{rel}:{n}: {code}")
    assert not found, "\n".join(found)
