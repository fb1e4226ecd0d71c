"""The leader lease in the shared store, with its fencing epoch (streams/leadership.py).

    lease = Lease(store, "a1b2c3", ttl_s=5, renew_s=1)
    wait = await lease.renew()     # one try: take a free or expired lease, or keep ours
    lease.is_leader(), lease.epoch(), lease.holder()
    await lease.release()          # a clean stop: the next controller takes over at once

One row of ``leader_lease`` per lease. Expiry is judged by the DATABASE's clock in SQL
(dialect.DB_NOW), never by a controller's: machines whose clocks disagree still agree on
who leads. Taking and keeping the lease is one atomic UPDATE; the epoch grows by one only
when the holder changes (a renewal keeps it).

Locally the holder stops acting before the lease can expire in the store: a renewal sent
at monotonic time t makes this process the leader until t + ttl - margin on its own
monotonic clock (the store counts ttl from a later instant, the UPDATE). ``is_leader()``
reads the clock itself, so a process that was paused (SIGSTOP, a long GC) knows it is no
longer the leader the moment it runs again, before its loop gets a turn.

Writes of leader duties check the epoch inside their own transaction: ``fenced(conn,
epoch)`` raises ``StaleLeader`` when the lease has moved on, so a write decided by a leader
that was paused in between is refused by the store.
"""
from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from typing import Any

from iocwall.streams.leadership import LeaderChange
from iocwall.wall.store import Store
from iocwall.wall.store.dialect import DB_NOW

log = logging.getLogger(__name__)
STOPPING = "stopping"          # the reason a clean stop gives up the lease
LEADER = "leader"
MARGIN = 0.2              # of the ttl: stop acting this long before the store's expiry


class StaleLeader(RuntimeError):
    """A leader duty's write, refused: the lease moved on (another controller leads)."""


def fenced(conn: Any, epoch: int | None, name: str = LEADER) -> None:
    """Inside a transaction: go on only while lease ``name`` is still held, unexpired, with
    ``epoch``; else raise StaleLeader (the transaction rolls back). ``epoch`` None: not
    fenced (a controller alone, with no lease in the store)."""
    if epoch is None:
        return
    dialect = "sqlite" if isinstance(conn, sqlite3.Connection) else "postgresql"
    row = conn.execute(f"SELECT holder, epoch, expires_at - {DB_NOW[dialect]} AS remaining"
                       " FROM leader_lease WHERE name = ?", (name,)).fetchone()
    if row is None or row["holder"] is None or int(row["epoch"]) != epoch \
            or float(row["remaining"]) <= 0:
        now = "none" if row is None else f"epoch {row['epoch']} held by {row['holder']}"
        raise StaleLeader(f"stale leader: this write was decided under epoch {epoch}, the "
                          f"lease is now {now}; refused")


