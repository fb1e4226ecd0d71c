"""Password-guessing limits: per (user, address) and per address, with a doubling block.

Never per user alone: that would let anyone lock the real admin out from every
address by typing five wrong passwords. A guesser is slowed where it stands:
``per_pair`` failures for one name from one address, or ``per_address``
failures for any names from one address, block that key for ``window_s``;
each further block of the same key doubles, up to ``max_block_s``, and a key
quiet for ``max_block_s`` after its block starts over.

An attempt is counted *before* its password is checked (``begin``), so twenty
parallel guesses cannot all slip in before the first failure is recorded;
``finish`` then records the outcome.

Kept in memory: a restart forgets it, and with several server processes each
counts on its own — acceptable for slowing guessing, which argon2 already makes slow.
"""
from __future__ import annotations

import collections
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_KEYS = 10_000
REFUSAL_AUDIT_EVERY_S = 1.0    # at most one audit entry per address per second for refusals


@dataclass
class _Key:
    failures: collections.deque[float] = field(default_factory=collections.deque)
    pending: int = 0               # attempts being checked right now
    strikes: int = 0               # blocks so far (the next one lasts window * 2**strikes)
    blocked_until: float = 0.0

    def idle(self, now: float, window_s: float, max_block_s: float) -> bool:
        return (self.pending == 0 and now >= self.blocked_until + max_block_s
                and not any(t > now - window_s for t in self.failures))


class LoginLimiter:
    def __init__(self, per_pair: int, per_address: int, window_s: float,
                 max_block_s: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_pair = per_pair
        self.per_address = per_address
        self.window_s = window_s
        self.max_block_s = max(window_s, max_block_s if max_block_s is not None else window_s)
        self._clock = clock
        self._keys: dict[str, _Key] = {}
        self._refusals: dict[str, tuple[float, int]] = {}   # address -> (last audit, folded)

    def begin(self, username: str, address: str) -> int | None:
        """Count an attempt about to be checked; or, if it may not be made now, the seconds
        to wait (nothing is counted then). Each None must be followed by ``finish``."""
        now = self._clock()
        waits = [self._wait(key, limit, now) for key, limit in self._limits(username, address)]
        blocked = [w for w in waits if w is not None]
        if blocked:
            return max(1, math.ceil(max(blocked)))
        for key, _ in self._limits(username, address):
            self._key(key).pending += 1
        return None

    def finish(self, username: str, address: str, *, ok: bool) -> None:
        """The outcome of an attempt ``begin`` let through."""
        now = self._clock()
        for key, limit in self._limits(username, address):
            state = self._key(key)
            state.pending = max(0, state.pending - 1)
            if ok and key.startswith("p:"):
                del self._keys[key]          # the right password from here: start afresh
            elif not ok:
                self._failed(state, limit, now)
        # The address keeps its count on success: one valid account must not reset
        # the guessing of others from the same place.

    def take(self, name: str, address: str) -> int | None:
        """Count an action that always costs one (e.g. an anonymous display pairing start):
        None if it may go ahead (counted as spent), else the seconds to wait."""
        wait = self.begin(name, address)
        if wait is None:
            self.finish(name, address, ok=False)
        return wait

    def abandon(self, username: str, address: str) -> None:
        """An attempt ``begin`` let through was never checked (e.g. the server was busy)."""
        for key, _ in self._limits(username, address):
            state = self._keys.get(key)
            if state is not None:
                state.pending = max(0, state.pending - 1)

    def refusal_to_audit(self, address: str) -> int | None:
        """How many refusals from ``address`` one audit entry written now stands for; None
        while refusals are being folded into a later entry (a flood of 429s must not
        become a flood of audit writes)."""
        now = self._clock()
        last, folded = self._refusals.get(address, (-math.inf, 0))
        if now - last < REFUSAL_AUDIT_EVERY_S:
            self._refusals[address] = (last, folded + 1)
            return None
        if len(self._refusals) > MAX_KEYS:
            self._refusals = {a: v for a, v in self._refusals.items()
                              if now - v[0] < REFUSAL_AUDIT_EVERY_S}
        self._refusals[address] = (now, 0)
        return folded + 1

    # -- internals

    def _limits(self, username: str, address: str) -> list[tuple[str, int]]:
        name = username.strip().lower()
        return [(f"p:{name}\x00{address}", self.per_pair), (f"a:{address}", self.per_address)]

    def _key(self, key: str) -> _Key:
        state = self._keys.get(key)
        if state is None:
            if len(self._keys) >= MAX_KEYS:
                self._forget_idle()
            state = self._keys[key] = _Key()
        return state

    def _wait(self, key: str, limit: int, now: float) -> float | None:
        state = self._keys.get(key)
        if state is None:
            return None
        if now < state.blocked_until:
            return state.blocked_until - now
        recent = sum(1 for t in state.failures if t > now - self.window_s)
        if recent + state.pending >= limit:
            return 1.0                        # the last allowed attempts are being checked
        return None

    def _failed(self, state: _Key, limit: int, now: float) -> None:
        if state.strikes and now >= state.blocked_until + self.max_block_s:
            state.strikes = 0                 # quiet long enough: forgiven
        state.failures.append(now)
        while state.failures and state.failures[0] <= now - self.window_s:
            state.failures.popleft()
        if len(state.failures) >= limit:
            block = min(self.window_s * 2 ** state.strikes, self.max_block_s)
            state.strikes += 1
            state.blocked_until = now + block
            state.failures.clear()

    def _forget_idle(self) -> None:
        now = self._clock()
        for key in [k for k, s in self._keys.items()
                    if s.idle(now, self.window_s, self.max_block_s)]:
            del self._keys[key]
