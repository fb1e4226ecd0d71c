"""Login rate limit: at most N failures per username and per client address in a window.

Kept in memory: a restart forgets it, and with several server processes each
counts on its own (the limit is then N per process) — acceptable for slowing
password guessing, which argon2 already makes slow.
"""
from __future__ import annotations

import collections
import math
import time
from collections.abc import Callable

MAX_KEYS = 10_000


class LoginLimiter:
    def __init__(self, max_failures: int, window_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[str, collections.deque[float]] = {}

    def _recent(self, key: str) -> collections.deque[float]:
        times = self._failures.get(key)
        if times is None:
            return collections.deque()
        cutoff = self._clock() - self.window_s
        while times and times[0] <= cutoff:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def retry_after(self, username: str, address: str) -> int | None:
        """Seconds to wait if this user or address is blocked now, else None."""
        waits = []
        for key in (_user_key(username), _addr_key(address)):
            times = self._recent(key)
            if len(times) >= self.max_failures:
                waits.append(times[0] + self.window_s - self._clock())
        return max(1, math.ceil(max(waits))) if waits else None

    def failed(self, username: str, address: str) -> None:
        now = self._clock()
        if len(self._failures) > MAX_KEYS:
            for key in list(self._failures):
                self._recent(key)      # forget expired keys: guessing many names stays bounded
        for key in (_user_key(username), _addr_key(address)):
            self._failures.setdefault(key, collections.deque()).append(now)
            if len(self._failures[key]) > self.max_failures:
                self._failures[key].popleft()   # only the newest N matter; memory stays bounded

    def succeeded(self, username: str) -> None:
        # The address keeps its count: one valid account must not reset guessing on others.
        self._failures.pop(_user_key(username), None)


def _user_key(username: str) -> str:
    return "u:" + username.strip().lower()


def _addr_key(address: str) -> str:
    return "a:" + address
