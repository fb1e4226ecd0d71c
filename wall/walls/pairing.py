"""Display nodes: pairing by a code on screen, admin approval, token, display session.

1. The node calls ``start`` (public, rate-limited per address by the route): it gets a
   node id, an 8-character code that it shows on screen, and a poll secret only it knows.
   The code is unique among open pairings (a unique index), the pairing expires after
   ``ttl_s``, and at most ``max_open`` pairings are open at once (a flood cannot fill
   the database).
2. An admin approves the code, binding the node to monitors of a wall; the listing shows
   each node's address, browser and first-seen time, so the admin knows which one it is.
3. The node polls with its secret and receives, once, a display token (role display).
4. Its kiosk browser cannot send a bearer header on navigation, so the page POSTs
   the token once and gets an HttpOnly display-session cookie instead (``exchange``).
A display session reaches only its own display pages and the cameras on their layouts.
Revoking a node ends its token and its sessions in one transaction.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

from iocwall.streams.clock import iso_from_epoch, now_iso
from iocwall.wall.access import Principal, Role
from iocwall.wall.auth import Tokens
from iocwall.wall.auth.sessions import session_id_hash
from iocwall.wall.errors import ApiError
from iocwall.wall.store import Store
from iocwall.wall.walls.store import WallStore

COOKIE = "iocwall_display"
TOKEN_LABEL = "display-node:"
SESSION_MAX_AGE_S = 30 * 86400        # a kiosk runs for weeks; revoking the node ends it at once
PAIRING_TTL_S = 15 * 60
MAX_OPEN = 200
# Typed from a wall screen: no 0/O, 1/I/L. 31**8 ~ 8.5e11 codes: even with MAX_OPEN open
# pairings a guesser needs ~4e9 tries per hit, against a per-address rate limit.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8
CODE_TRIES = 5


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def shown_code(code: str) -> str:
    """How the code is shown: two groups of four (``ABCD-EFGH``)."""
    return f"{code[:4]}-{code[4:]}" if len(code) == CODE_LENGTH else code


def normalise_code(text: str) -> str:
    """What an admin typed -> the stored code (case, spaces and dashes do not matter)."""
    return "".join(c for c in text.upper() if c not in " -")


@dataclass(frozen=True)
class PairingStart:
    node: str
    code: str
    secret: str
    expires_at: str


class Pairing:
    def __init__(self, store: Store, walls: WallStore, tokens: Tokens, secret: str,
                 ttl_s: float = PAIRING_TTL_S, max_open: int = MAX_OPEN) -> None:
        """``ttl_s``: an unapproved pairing's life; ``max_open``: open pairings at once."""
        self._store = store
        self._walls = walls
        self._tokens = tokens
        self._signer = URLSafeTimedSerializer(secret, salt="iocwall.display")
        self.ttl_s = ttl_s
        self.max_open = max_open

    async def start(self, name: str, address: str, user_agent: str) -> PairingStart:
        name = name.strip()[:100] or "display"
        node, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        expires = time.time() + self.ttl_s
        row = (node, name, _hash(secret), now_iso(), address[:100], user_agent[:200], expires)
        for _ in range(CODE_TRIES):
            code = new_code()
            try:
                await self._store.transaction(functools.partial(self._insert, code=code, row=row))
            except sqlite3.IntegrityError:      # that code is open already: draw another
                continue
            return PairingStart(node, shown_code(code), secret, iso_from_epoch(expires))
        raise ApiError(503, "busy", "no free pairing code, try again / thử lại",
                       headers={"Retry-After": "1"})

    def _insert(self, conn: sqlite3.Connection, code: str, row: tuple[Any, ...]) -> None:
        conn.execute("DELETE FROM display_nodes WHERE state = 'pending' AND expires <= ?",
                     (time.time(),))
        count = conn.execute("SELECT COUNT(*) FROM display_nodes WHERE state = 'pending'"
                             ).fetchone()[0]
        if count >= self.max_open:
            retry = max(1, round(self.ttl_s / 10))
            raise ApiError(503, "too_many_pairings", "too many displays wait for approval; try "
                           "later / quá nhiều màn hình đang chờ duyệt, thử lại sau",
                           headers={"Retry-After": str(retry)})
        node, name, poll_hash, created, address, agent, expires = row
        conn.execute(
            "INSERT INTO display_nodes(id, name, code, poll_hash, state, created_at, address,"
            " user_agent, expires) VALUES(?, ?, ?, ?, 'pending', ?, ?, ?, ?)",
            (node, name, code, poll_hash, created, address, agent, expires))

    async def approve(self, code: str, wall: str, monitors: dict[str, str], by: str,
                      by_token: int | None = None) -> dict[str, str]:
        """Bind the open pairing showing ``code`` to ``monitors`` (monitor id -> output);
        returns the node approved (id, name, address, user agent, first seen).
        ``by_token``: the approving admin's token, if it used one: the display token made
        for this node will not outlive it."""
        row = await self._store.fetchone(
            "SELECT id, name, address, user_agent, created_at FROM display_nodes"
            " WHERE code = ? AND state = 'pending' AND expires > ?",
            (normalise_code(code), time.time()))
        if row is None:
            raise ApiError(404, "not_found", "no display waits with this code (or it expired) "
                           "/ sai mã hoặc mã đã hết hạn", "code")
        await self._walls.wall(wall)
        if not monitors:
            raise ApiError(422, "invalid", "bind at least one monitor", "monitors")
        for monitor, output in monitors.items():
            await self._walls.bind(wall, monitor, row["id"], output)
        await self._store.execute(
            "UPDATE display_nodes SET state = 'approved', code = '', wall = ?, approved_by = ?,"
            " approved_token = ? WHERE id = ?", (wall, by, by_token, row["id"]))
        return _node_json(row)

    async def bound(self, node: str) -> tuple[str, list[tuple[str, str]]]:
        """(wall, [(monitor, output)]) the node shows."""
        rows = await self._store.fetchall(
            "SELECT wall, id, output FROM monitors WHERE node = ? ORDER BY row, col", (node,))
        return (rows[0]["wall"] if rows else ""), [(r["id"], r["output"]) for r in rows]

    async def poll(self, node: str, secret: str) -> tuple[str, str | None]:
        """(state, token): the token comes once, on the first poll after approval."""
        row = await self._store.fetchone("SELECT * FROM display_nodes WHERE id = ?", (node,))
        if row is None or not hmac.compare_digest(row["poll_hash"], _hash(secret)):
            raise ApiError(404, "not_found", "unknown pairing / không có yêu cầu ghép nối")
        if row["state"] == "pending" and row["expires"] <= time.time():
            raise ApiError(404, "not_found", "pairing expired, pair again / ghép nối đã hết "
                           "hạn, hãy ghép lại")
        if row["state"] != "approved" or row["token"]:
            return str(row["state"]), None
        # Approved in a session: made by the server, not by the admin, so a wall does not
        # go dark when that account is disabled (the approval is in the audit log).
        # Approved with an admin token: bound to that token (its expiry, revocation, owner).
        info, token = await self._tokens.create(TOKEN_LABEL + node, Role.DISPLAY,
                                                parent_id=row["approved_token"])
        handed = await self._store.execute(
            "UPDATE display_nodes SET token = 'issued' WHERE id = ? AND state = 'approved'"
            " AND token = ''", (node,))
        if not handed:                          # revoked meanwhile: the token must not live
            await self._tokens.revoke(info.id)
            return "revoked", None
        return "approved", token

    async def pending(self) -> list[dict[str, str]]:
        """Open pairings, oldest first, with what tells the admin which node each is."""
        await self._store.execute(
            "DELETE FROM display_nodes WHERE state = 'pending' AND expires <= ?", (time.time(),))
        rows = await self._store.fetchall(
            "SELECT id, name, code, address, user_agent, created_at, expires FROM display_nodes"
            " WHERE state = 'pending' ORDER BY created_at")
        return [{**_node_json(r), "code": shown_code(r["code"]),
                 "expires_at": iso_from_epoch(r["expires"])} for r in rows]

    async def nodes(self) -> list[dict[str, str]]:
        """Paired nodes (approved, not revoked), oldest first: id, name, wall, address,
        browser, first seen and who approved them."""
        rows = await self._store.fetchall(
            "SELECT id, name, wall, address, user_agent, created_at, approved_by"
            " FROM display_nodes WHERE state = 'approved' ORDER BY created_at")
        return [{**_node_json(r), "wall": r["wall"], "approved_by": r["approved_by"]}
                for r in rows]

    async def exchange(self, who: Principal) -> tuple[str, str]:
        """A display token's principal -> (its node, a signed display-session cookie value)."""
        if who.role is not Role.DISPLAY or not who.name.startswith("token:" + TOKEN_LABEL):
            raise ApiError(403, "forbidden", "only a paired display token / chỉ màn hình")
        node = who.name.removeprefix("token:" + TOKEN_LABEL)
        sid = secrets.token_urlsafe(32)

        def insert(conn: sqlite3.Connection) -> bool:
            # The state check and the insert in one transaction: a revoke cannot slip between.
            state = conn.execute("SELECT state FROM display_nodes WHERE id = ?",
                                 (node,)).fetchone()
            if state is None or state[0] != "approved":
                return False
            conn.execute(
                "INSERT INTO display_sessions(id, node, created_at, expires) VALUES(?, ?, ?, ?)",
                (session_id_hash(sid), node, now_iso(), time.time() + SESSION_MAX_AGE_S))
            return True
        if not await self._store.transaction(insert):
            raise ApiError(403, "forbidden", "display revoked / màn hình đã bị thu hồi")
        return node, self._signer.dumps(sid)

    async def resolve(self, cookie: str) -> Principal | None:
        try:
            sid = self._signer.loads(cookie, max_age=SESSION_MAX_AGE_S)
        except BadSignature:
            return None
        row = await self._store.fetchone(
            "SELECT n.id FROM display_sessions s JOIN display_nodes n ON n.id = s.node"
            " WHERE s.id = ? AND s.revoked = 0 AND s.expires > ? AND n.state = 'approved'",
            (session_id_hash(sid), time.time()))
        # A session lives no longer than the display token it was made from (its expiry,
        # and when an admin token approved the pairing, that token's rules).
        if row is None or not await self._tokens.valid(TOKEN_LABEL + row["id"]):
            return None
        return Principal(name=f"display:{row['id']}", role=Role.DISPLAY, via="display")

    async def revoke(self, node: str) -> bool:
        """End the node at once, in one transaction: its state, its display sessions and its
        display token. False if there is no such node."""
        def work(conn: sqlite3.Connection) -> bool:
            found = conn.execute("UPDATE display_nodes SET state = 'revoked', code = ''"
                                 " WHERE id = ?", (node,)).rowcount
            if not found:
                return False
            conn.execute("DELETE FROM display_sessions WHERE node = ?", (node,))
            conn.execute("UPDATE tokens SET revoked_at = ? WHERE label = ? COLLATE NOCASE"
                         " AND revoked_at IS NULL", (now_iso(), TOKEN_LABEL + node))
            return True
        return await self._store.transaction(work)


def _node_json(row: dict[str, Any]) -> dict[str, str]:
    return {"node": row["id"], "name": row["name"], "address": row["address"],
            "user_agent": row["user_agent"], "first_seen": row["created_at"]}


def node_of(who: Principal | None) -> str | None:
    """The display node behind a display session or display token, else None."""
    if who is None or who.role is not Role.DISPLAY:
        return None
    for prefix in ("display:", "token:" + TOKEN_LABEL):
        if who.name.startswith(prefix):
            return who.name.removeprefix(prefix)
    return None
