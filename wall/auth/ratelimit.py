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

Kept in the shared store (table ``rate_limits``), so every controller of a site
counts the same guesses: failures on controller A block the guesser on B too.
Each step is one store transaction (the store serialises them across processes).
Times are wall-clock epoch seconds: controllers on several machines agree on them
to NTP's precision, far below the limits' seconds. An attempt being checked is
kept as an expiry time, not a count, so a controller that dies mid-check does not
leave the key blocked for ever. Keys are SHA-256 digests: a name typed into the
login form may be a password typed into the wrong field, and is never stored.
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from iocwall.wall.store import Store

REFUSAL_AUDIT_EVERY_S = 1.0    # at most one audit entry per address per second for refusals
PENDING_TTL_S = 60.0           # an attempt still "being checked" after this was lost


@dataclass
class _Key:
    failures: list[float] = field(default_factory=list)
    pending: list[float] = field(default_factory=list)    # expiry times of attempts in check
    strikes: int = 0               # blocks so far (the next one lasts window * 2**strikes)
    blocked_until: float = 0.0

    @classmethod
    def from_json(cls, text: str) -> _Key:
        data = json.loads(text)
        return cls([float(t) for t in data.get("failures", [])],
                   [float(t) for t in data.get("pending", [])],
                   int(data.get("strikes", 0)), float(data.get("blocked_until", 0.0)))

    def to_json(self) -> str:
        return json.dumps({"failures": self.failures, "pending": self.pending,
                           "strikes": self.strikes, "blocked_until": self.blocked_until})

    def expires_at(self, window_s: float, max_block_s: float) -> float:
        """When this key stops mattering (then its row is deleted and strikes forgiven)."""
        return max([self.blocked_until + max_block_s, *(t + window_s for t in self.failures),
                    *self.pending])


