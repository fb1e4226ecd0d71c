"""WS-Security UsernameToken check, as an ONVIF camera does it.

PasswordDigest = Base64(SHA-1(nonce + created + password)); PasswordText is the password itself.
A digest whose Created is more than ``max_skew_s`` away from our clock is stale; a token seen
before (within the replay window) is a replay. Both are refused like a wrong password.

A replay is the same request sent again with the same nonce and the same Created. libonvif
(Debian's ``onvif-util``) keeps one nonce for a whole session and sends a new Created with
each request, and common cameras accept it; its Created has millisecond steps, so two of its
requests in one millisecond carry the very same token (seen: GetProfile then GetStreamUri).
A new Created changes the digest, which only the password holder can make. libonvif also
sends the very same request twice within one tick of its clock (``get profile token`` asks
GetProfiles once per index), so the same token on the same request is accepted again for
``REPEAT_GRACE_S`` after its first use, as common cameras accept it; later it is a replay and
refused: a captured request cannot be sent again once the moment has passed.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections import OrderedDict
from datetime import datetime
from xml.etree.ElementTree import Element, tostring

from iocwall.hardware.sim.soap import WSSE, WSU, SoapFault, not_authorized

_DIGEST = "#PasswordDigest"
_MAX_NONCES = 10_000  # bounds memory against a client spraying fresh nonces
REPEAT_GRACE_S = 1.0  # one client's burst of identical requests, not a later replay


class UsernameTokenVerifier:
    def __init__(self, user: str, password: str, max_skew_s: float = 300.0) -> None:
        self.user = user
        self.password = password
        self.max_skew_s = max_skew_s
        self._seen: OrderedDict[tuple[bytes, str, bytes], float] = OrderedDict()

    def verify(self, header: Element | None, operation: Element | None = None) -> None:
        """Return if the header carries valid credentials for ``operation`` (the SOAP body's
        element, the request a token is checked against for replays), else raise the
        NotAuthorized fault."""
        path = f"{{{WSSE}}}Security/{{{WSSE}}}UsernameToken"
        token = None if header is None else header.find(path)
        if token is None:
            raise not_authorized()
        user = (token.findtext(f"{{{WSSE}}}Username") or "").strip()
        password_el = token.find(f"{{{WSSE}}}Password")
        if password_el is None or not hmac.compare_digest(user.encode(), self.user.encode()):
            raise not_authorized()
        if (password_el.get("Type") or "").endswith(_DIGEST):
            request = b"" if operation is None else tostring(operation)
            self._check_digest(token, (password_el.text or "").strip(), request)
        elif not hmac.compare_digest((password_el.text or "").encode(), self.password.encode()):
            raise not_authorized()

    def _check_digest(self, token: Element, digest_b64: str, request: bytes) -> None:
        created = (token.findtext(f"{{{WSU}}}Created") or "").strip()
        nonce_b64 = (token.findtext(f"{{{WSSE}}}Nonce") or "").strip()
        try:
            nonce = base64.b64decode(nonce_b64, validate=True)
            digest = base64.b64decode(digest_b64, validate=True)
        except (binascii.Error, ValueError):
            raise not_authorized() from None
        if not nonce or not created or not self._fresh(created):
            raise not_authorized()
        expected = hashlib.sha1(nonce + created.encode() + self.password.encode()).digest()
        if not hmac.compare_digest(digest, expected):
            raise not_authorized()
        # only after the digest proved the sender knows the password
        self._remember((nonce, created, hashlib.sha256(request).digest()))

    def _fresh(self, created: str) -> bool:
        try:
            when = datetime.fromisoformat(created.replace("Z", "+00:00"))
        except ValueError:
            return False
        if when.tzinfo is None:
            return False
        return abs(when.timestamp() - time.time()) <= self.max_skew_s

    def _remember(self, token: tuple[bytes, str, bytes]) -> None:
        now = time.monotonic()
        self._expire(now)
        first = self._seen.get(token)
        if first is not None:
            if now - first <= REPEAT_GRACE_S:
                return                    # the same client's burst (see the module's note)
            raise SoapFault("Sender", ["NotAuthorized"], "Sender not Authorized (nonce replayed)")
        self._seen[token] = now
        while len(self._seen) > _MAX_NONCES:
            self._seen.popitem(last=False)

    def _expire(self, now: float) -> None:
        # A token older than twice the skew window can no longer pass the Created check.
        horizon = now - 2 * self.max_skew_s
        while self._seen:
            token, seen = next(iter(self._seen.items()))
            if seen >= horizon:
                break
            self._seen.popitem(last=False)
