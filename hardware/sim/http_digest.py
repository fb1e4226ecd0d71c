"""HTTP Digest (RFC 7616, MD5, qop=auth) and Basic authentication for the snapshot URL.

Cameras protect their snapshot URL this way: the first request gets 401 with a fresh nonce,
the client retries with a Digest answer. Basic is accepted too, as many cameras do.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections import OrderedDict

NONCE_TTL_S = 300.0
_MAX_NONCES = 1024


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - MD5 is what RFC 7616 cameras use


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
        if not authorization:
            return False
        scheme, _, rest = authorization.partition(" ")
        if scheme.lower() == "basic":
            return self._basic(rest.strip())
        if scheme.lower() == "digest":
            return self._digest(method, _params(rest))
        return False

    def _basic(self, token: str) -> bool:
        try:
            user, _, password = base64.b64decode(token, validate=True).decode().partition(":")
        except (binascii.Error, ValueError, UnicodeError):
            return False
        return (hmac.compare_digest(user.encode(), self.user.encode())
                and hmac.compare_digest(password.encode(), self.password.encode()))

    def _digest(self, method: str, p: dict[str, str]) -> bool:
        nonce = p.get("nonce", "")
        issued = self._nonces.get(nonce)
        if issued is None or time.monotonic() - issued > NONCE_TTL_S:
            return False
        if p.get("username") != self.user or p.get("realm") != self.realm:
            return False
        ha1 = _md5(f"{self.user}:{self.realm}:{self.password}")
        ha2 = _md5(f"{method}:{p.get('uri', '')}")
        if p.get("qop") == "auth":
            expected = _md5(f"{ha1}:{nonce}:{p.get('nc', '')}:{p.get('cnonce', '')}:auth:{ha2}")
        else:
            expected = _md5(f"{ha1}:{nonce}:{ha2}")
        return hmac.compare_digest(expected, p.get("response", ""))


def _params(text: str) -> dict[str, str]:
    """Parse ``k=v, k="quoted, value"`` pairs of a Digest header."""
    out: dict[str, str] = {}
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " ,":
            i += 1
        eq = text.find("=", i)
        if eq < 0:
            break
        key = text[i:eq].strip().lower()
        i = eq + 1
        if i < n and text[i] == '"':
            end = text.find('"', i + 1)
            end = n if end < 0 else end
            out[key] = text[i + 1:end]
            i = end + 1
        else:
            end = text.find(",", i)
            end = n if end < 0 else end
            out[key] = text[i:end].strip()
            i = end
    return out
