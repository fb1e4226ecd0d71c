"""Browser sessions: a signed cookie that carries only a random session id.

The id is looked up in the ``sessions`` table on each request, so logout,
password change and "disable user" end sessions at once, not at cookie expiry.
The signature (itsdangerous) makes forged or guessed ids fail before any lookup.

At rest: the table keeps only the sha256 of each id (like bearer tokens), and the
signing key lives in ``<data_dir>/session.key`` (0600), never in the database, so
a copy of the database lets nobody forge or replay a cookie. Controllers that share a
PostgreSQL store must share the key too (checked at start: wall/auth/key_check.py).
"""
from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer

from iocwall.streams.clock import now_iso
from iocwall.wall.access import Principal, Role
from iocwall.wall.config import AuthConfig
from iocwall.wall.private_files import read_or_create_secret
from iocwall.wall.store import Store

COOKIE_NAME = "iocwall_session"
KEY_FILE = "session.key"


@dataclass(frozen=True)
class CookieSpec:
    """How the cookie is sent: HttpOnly and SameSite=Lax always; Secure per config."""
    name: str
    max_age: int
    secure: bool


def session_id_hash(sid: str) -> str:
    """What the database keeps of a session id (256 random bits: a plain sha256 suffices)."""
    return hashlib.sha256(sid.encode()).hexdigest()


async def session_secret(config: AuthConfig, data_dir: Path) -> str:
    """The configured secret (env wins, see config.load), else the one generated once into
    ``data_dir/session.key``. Raises UnsafeDataDir if that file is readable by others."""
    if config.session_secret:
        return config.session_secret
    return await asyncio.to_thread(read_or_create_secret, data_dir / KEY_FILE,
                                   lambda: secrets.token_urlsafe(48))


class Sessions:
    def __init__(self, store: Store, secret: str, max_age_s: int, secure: bool = False) -> None:
        self._store = store
        self._serializer = URLSafeTimedSerializer(secret, salt="iocwall.session")
        self.cookie = CookieSpec(COOKIE_NAME, max_age_s, secure)

    async def create(self, user_id: int, client: str) -> tuple[str, str]:
        """A new session for ``user_id``: returns (session id, signed cookie value)."""
        sid = secrets.token_urlsafe(32)
        await self._store.execute(
            "INSERT INTO sessions(id_hash, user_id, created_at, expires, client)"
            " VALUES(?, ?, ?, ?, ?)",
            (session_id_hash(sid), user_id, now_iso(), time.time() + self.cookie.max_age, client))
        return sid, self._serializer.dumps(sid)

    def session_id(self, cookie_value: str) -> str | None:
        try:
            sid = self._serializer.loads(cookie_value, max_age=self.cookie.max_age)
        except BadSignature:      # also covers SignatureExpired
            return None
        return sid if isinstance(sid, str) else None

    async def resolve(self, cookie_value: str) -> tuple[str, Principal] | None:
        """(session id, principal) for a valid, live session of an enabled user."""
        sid = self.session_id(cookie_value)
        if sid is None:
            return None
        row = await self._store.fetchone(
            "SELECT u.id, u.username, u.role, u.unit FROM sessions s JOIN users u"
            " ON u.id = s.user_id WHERE s.id_hash = ? AND s.revoked = 0 AND s.expires > ?"
            " AND u.disabled = 0", (session_id_hash(sid), time.time()))
        if row is None:
            return None
        return sid, Principal(name=row["username"], role=Role(row["role"]), unit=row["unit"],
                              user_id=int(row["id"]), via="session")

    async def revoke(self, sid: str) -> None:
        await self._store.execute("UPDATE sessions SET revoked = 1 WHERE id_hash = ?",
                                  (session_id_hash(sid),))

    async def revoke_user(self, user_id: int, keep: str | None = None) -> int:
        """End every session of a user (except ``keep``); returns how many."""
        return await self._store.execute(
            "UPDATE sessions SET revoked = 1 WHERE user_id = ? AND revoked = 0 AND id_hash != ?",
            (user_id, session_id_hash(keep) if keep else ""))

    async def purge_expired(self) -> int:
        return await self._store.execute(
            "DELETE FROM sessions WHERE expires < ? OR revoked = 1", (time.time() - 86400,))
