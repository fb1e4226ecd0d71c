"""Bearer tokens for scripts and display nodes: shown once, stored as a sha256 hash.

A token is 256 random bits, so a plain (unsalted) sha256 is enough: there is
nothing to brute-force, and the hash allows an indexed lookup per request.
"""
from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

from iocwall.streams.clock import now_iso
from iocwall.wall.access import Principal, Role
from iocwall.wall.auth.users import check_role_unit
from iocwall.wall.errors import ApiError
from iocwall.wall.store import Store

PREFIX = "iwt_"
LAST_USED_EVERY_S = 60.0     # write last_used at most this often per token, not per request
_COLUMNS = "id, label, role, unit, created_at, created_by, last_used, revoked_at"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class TokenInfo:
    id: int
    label: str
    role: Role
    unit: str
    created_at: str
    created_by: str
    last_used: str | None
    revoked_at: str | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> TokenInfo:
        return cls(id=int(row["id"]), label=row["label"], role=Role(row["role"]), unit=row["unit"],
                   created_at=row["created_at"], created_by=row["created_by"],
                   last_used=row["last_used"], revoked_at=row["revoked_at"])

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label, "role": self.role.value, "unit": self.unit,
                "created_at": self.created_at, "created_by": self.created_by,
                "last_used": self.last_used, "revoked_at": self.revoked_at}

    def summary(self) -> dict[str, Any]:
        return {"label": self.label, "role": self.role.value, "unit": self.unit,
                "revoked": self.revoked_at is not None}


class Tokens:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._touched: dict[int, float] = {}

    async def create(self, label: str, role: Role, unit: str = "",
                     created_by: str = "") -> tuple[TokenInfo, str]:
        """A new token: returns (its record, the token itself — shown once, never again)."""
        label = label.strip()
        if not 1 <= len(label) <= 100:
            raise ApiError(422, "invalid", "label: 1-100 characters / nhãn 1-100 ký tự", "label")
        unit = check_role_unit(role, unit)
        token = PREFIX + secrets.token_urlsafe(32)
        token_id = await self._store.execute(
            "INSERT INTO tokens(label, token_hash, role, unit, created_at, created_by)"
            " VALUES(?, ?, ?, ?, ?, ?)",
            (label, token_hash(token), role.value, unit, now_iso(), created_by))
        return await self.require(token_id), token

    async def require(self, token_id: int) -> TokenInfo:
        row = await self._store.fetchone(f"SELECT {_COLUMNS} FROM tokens WHERE id = ?",
                                         (token_id,))
        if row is None:
            raise ApiError(404, "not_found", "no such token / không có mã truy cập này")
        return TokenInfo.from_row(row)

    async def list(self) -> list[TokenInfo]:
        rows = await self._store.fetchall(f"SELECT {_COLUMNS} FROM tokens ORDER BY id")
        return [TokenInfo.from_row(r) for r in rows]

    async def revoke(self, token_id: int) -> TokenInfo:
        await self.require(token_id)
        await self._store.execute(
            "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            (now_iso(), token_id))
        return await self.require(token_id)

    async def resolve(self, token: str) -> Principal | None:
        if not token.startswith(PREFIX) or len(token) > 200:
            return None
        row = await self._store.fetchone(
            "SELECT id, label, role, unit FROM tokens WHERE token_hash = ? AND revoked_at IS NULL",
            (token_hash(token),))
        if row is None:
            return None
        await self._touch(int(row["id"]))
        return Principal(name=f"token:{row['label']}", role=Role(row["role"]), unit=row["unit"],
                         user_id=None, via="token")

    async def _touch(self, token_id: int) -> None:
        now = time.monotonic()
        if now - self._touched.get(token_id, -LAST_USED_EVERY_S) >= LAST_USED_EVERY_S:
            self._touched[token_id] = now
            await self._store.execute("UPDATE tokens SET last_used = ? WHERE id = ?",
                                      (now_iso(), token_id))
