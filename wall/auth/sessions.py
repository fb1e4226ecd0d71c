"""Browser sessions: a signed cookie that carries only a random session id.

The id is looked up in the ``sessions`` table on each request, so logout,
password change and "disable user" end sessions at once, not at cookie expiry.
The signature (itsdangerous) makes forged or guessed ids fail before any lookup.
"""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

from iocwall.streams.clock import now_iso
from iocwall.wall.access import Principal, Role
from iocwall.wall.config import AuthConfig
from iocwall.wall.store import Store

COOKIE_NAME = "iocwall_session"
SECRET_SETTING = "session_secret"


@dataclass(frozen=True)
class CookieSpec:
    """How the cookie is sent: HttpOnly and SameSite=Lax always; Secure per config."""
    name: str
    max_age: int
    secure: bool


async def session_secret(config: AuthConfig, store: Store) -> str:
    """The configured secret (env wins, see config.load), else one generated once and kept."""
    if config.session_secret:
        return config.session_secret
    return await store.setting_or_create(SECRET_SETTING, lambda: secrets.token_urlsafe(48))


class Sessions:
    def __init__(self, store: Store, secret: str, max_age_s: int, secure: bool = False) -> None:
        self._store = store
        self._serializer = URLSafeTimedSerializer(secret, salt="iocwall.session")
        self.cookie = CookieSpec(COOKIE_NAME, max_age_s, secure)

    async def create(self, user_id: int, client: str) -> tuple[str, str]:
        """A new session for ``user_id``: returns (session id, signed cookie value)."""
        sid = secrets.token_urlsafe(32)
        await self._store.execute(
            "INSERT INTO sessions(id, user_id, created_at, expires, client) VALUES(?, ?, ?, ?, ?)",
            (sid, user_id, now_iso(), time.time() + self.cookie.max_age, client))
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
            " ON u.id = s.user_id WHERE s.id = ? AND s.revoked = 0 AND s.expires > ?"
            " AND u.disabled = 0", (sid, time.time()))
        if row is None:
            return None
        return sid, Principal(name=row["username"], role=Role(row["role"]), unit=row["unit"],
                              user_id=int(row["id"]), via="session")

    async def revoke(self, sid: str) -> None:
        await self._store.execute("UPDATE sessions SET revoked = 1 WHERE id = ?", (sid,))

    async def revoke_user(self, user_id: int, keep: str | None = None) -> int:
        """End every session of a user (except ``keep``); returns how many."""
        return await self._store.execute(
            "UPDATE sessions SET revoked = 1 WHERE user_id = ? AND revoked = 0 AND id != ?",
            (user_id, keep or ""))

    async def purge_expired(self) -> int:
        return await self._store.execute(
            "DELETE FROM sessions WHERE expires < ? OR revoked = 1", (time.time() - 86400,))
