"""The suite's wait helper: returns the first truthy value, fails saying what it waited for."""
from __future__ import annotations

import pytest

from tests.waiting import seconds_until, wait_until, wait_until_sync


async def test_returns_the_first_truthy_value_and_awaits_awaitables() -> None:
    calls = []

    async def third() -> list[int]:
        calls.append(1)
        return calls if len(calls) >= 3 else []
    assert await wait_until(third, 5, "three calls", step=0.001) == [1, 1, 1]
    assert await seconds_until(lambda: True, 5, "at once") < 1


async def test_a_timeout_names_what_and_the_last_value() -> None:
    with pytest.raises(AssertionError, match=r"cam1 counted: not within 0.05 s \(last seen: 0\)"):
        await wait_until(lambda: 0, 0.05, "cam1 counted", step=0.01)


def test_the_sync_twin_fails_too_and_lets_exceptions_through() -> None:
    with pytest.raises(AssertionError, match="never: not within"):
        wait_until_sync(lambda: 0, 0.05, "never", step=0.01)

    def exited() -> bool:
        raise RuntimeError("the process exited")
    with pytest.raises(RuntimeError, match="exited"):
        wait_until_sync(exited, 5, "up")
