"""The suite's one way to wait: poll a condition until it holds, or fail saying what.

    await wait_until(lambda: board.count("cam1") == 3, 5, "cam1 counted 3")
    row = wait_until_sync(lambda: find(page), 30, "the row shows")   # no event loop

The predicate may return an awaitable (it is awaited) and may raise: an exception
ends the wait at once (a process that exited, say). The first truthy value is
returned; past ``timeout`` seconds an AssertionError names ``what`` and the last value
seen, so a failure says what did not happen instead of "timed out".
"""
from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def _failure(what: str, timeout: float, last: object) -> AssertionError:
    return AssertionError(f"{what}: not within {timeout:g} s (last seen: {last!r:.300})")


async def wait_until(predicate: Callable[[], T | Awaitable[T]], timeout: float, what: str,
                     step: float = 0.05) -> T:
    """The first truthy value of ``predicate()``, polled every ``step`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            raise _failure(what, timeout, value)
        await asyncio.sleep(step)


def wait_until_sync(predicate: Callable[[], T], timeout: float, what: str,
                    step: float = 0.1) -> T:
    """``wait_until`` for code without an event loop (browser tests, subprocesses)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise _failure(what, timeout, value)
        time.sleep(step)


async def seconds_until(predicate: Callable[[], object], timeout: float, what: str,
                        step: float = 0.05) -> float:
    """``wait_until`` that answers how long the wait took (tests that report a latency)."""
    start = time.monotonic()
    await wait_until(predicate, timeout, what, step)
    return time.monotonic() - start
