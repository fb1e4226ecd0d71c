"""RTSP authentication as IP cameras do it: 401 with Digest (MD5) and Basic
challenges; a request passes with either. Nonces are stateless (an HMAC of a
time slot), so a restart or many connections never need a nonce table.
"""
from __future__ import annotations

import hmac
import os
import time

from iocwall.streams.rtsp.digest import check_authorization

REALM = "iocwall-sim"
NONCE_LIFETIME_S = 300


class Authenticator:
    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password
        self._key = os.urandom(16)

    @property
    def enabled(self) -> bool:
        return bool(self.user)

    def _nonce(self, slot: int) -> str:
        return hmac.new(self._key, str(slot).encode(), "sha256").hexdigest()[:32]

    def challenges(self) -> list[tuple[str, str]]:
        nonce = self._nonce(int(time.time() // NONCE_LIFETIME_S))
        return [("WWW-Authenticate", f'Digest realm="{REALM}", nonce="{nonce}", algorithm="MD5"'),
                ("WWW-Authenticate", f'Basic realm="{REALM}"')]

    def check(self, method: str, header: str) -> bool:
        """True if the Authorization header carries our credentials."""
        if not self.enabled:
            return True
        return check_authorization(header, method, self.user, REALM, self.password, self._fresh)

    def _fresh(self, nonce: str) -> bool:
        slot = int(time.time() // NONCE_LIFETIME_S)
        return nonce in (self._nonce(slot), self._nonce(slot - 1))
