"""Each user's own settings: landing page, language, default province and default wall.

Stored in ``user_prefs`` (migration 0013), one row per user, '' meaning "the role's default".
What a user may choose is checked by the API (wall/api/prefs.py), which knows the pages and
walls; this module only reads and writes the row.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from iocwall.streams.clock import now_iso
from iocwall.wall.store import Store

FIELDS = ("landing", "lang", "province", "wall")


@dataclass(frozen=True)
class UserPrefs:
    landing: str = ""
    lang: str = ""
    province: str = ""
    wall: str = ""

    def public(self) -> dict[str, str]:
        return asdict(self)


class Prefs:
    """The ``user_prefs`` rows (stateless: build one on the store whenever needed)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def get(self, user_id: int) -> UserPrefs:
        row = await self._store.fetchone(
            "SELECT landing, lang, province, wall FROM user_prefs WHERE user_id = ?", (user_id,))
        return UserPrefs(**{f: row[f] for f in FIELDS}) if row else UserPrefs()

    async def change(self, user_id: int, **changes: str) -> tuple[UserPrefs, UserPrefs]:
        """Apply ``changes`` (a subset of FIELDS); returns (before, after)."""
        before = await self.get(user_id)
        after = replace(before, **changes)
        await self._store.execute(
            "INSERT INTO user_prefs(user_id, landing, lang, province, wall, updated_at)"
            " VALUES(?, ?, ?, ?, ?, ?) ON CONFLICT(user_id) DO UPDATE SET"
            " landing = excluded.landing, lang = excluded.lang, province = excluded.province,"
            " wall = excluded.wall, updated_at = excluded.updated_at",
            (user_id, after.landing, after.lang, after.province, after.wall, now_iso()))
        return before, after