class Lease:
    """``store``: the shared store (open); ``me``: this controller's id (unique per process);
    ``ttl_s``: the lease's lifetime; ``renew_s``: how often ``renew`` is meant to run."""

    def __init__(self, store: Store, me: str, ttl_s: float, renew_s: float,
                 name: str = LEADER) -> None:
        self._store, self.me, self.name = store, me, name
        self.ttl_s, self.renew_s = ttl_s, renew_s
        self.margin_s = ttl_s * MARGIN
        self._epoch = 0                   # the epoch we hold; 0: none
        self._valid_until = 0.0           # monotonic: we act until then
        self._holder: str | None = None   # as last read
        self._holder_until = 0.0          # monotonic: ... whose lease runs until then
        self._seen_epoch = 0
        self._callbacks: list[LeaderChange] = []
        self._lock = asyncio.Lock()
        self._expiry: asyncio.TimerHandle | None = None
        self._sql = _Sql(store.dialect)

    # -- Leadership

    def is_leader(self) -> bool:
        return self._epoch > 0 and time.monotonic() < self._valid_until

    def epoch(self) -> int:
        return self._epoch if self.is_leader() else 0

    def holder(self) -> str | None:
        if self.is_leader():
            return self.me
        return self._holder if time.monotonic() < self._holder_until else None

    def seen_epoch(self) -> int:
        """The lease's epoch as last read (whoever holds it)."""
        return self._seen_epoch

    def on_change(self, callback: LeaderChange) -> None:
        self._callbacks.append(callback)

    # -- the store

    async def ensure_row(self) -> None:
        """Create the lease's row if missing; a row someone deleted comes back with the
        highest epoch seen here, so that the epochs the displays know keep growing."""
        await self._store.execute("INSERT INTO leader_lease(name, holder, epoch, expires_at)"
                                  " VALUES(?, NULL, ?, 0) ON CONFLICT(name) DO NOTHING",
                                  (self.name, self._seen_epoch))

    async def renew(self) -> float:
        """One try: keep our lease, or take it when it is free or expired. Returns how long
        to wait before the next try (a follower tries again right when the holder's lease
        expires, if that is sooner than ``renew_s``). A store error is raised; the lease is
        then kept locally until its margin runs out (``_expired``)."""
        sent = time.monotonic()
        held = self._epoch if self.is_leader() else 0
        params = {"name": self.name, "me": self.me, "held": held, "ttl": self.ttl_s}

        def work(conn: Any) -> dict[str, Any] | None:
            won = conn.execute(self._sql.take, params).fetchone()
            row = conn.execute(self._sql.read, {"name": self.name}).fetchone()
            if row is None:
                return None
            return {"won": won is not None, "holder": row["holder"], "epoch": int(row["epoch"]),
                    "remaining": float(row["remaining"])}
        got = await self._store.transaction(work)
        if got is None:                    # the row was deleted: nobody holds it now
            await self._lose("the lease's row is gone from the store")
            await self.ensure_row()
            return 0.0
        self._seen_epoch = got["epoch"]
        self._holder = got["holder"]
        self._holder_until = time.monotonic() + max(0.0, got["remaining"])
        if got["won"]:
            await self._gain(got["epoch"], sent + self.ttl_s - self.margin_s)
            return max(0.0, self.renew_s - (time.monotonic() - sent))
        if self._epoch:
            await self._lose("the lease is held by another controller")
        if got["holder"] is None:          # (taken by nobody, yet not by us: try later)
            return self.renew_s
        return min(self.renew_s, max(0.02, got["remaining"] + 0.02))

    async def release(self) -> int:
        """A clean stop: step down, then free the lease in the store (if still ours).
        Returns the epoch released (0: none was held)."""
        epoch = self._epoch
        await self._lose(STOPPING)
        if not epoch:
            return 0
        await self._store.execute(self._sql.release,
                                  {"name": self.name, "me": self.me, "held": epoch})
        self._holder = None
        log.info("leader lease %s released (epoch %d)", self.name, epoch)
        return epoch

    # -- local state

    async def _gain(self, epoch: int, valid_until: float) -> None:
        if valid_until <= time.monotonic():
            # the renewal took longer than the safe time: not acted on (the lease expires
            # in the store and is taken again, with a new epoch)
            log.warning("leader lease renewal too slow (over %.1f s); not acting on it",
                        self.ttl_s - self.margin_s)
            await self._lose("the renewal came back too late")
            return
        async with self._lock:
            new = self._epoch != epoch
            self._epoch, self._valid_until = epoch, valid_until
            self._schedule_expiry()
            if not new:
                return
            # info: taking the lease is the normal start of a controller (a lone demo too)
            log.info("this controller (%s) is now the leader, epoch %d", self.me, epoch)
            await self._tell(True, epoch)

    async def _lose(self, why: str) -> None:
        async with self._lock:
            if not self._epoch:
                return
            epoch, self._epoch, self._valid_until = self._epoch, 0, 0.0
            if self._expiry is not None:
                self._expiry.cancel()
                self._expiry = None
            # a warning unless it stepped down because it is stopping (a clean hand-over)
            log.log(logging.INFO if why == STOPPING else logging.WARNING,
                    "this controller (%s) is no longer the leader (epoch %d): %s",
                    self.me, epoch, why)
            await self._tell(False, epoch)

    def _schedule_expiry(self) -> None:
        """Step down when the local validity ends without a renewal (store slow or gone):
        the loop may be stuck in a store call, the timer is not."""
        if self._expiry is not None:
            self._expiry.cancel()
        loop = asyncio.get_running_loop()
        self._expiry = loop.call_at(loop.time() + max(0.0, self._valid_until - time.monotonic()),
                                    self._expired)

    def _expired(self) -> None:
        self._expiry = None
        if self._epoch and not self.is_leader():
            task = asyncio.get_running_loop().create_task(
                self._lose("no renewal succeeded within the lease's safe time"))
            _background.add(task)
            task.add_done_callback(_background.discard)

    async def _tell(self, leading: bool, epoch: int) -> None:
        for callback in self._callbacks:
            try:
                await callback(leading, epoch)
            except Exception:
                log.exception("leader change callback failed")


_background: set[asyncio.Task[None]] = set()


class _Sql:
    """The lease's statements for one engine (only the clock expression differs)."""

    def __init__(self, dialect: str) -> None:
        now = DB_NOW[dialect]
        mine = "(holder = :me AND epoch = :held)"
        # Keep ours, or take a free or expired one; the epoch grows when the holder changes
        # (a restarted controller is a new holder: it has a new id, or held = 0).
        self.take = (
            f"UPDATE leader_lease SET epoch = CASE WHEN {mine} THEN epoch ELSE epoch + 1 END,"
            f" holder = :me, expires_at = {now} + :ttl"
            f" WHERE name = :name AND ({mine} OR holder IS NULL OR expires_at <= {now})"
            " RETURNING epoch")
        self.read = (f"SELECT holder, epoch, expires_at - {now} AS remaining"
                     " FROM leader_lease WHERE name = :name")
        self.release = ("UPDATE leader_lease SET holder = NULL, expires_at = 0"
                        f" WHERE name = :name AND {mine}")
