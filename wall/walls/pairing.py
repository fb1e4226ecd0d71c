"""Display nodes: pairing by a code on screen, admin approval, token, display session.

1. The node calls ``start`` (public): it gets a node id, a 6-digit code that it shows
   on screen, and a poll secret only it knows.
2. An admin approves the code, binding the node to monitors of a wall.
3. The node polls with its secret and receives, once, a display token (role display).
4. Its kiosk browser cannot send a bearer header on navigation, so the page POSTs
   the token once and gets an HttpOnly display-session cookie instead (``exchange``).
A display session reaches only its own display pages and the cameras on their layouts.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

from iocwall.streams.clock import now_iso
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


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class PairingStart:
    node: str
    code: str
    secret: str


class Pairing:
    def __init__(self, store: Store, walls: WallStore, tokens: Tokens, secret: str) -> None:
        self._store = store
        self._walls = walls
        self._tokens = tokens
        self._signer = URLSafeTimedSerializer(secret, salt="iocwall.display")

    async def start(self, name: str) -> PairingStart:
        name = name.strip()[:100] or "display"
        node, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        code = f"{secrets.randbelow(1_000_000):06d}"
        await self._store.execute(
            "INSERT INTO display_nodes(id, name, code, poll_hash, state, created_at)"
            " VALUES(?, ?, ?, ?, 'pending', ?)", (node, name, code, _hash(secret), now_iso()))
        return PairingStart(node, code, secret)

    async def approve(self, code: str, wall: str, monitors: dict[str, str], by: str) -> str:
        """Bind the node showing ``code`` to ``monitors`` (monitor id -> output); its id."""
        row = await self._store.fetchone(
            "SELECT id, created_at FROM display_nodes WHERE code = ? AND state = 'pending'",
            (code,))
        if row is None:
            raise ApiError(404, "not_found", "no display waits with this code / sai mã", "code")
        await self._walls.wall(wall)
        if not monitors:
            raise ApiError(422, "invalid", "bind at least one monitor", "monitors")
        for monitor, output in monitors.items():
            await self._walls.bind(wall, monitor, row["id"], output)
        await self._store.execute(
            "UPDATE display_nodes SET state = 'approved', code = '', wall = ?, approved_by = ?"
            " WHERE id = ?", (wall, by, row["id"]))
        return str(row["id"])

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
        if row["state"] != "approved" or row["token"]:
            return str(row["state"]), None
        # Made by the server, not by the approving admin: a wall must not go dark when
        # that admin's account is disabled (the approval itself is in the audit log).
        _, token = await self._tokens.create(TOKEN_LABEL + node, Role.DISPLAY)
        await self._store.execute("UPDATE display_nodes SET token = 'issued' WHERE id = ?",
                                  (node,))
        return "approved", token

    async def pending(self) -> list[dict[str, str]]:
        rows = await self._store.fetchall(
            "SELECT id, name, code, created_at FROM display_nodes WHERE state = 'pending'"
            " ORDER BY created_at")
        return [dict(r) for r in rows]

    async def exchange(self, who: Principal) -> str:
        """A display token's principal -> a signed display-session cookie value."""
        if who.role is not Role.DISPLAY or not who.name.startswith("token:" + TOKEN_LABEL):
            raise ApiError(403, "forbidden", "only a paired display token / chỉ màn hình")
        node = who.name.removeprefix("token:" + TOKEN_LABEL)
        sid = secrets.token_urlsafe(32)
        await self._store.execute(
            "INSERT INTO display_sessions(id, node, created_at, expires) VALUES(?, ?, ?, ?)",
            (session_id_hash(sid), node, now_iso(), time.time() + SESSION_MAX_AGE_S))
        return self._signer.dumps(sid)

    async def resolve(self, cookie: str) -> Principal | None:
        try:
            sid = self._signer.loads(cookie, max_age=SESSION_MAX_AGE_S)
        except BadSignature:
            return None
        row = await self._store.fetchone(
            "SELECT n.id FROM display_sessions s JOIN display_nodes n ON n.id = s.node"
            " WHERE s.id = ? AND s.revoked = 0 AND s.expires > ? AND n.state = 'approved'",
            (session_id_hash(sid), time.time()))
        if row is None:
            return None
        return Principal(name=f"display:{row['id']}", role=Role.DISPLAY, via="display")

    async def revoke(self, node: str) -> None:
        await self._store.execute("UPDATE display_nodes SET state = 'revoked' WHERE id = ?",
                                  (node,))
        await self._store.execute("UPDATE display_sessions SET revoked = 1 WHERE node = ?",
                                  (node,))


def node_of(who: Principal | None) -> str | None:
    """The display node behind a display session or display token, else None."""
    if who is None or who.role is not Role.DISPLAY:
        return None
    for prefix in ("display:", "token:" + TOKEN_LABEL):
        if who.name.startswith(prefix):
            return who.name.removeprefix(prefix)
    return None
