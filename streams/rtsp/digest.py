"""HTTP/RTSP Basic and Digest (RFC 2617 / RFC 7616 with MD5 and MD5-sess), both sides.

The one place where Digest parameters are parsed and the response is computed:
the ingest and the smoke test (clients, ``streams.rtsp.auth``) and the
simulator's RTSP and HTTP servers (``hardware.sim.rtsp_auth``/``http_digest``)
all use it, so a client and a server of ours can never disagree on the math
while both agreeing with each other and not with a camera.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable

# name=value or name="quoted value" (a quoted value may hold commas and \" escapes)
_PARAM = re.compile(r'([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))')


def parse_params(text: str) -> dict[str, str]:
    """``k=v, k="quoted, value"`` pairs of a challenge or an Authorization header."""
    return {m.group(1).lower(): (m.group(2).replace('\\"', '"') if m.group(2) is not None
                                 else m.group(3))
            for m in _PARAM.finditer(text)}


def md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def response(user: str, realm: str, password: str, method: str, uri: str, nonce: str, *,
             algorithm: str = "", qop: str = "", nc: str = "", cnonce: str = "") -> str:
    """The Digest ``response`` value (RFC 2617 3.2.2.1); ``qop`` is "" or "auth"."""
    ha1 = md5(f"{user}:{realm}:{password}")
    if algorithm.upper() == "MD5-SESS":
        ha1 = md5(f"{ha1}:{nonce}:{cnonce}")
    ha2 = md5(f"{method}:{uri}")
    if qop == "auth":
        return md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
    return md5(f"{ha1}:{nonce}:{ha2}")


def check_basic(token: str, user: str, password: str) -> bool:
    """A Basic token carries ``user``/``password`` (constant-time compare)."""
    try:
        got_user, _, got_password = base64.b64decode(token, validate=True).decode().partition(":")
    except (binascii.Error, ValueError, UnicodeError):
        return False
    return (hmac.compare_digest(got_user.encode(), user.encode())
            and hmac.compare_digest(got_password.encode(), password.encode()))


def check_digest(params: dict[str, str], method: str, user: str, realm: str,
                 password: str) -> bool:
    """The Digest answer ``params`` is right for ``user``; the nonce is the caller's to check."""
    if params.get("username") != user or params.get("realm") != realm:
        return False
    qop = params.get("qop", "")
    if qop not in ("", "auth"):
        return False
    expected = response(user, realm, password, method, params.get("uri", ""),
                        params.get("nonce", ""), algorithm=params.get("algorithm", ""), qop=qop,
                        nc=params.get("nc", ""), cnonce=params.get("cnonce", ""))
    return hmac.compare_digest(expected, params.get("response", ""))


def check_authorization(header: str, method: str, user: str, realm: str, password: str,
                        nonce_ok: Callable[[str], bool]) -> bool:
    """A server's check of an Authorization header (Basic or Digest); ``nonce_ok`` says
    whether a Digest nonce is one the server issued and still honours."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() == "basic":
        return check_basic(rest.strip(), user, password)
    if scheme.lower() == "digest":
        params = parse_params(rest)
        return nonce_ok(params.get("nonce", "")) and check_digest(params, method, user, realm,
                                                                  password)
    return False
