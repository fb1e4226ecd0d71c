"""RTSP authentication as cameras do it: Basic and Digest (RFC 2617, MD5), chosen from the 401.

The client side; the parsing and the math are ``digest``'s, shared with our servers.
"""
from __future__ import annotations

import base64
import enum
import os
from dataclasses import dataclass, field

from .digest import parse_params, response


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
        params = parse_params(rest)
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
        realm, nonce, algorithm = p.get("realm", ""), p.get("nonce", ""), p.get("algorithm", "")
        parts = [f'username="{self._user}"', f'realm="{realm}"', f'nonce="{nonce}"', f'uri="{uri}"']
        qops = [q.strip() for q in p.get("qop", "").split(",") if q.strip()]
        # One client nonce for the whole session: with MD5-sess it is part of H(A1), so the
        # H(A1) we hash and the cnonce we send must be the same (RFC 2617 3.2.2.2).
        qop, nc = ("auth", f"{self._count + 1:08x}") if "auth" in qops else ("", "")
        if qop:
            self._count += 1
            parts += ["qop=auth", f"nc={nc}", f'cnonce="{self._cnonce}"']
        elif algorithm.upper() == "MD5-SESS":
            parts.append(f'cnonce="{self._cnonce}"')   # the server needs it for H(A1)
        digest = response(self._user, realm, self._password, method, uri, nonce,
                          algorithm=algorithm, qop=qop, nc=nc, cnonce=self._cnonce)
        parts.append(f'response="{digest}"')
        if "opaque" in p:
            parts.append(f'opaque="{p["opaque"]}"')
        if algorithm:
            parts.append(f"algorithm={algorithm}")
        return "Digest " + ", ".join(parts)
