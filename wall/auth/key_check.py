"""Controllers that share a PostgreSQL store must sign cookies with the same key.

The session key stays out of the database (wall/auth/sessions.py): each controller
reads ``IOCWALL_SESSION_SECRET`` or its own ``<data_dir>/session.key``. Two machines
with different keys would each refuse the other's cookies, and a non-sticky load
balancer would log users and display nodes out at random. So the first controller
to use the database records a fingerprint of its key (an HMAC: it reveals nothing of
the key), and a controller whose key gives another fingerprint refuses to start,
saying what to do.
"""
from __future__ import annotations

import hashlib
import hmac

from iocwall.wall.store import Store

SETTING = "session_key_check"


class SessionKeyMismatch(Exception):
    """This controller's session key is not the one the store's other controllers use."""


def fingerprint(secret: str) -> str:
    return hmac.new(secret.encode(), b"iocwall.session-key-check", hashlib.sha256).hexdigest()


async def check_session_key(store: Store, secret: str) -> None:
    """Raise SessionKeyMismatch unless ``secret`` is the key the store's controllers use.
    Only for a shared (PostgreSQL) store: SQLite lives in the data dir with its key."""
    if store.dialect != "postgresql":
        return
    mine = fingerprint(secret)
    recorded = await store.setting_or_create(SETTING, lambda: mine)
    if not hmac.compare_digest(recorded, mine):
        raise SessionKeyMismatch(
            "this controller's session key differs from the one the other controllers of "
            "this database sign cookies with: give every controller the same "
            "IOCWALL_SESSION_SECRET (or copy one <data_dir>/session.key to all); changed on "
            f"purpose on every controller? delete the setting '{SETTING}' from the database")
