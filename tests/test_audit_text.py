"""Audited text cannot hide or forge anything: control, zero-width and bidirectional-override
characters are removed by the audit layer itself, for every caller."""
from __future__ import annotations

from pathlib import Path

from iocwall.wall.access import Principal, Role
from iocwall.wall.audit import AuditLog, AuditQuery
from iocwall.wall.store import Store


async def test_invisible_and_control_characters_are_stripped(tmp_path: Path) -> None:
    store = Store(tmp_path / "a.sqlite3")
    await store.open()
    try:
        audit = AuditLog(store)
        entry = await audit.record(Principal("lan\u200b", Role.OPERATOR, "H\u202eN"),
                                   "camera.update\x00", "camera:cam\u20661\u2069\r\nFAKE",
                                   {"name": "Qu\u00e2\u0300y\u200d 1\x1b[31m"},
                                   {"note\u202e": ["a\tb", "\ufeffc\u2028d"]}, "10.0.0.1\n")
        stored = (await audit.query(AuditQuery())).entries[0]
    finally:
        await store.close()
    for got in (entry, stored):
        assert got.actor == "lan" and got.unit == "HN" and got.action == "camera.update"
        assert got.target == "camera:cam1  FAKE"
        assert got.before == {"name": "Qu\u00e2\u0300y 1[31m"}
        assert got.after == {"note": ["a b", "c d"]}
        assert got.client == "10.0.0.1"
