"""RTSP authentication as cameras do it: Basic and Digest (RFC 2617, MD5), chosen from the 401."""
from __future__ import annotations

import base64
import enum
import hashlib
import os
import re
from dataclasses import dataclass, field

_PARAM = re.compile(r'(\w+)\s*=\s*(?:"([^"]*)"|([^\s,]+))')


class AuthScheme(enum.Enum):
    NONE = "none"
    BASIC = "Basic"
    DIGEST = "Digest"


@dataclass
class Challenge:
    scheme: AuthScheme
    params: dict[str, str] = field(default_factory=dict)


def parse_challenges(headers: list[str]) -> list[Challenge]:
    """WWW-Authenticate header values -> challenges we understand (Digest first)."""
    found: list[Challenge] = []
    for value in headers:
        name, _, rest = value.strip().partition(" ")
        params = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
                  for m in _PARAM.finditer(rest)}
        if name.lower() == "digest":
            found.append(Challenge(AuthScheme.DIGEST, params))
        elif name.lower() == "basic":
            found.append(Challenge(AuthScheme.BASIC, params))
    found.sort(key=lambda c: c.scheme is not AuthScheme.DIGEST)  # stronger scheme first
    return found


class Authenticator:
    """Builds the Authorization header for each request once a challenge is known."""

    def __init__(self, user: str, password: str, challenge: Challenge) -> None:
        self._user = user
        self._password = password
        self.challenge = challenge
        self._count = 0
        # One client nonce for the whole session: with MD5-sess it is part of H(A1), so
        # the H(A1) we hash and the cnonce we send must be the same (RFC 2617 3.2.2.2).
        self._cnonce = os.urandom(8).hex()

    @property
    def scheme(self) -> AuthScheme:
        return self.challenge.scheme

    def header(self, method: str, uri: str) -> str:
        if self.scheme is AuthScheme.BASIC:
            token = base64.b64encode(f"{self._user}:{self._password}".encode()).decode()
            return f"Basic {token}"
        return self._digest(method, uri)

    def _digest(self, method: str, uri: str) -> str:
        p = self.challenge.params
        realm, nonce = p.get("realm", ""), p.get("nonce", "")
        ha1 = _md5(f"{self._user}:{realm}:{self._password}")
        sess = p.get("algorithm", "").upper() == "MD5-SESS"
        if sess:
            ha1 = _md5(f"{ha1}:{nonce}:{self._cnonce}")
        ha2 = _md5(f"{method}:{uri}")
        parts = [f'username="{self._user}"', f'realm="{realm}"', f'nonce="{nonce}"', f'uri="{uri}"']
        qops = [q.strip() for q in p.get("qop", "").split(",") if q.strip()]
        if "auth" in qops:
            self._count += 1
            nc = f"{self._count:08x}"
            response = _md5(f"{ha1}:{nonce}:{nc}:{self._cnonce}:auth:{ha2}")
            parts += ["qop=auth", f"nc={nc}", f'cnonce="{self._cnonce}"']
        else:
            response = _md5(f"{ha1}:{nonce}:{ha2}")
            if sess:                 # the server needs our cnonce to compute H(A1)
                parts.append(f'cnonce="{self._cnonce}"')
        parts.append(f'response="{response}"')
        if "opaque" in p:
            parts.append(f'opaque="{p["opaque"]}"')
        if "algorithm" in p:
            parts.append(f"algorithm={p['algorithm']}")
        return "Digest " + ", ".join(parts)


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()