class LoginLimiter:
    def __init__(self, store: Store, per_pair: int, per_address: int, window_s: float,
                 max_block_s: float | None = None, *, scope: str = "login",
                 clock: Callable[[], float] = time.time) -> None:
        """``store``: where the counts live (shared by every controller of the site);
        ``scope``: keeps this limiter's keys apart from another's in the same table
        (``login``, ``pair``); ``clock``: wall-clock seconds (a test moves it)."""
        self._store = store
        self.per_pair = per_pair
        self.per_address = per_address
        self.window_s = window_s
        self.max_block_s = max(window_s, max_block_s if max_block_s is not None else window_s)
        self.scope = scope
        self._clock = clock

    async def begin(self, username: str, address: str) -> int | None:
        """Count an attempt about to be checked; or, if it may not be made now, the seconds
        to wait (nothing is counted then). Each None must be followed by ``finish``."""
        now = self._clock()
        limits = self._limits(username, address)

        def work(conn: Any) -> int | None:
            states = [(key, limit, self._load(conn, key, now)) for key, limit in limits]
            blocked = [w for _, limit, state in states
                       if (w := self._wait(state, limit, now)) is not None]
            if blocked:
                return max(1, math.ceil(max(blocked)))
            for key, _, state in states:
                state.pending.append(now + PENDING_TTL_S)
                self._save(conn, key, state)
            return None
        return await self._store.transaction(work, durable=False)

    async def finish(self, username: str, address: str, *, ok: bool) -> None:
        """The outcome of an attempt ``begin`` let through."""
        now = self._clock()
        limits = self._limits(username, address)

        def work(conn: Any) -> None:
            for key, limit in limits:
                state = self._load(conn, key, now)
                _drop_one(state.pending)
                if ok and key.startswith(self._prefix("p")):
                    # the right password from here: start afresh
                    conn.execute("DELETE FROM rate_limits WHERE key = ?", (key,))
                    continue
                if not ok:
                    self._failed(state, limit, now)
                self._save(conn, key, state)
            # The address keeps its count on success: one valid account must not reset
            # the guessing of others from the same place.
        await self._store.transaction(work, durable=False)

    async def take(self, name: str, address: str) -> int | None:
        """Count an action that always costs one (e.g. an anonymous display pairing start):
        None if it may go ahead (counted as spent), else the seconds to wait."""
        wait = await self.begin(name, address)
        if wait is None:
            await self.finish(name, address, ok=False)
        return wait

    async def abandon(self, username: str, address: str) -> None:
        """An attempt ``begin`` let through was never checked (e.g. the server was busy)."""
        now = self._clock()
        limits = self._limits(username, address)

        def work(conn: Any) -> None:
            for key, _ in limits:
                state = self._load(conn, key, now)
                if state.pending:
                    _drop_one(state.pending)
                    self._save(conn, key, state)
        await self._store.transaction(work, durable=False)

    async def refusal_to_audit(self, address: str) -> int | None:
        """How many refusals from ``address`` one audit entry written now stands for; None
        while refusals are being folded into a later entry (a flood of 429s must not
        become a flood of audit writes, from one controller or several)."""
        now = self._clock()
        key = self._prefix("r") + _digest(address)

        def work(conn: Any) -> int | None:
            row = conn.execute("SELECT state FROM rate_limits WHERE key = ? AND expires_at > ?",
                               (key, now)).fetchone()
            last, folded = (-math.inf, 0)
            if row is not None:
                data = json.loads(row["state"])
                last, folded = float(data["last"]), int(data["folded"])
            if now - last < REFUSAL_AUDIT_EVERY_S:
                self._put(conn, key, {"last": last, "folded": folded + 1},
                          last + REFUSAL_AUDIT_EVERY_S)
                return None
            self._put(conn, key, {"last": now, "folded": 0}, now + REFUSAL_AUDIT_EVERY_S)
            return folded + 1
        return await self._store.transaction(work, durable=False)

    # -- internals

    def _prefix(self, kind: str) -> str:
        return f"{self.scope}:{kind}:"

    def _limits(self, username: str, address: str) -> list[tuple[str, int]]:
        name = username.strip().lower()
        return [(self._prefix("p") + _digest(f"{name}\x00{address}"), self.per_pair),
                (self._prefix("a") + _digest(address), self.per_address)]

    def _load(self, conn: Any, key: str, now: float) -> _Key:
        # rows past their expiry are gone for every key: the table never grows with
        # addresses that stopped guessing (the index on expires_at keeps this cheap)
        conn.execute("DELETE FROM rate_limits WHERE expires_at <= ?", (now,))
        row = conn.execute("SELECT state FROM rate_limits WHERE key = ?", (key,)).fetchone()
        state = _Key() if row is None else _Key.from_json(row["state"])
        state.pending = [t for t in state.pending if t > now]
        return state

    def _save(self, conn: Any, key: str, state: _Key) -> None:
        conn.execute(
            "INSERT INTO rate_limits(key, state, expires_at) VALUES(?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET state = excluded.state, "
            "expires_at = excluded.expires_at",
            (key, state.to_json(), state.expires_at(self.window_s, self.max_block_s)))

    @staticmethod
    def _put(conn: Any, key: str, data: dict[str, Any], expires_at: float) -> None:
        conn.execute(
            "INSERT INTO rate_limits(key, state, expires_at) VALUES(?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET state = excluded.state, "
            "expires_at = excluded.expires_at", (key, json.dumps(data), expires_at))

    def _wait(self, state: _Key, limit: int, now: float) -> float | None:
        if now < state.blocked_until:
            return state.blocked_until - now
        recent = sum(1 for t in state.failures if t > now - self.window_s)
        if recent + len(state.pending) >= limit:
            return 1.0                        # the last allowed attempts are being checked
        return None

    def _failed(self, state: _Key, limit: int, now: float) -> None:
        if state.strikes and now >= state.blocked_until + self.max_block_s:
            state.strikes = 0                 # quiet long enough: forgiven
        state.failures = [t for t in state.failures if t > now - self.window_s] + [now]
        if len(state.failures) >= limit:
            block = min(self.window_s * 2 ** state.strikes, self.max_block_s)
            state.strikes += 1
            state.blocked_until = now + block
            state.failures = []


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _drop_one(pending: list[float]) -> None:
    if pending:
        pending.remove(min(pending))
