"""The outbox table: enqueue, claim what is due, record outcomes, resend, list.

A message is a row before anything is sent; the sender (sender.py) only ever works on
rows it claimed. A claim is a lease: ``claim_until`` seconds from now, with an owner.
A sender that dies mid-send leaves the claim to expire and another (or the restarted one)
takes the row up again with the same delivery id, so the receiver can drop the duplicate.
Outcomes are written only by the claim's owner: a sender whose lease ran out while a slow
gateway answered cannot overwrite the newer owner's result.
"""
from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from iocwall.streams.clock import iso_from_epoch
from iocwall.wall.notify.message import Draft, Message, State
from iocwall.wall.store import Store

MAX_LIST = 500


class Outbox:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def enqueue(self, draft: Draft, now: float | None = None) -> int | None:
        """Store ``draft`` as a pending message due now; the new id, or None when a message
        with the same idempotency key exists already (the same event enqueued twice)."""
        now = time.time() if now is None else now
        at = iso_from_epoch(now)

        def work(conn: sqlite3.Connection) -> int | None:
            row = conn.execute(
                "INSERT INTO notify_outbox(channel, recipient, kind, province, subject_vi,"
                " subject_en, body_vi, body_en, payload, idem_key, next_attempt_at, due_epoch,"
                " created_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(idem_key) DO NOTHING RETURNING id",
                (draft.channel.value, draft.recipient, draft.kind, draft.province,
                 draft.subject_vi, draft.subject_en, draft.body_vi, draft.body_en,
                 json.dumps(draft.payload, ensure_ascii=False), draft.idem_key, at, now,
                 at)).fetchone()
            return int(row["id"]) if row is not None else None
        return await self._store.transaction(work)

    async def claim(self, owner: str, limit: int, lease_s: float,
                    now: float | None = None) -> list[Message]:
        """Up to ``limit`` due pending messages, leased to ``owner`` for ``lease_s``."""
        now = time.time() if now is None else now

        def work(conn: sqlite3.Connection) -> list[Message]:
            rows = conn.execute(
                "SELECT id FROM notify_outbox WHERE state = 'pending' AND due_epoch <= ?"
                " AND (claim_until IS NULL OR claim_until < ?) ORDER BY due_epoch, id LIMIT ?",
                (now, now, limit)).fetchall()
            claimed = []
            for row in rows:
                conn.execute("UPDATE notify_outbox SET claim_until = ?, claim_owner = ?"
                             " WHERE id = ?", (now + lease_s, owner, row["id"]))
                found = conn.execute("SELECT * FROM notify_outbox WHERE id = ?",
                                     (row["id"],)).fetchone()
                claimed.append(Message.from_row(found))
            return claimed
        return await self._store.transaction(work)

    async def sent(self, message_id: int, owner: str, now: float | None = None) -> bool:
        """Record a delivery; False when ``owner`` no longer held the claim."""
        at = iso_from_epoch(time.time() if now is None else now)
        return await self._finish(
            "UPDATE notify_outbox SET state = 'sent', attempts = attempts + 1, sent_at = ?,"
            " last_error = '', claim_until = NULL, claim_owner = NULL"
            " WHERE id = ? AND claim_owner = ? AND state = 'pending'",
            (at, message_id, owner))

    async def retry(self, message_id: int, owner: str, reason: str, due: float) -> bool:
        """Record a failed try that will be tried again at ``due`` (epoch seconds)."""
        return await self._finish(
            "UPDATE notify_outbox SET attempts = attempts + 1, last_error = ?,"
            " next_attempt_at = ?, due_epoch = ?, claim_until = NULL, claim_owner = NULL"
            " WHERE id = ? AND claim_owner = ? AND state = 'pending'",
            (reason, iso_from_epoch(due), due, message_id, owner))

    async def failed(self, message_id: int, owner: str, reason: str) -> bool:
        """Record the last failed try: no more retries."""
        return await self._finish(
            "UPDATE notify_outbox SET state = 'failed', attempts = attempts + 1,"
            " last_error = ?, claim_until = NULL, claim_owner = NULL"
            " WHERE id = ? AND claim_owner = ? AND state = 'pending'",
            (reason, message_id, owner))

    async def release(self, message_id: int, owner: str) -> None:
        """Give a claim back untried (the sender is stopping): due again at once."""
        await self._store.execute(
            "UPDATE notify_outbox SET claim_until = NULL, claim_owner = NULL"
            " WHERE id = ? AND claim_owner = ? AND state = 'pending'", (message_id, owner))

    async def _finish(self, sql: str, params: tuple[Any, ...]) -> bool:
        return await self._store.execute(sql, params) == 1

    async def resend(self, message_id: int, now: float | None = None) -> Message | None:
        """Queue a failed or sent message again as a new attempt series (attempts from 0,
        a new delivery id). None when there is no such message; a pending one is returned
        unchanged (it is being tried already)."""
        now = time.time() if now is None else now

        def work(conn: sqlite3.Connection) -> Message | None:
            conn.execute(
                "UPDATE notify_outbox SET state = 'pending', series = series + 1, attempts = 0,"
                " last_error = '', next_attempt_at = ?, due_epoch = ?, claim_until = NULL,"
                " claim_owner = NULL, sent_at = NULL WHERE id = ? AND state <> 'pending'",
                (iso_from_epoch(now), now, message_id))
            row = conn.execute("SELECT * FROM notify_outbox WHERE id = ?",
                               (message_id,)).fetchone()
            return Message.from_row(row) if row is not None else None
        return await self._store.transaction(work)

    async def get(self, message_id: int) -> Message | None:
        row = await self._store.fetchone("SELECT * FROM notify_outbox WHERE id = ?",
                                         (message_id,))
        return Message.from_row(row) if row is not None else None

    async def list(self, state: State | None = None, limit: int = 100,
                   before_id: int = 0) -> list[Message]:
        """Newest first; ``before_id`` pages back (0 = from the newest)."""
        clauses, params = [], list[Any]()
        if state is not None:
            clauses.append("state = ?")
            params.append(state.value)
        if before_id:
            clauses.append("id < ?")
            params.append(before_id)
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        rows = await self._store.fetchall(
            f"SELECT * FROM notify_outbox{where} ORDER BY id DESC LIMIT ?",
            [*params, min(max(limit, 1), MAX_LIST)])
        return [Message.from_row(r) for r in rows]

    async def next_due(self) -> float | None:
        """Epoch seconds of the earliest pending message (None: nothing pending)."""
        row = await self._store.fetchone(
            "SELECT MIN(CASE WHEN claim_until IS NOT NULL AND claim_until > due_epoch"
            " THEN claim_until ELSE due_epoch END) AS due FROM notify_outbox"
            " WHERE state = 'pending'")
        return float(row["due"]) if row and row["due"] is not None else None
