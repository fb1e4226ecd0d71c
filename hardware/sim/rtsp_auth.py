"""RTSP authentication as IP cameras do it: 401 with Digest (MD5) and Basic
challenges; a request passes with either. Nonces are stateless (an HMAC of a
time slot), so a restart or many connections never need a nonce table.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import time

REALM = "iocwall-sim"
NONCE_LIFETIME_S = 300
_PARAM = re.compile(r'(\w+)\s*=\s*(?:"([^"]*)"|([^\s,]+))')


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


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
        scheme, _, rest = header.strip().partition(" ")
        if scheme.lower() == "basic":
            return self._basic(rest.strip())
        if scheme.lower() == "digest":
            return self._digest(method, rest)
        return False

    def _basic(self, token: str) -> bool:
        try:
            user, _, password = base64.b64decode(token, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return hmac.compare_digest(user, self.user) and hmac.compare_digest(password, self.password)

    def _digest(self, method: str, rest: str) -> bool:
        params = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
                  for m in _PARAM.finditer(rest)}
        nonce = params.get("nonce", "")
        slot = int(time.time() // NONCE_LIFETIME_S)
        if nonce not in (self._nonce(slot), self._nonce(slot - 1)):
            return False
        if params.get("username") != self.user or params.get("realm") != REALM:
            return False
        ha1 = _md5(f"{self.user}:{REALM}:{self.password}")
        ha2 = _md5(f"{method}:{params.get('uri', '')}")
        if params.get("qop"):
            expected = _md5(f"{ha1}:{nonce}:{params.get('nc', '')}:{params.get('cnonce', '')}:"
                            f"{params['qop']}:{ha2}")
        else:
            expected = _md5(f"{ha1}:{nonce}:{ha2}")
        return hmac.compare_digest(expected, params.get("response", ""))
