"""HTTP Digest (RFC 7616, MD5, qop=auth) and Basic authentication for the snapshot URL.

Cameras protect their snapshot URL this way: the first request gets 401 with a fresh nonce,
the client retries with a Digest answer. Basic is accepted too, as many cameras do.
"""
from __future__ import annotations

import secrets
import time
from collections import OrderedDict

from iocwall.streams.rtsp.digest import check_authorization

NONCE_TTL_S = 300.0
_MAX_NONCES = 1024


class HttpAuthGuard:
    def __init__(self, user: str, password: str, realm: str = "iocwall-sim") -> None:
        self.user, self.password, self.realm = user, password, realm
        self._nonces: OrderedDict[str, float] = OrderedDict()

    def challenge(self) -> dict[str, str]:
        """Headers for a 401 answer."""
        nonce = secrets.token_hex(16)
        self._nonces[nonce] = time.monotonic()
        while len(self._nonces) > _MAX_NONCES:
            self._nonces.popitem(last=False)
        return {"WWW-Authenticate": (f'Digest realm="{self.realm}", qop="auth", '
                                     f'nonce="{nonce}", algorithm=MD5')}

    def allows(self, method: str, authorization: str | None) -> bool:
        return bool(authorization) and check_authorization(
            authorization or "", method, self.user, self.realm, self.password, self._fresh)

    def _fresh(self, nonce: str) -> bool:
        issued = self._nonces.get(nonce)
        return issued is not None and time.monotonic() - issued <= NONCE_TTL_S
