"""Who may talk to a media node: TLS, then a shared secret proved both ways.

TLS keeps camera credentials and signalling private on the wire, and the controller
checks the node's certificate against ``[cluster] ca_file``. The shared secret
(``[cluster] secret_file``, the same file on every controller and node) is never sent:
each side proves it holds it with an HMAC-SHA256 over both sides' fresh nonces and its
own role (so a node's answer cannot be replayed as a controller's), compared in
constant time. The node speaks first::

    node -> AuthChallenge(node, n1)
    controller -> AuthProof(mac("controller", n1, n2), n2)
    node -> AuthProof(mac("node", n2, n1))          (or AuthRefused, then it hangs up)

Until then a frame may be at most ``netwire.AUTH_LIMIT`` bytes.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import ssl
from pathlib import Path

from iocwall.streams import netwire
from iocwall.streams.netwire import AuthChallenge, AuthProof, AuthRefused

HANDSHAKE_S = 5.0
MIN_SECRET = 16


class AuthFailed(Exception):
    """The peer did not prove the shared secret (or spoke something else)."""


def load_secret(path: str | Path) -> bytes:
    """The shared secret from its file (surrounding whitespace ignored); at least 16 bytes."""
    try:
        secret = Path(path).read_bytes().strip()
    except OSError as exc:
        raise AuthFailed(f"cannot read the cluster secret {path}: {exc.strerror}") from None
    if len(secret) < MIN_SECRET:
        raise AuthFailed(f"the cluster secret in {path} is shorter than {MIN_SECRET} bytes")
    return secret


def _mac(secret: bytes, role: str, theirs: str, mine: str) -> str:
    return hmac.new(secret, f"iocwall-media/{role}\0{theirs}\0{mine}".encode(),
                    hashlib.sha256).hexdigest()


def server_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_file, key_file)
    return ctx


def client_context(ca_file: str) -> ssl.SSLContext:
    """Verifies the node's certificate and name against ``ca_file`` (empty: the system's
    trusted roots)."""
    ctx = ssl.create_default_context(cafile=ca_file or None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


async def _receive(reader: asyncio.StreamReader) -> object:
    try:
        return await netwire.receive(reader, netwire.AUTH_LIMIT)
    except netwire.WireError as exc:
        raise AuthFailed(f"bad handshake frame: {exc.message}") from None
    except (asyncio.IncompleteReadError, ConnectionError):
        raise AuthFailed("the peer hung up during the handshake") from None


async def node_side(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    node: str, secret: bytes) -> None:
    """Run by the media node on each new connection; raises AuthFailed (after telling the
    peer) when it does not prove the secret."""
    mine = secrets.token_hex(16)
    async with asyncio.timeout(HANDSHAKE_S):
        await netwire.send(writer, AuthChallenge(node, mine))
        proof = await _receive(reader)
        if not isinstance(proof, AuthProof) or len(proof.nonce) < 16 or not \
                hmac.compare_digest(proof.mac, _mac(secret, "controller", mine, proof.nonce)):
            await netwire.send(writer, AuthRefused("not authenticated: wrong or missing "
                                                   "cluster secret"))
            raise AuthFailed("the peer did not prove the cluster secret")
        await netwire.send(writer, AuthProof(_mac(secret, "node", proof.nonce, mine)))


async def controller_side(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                          secret: bytes, expect: str | None = None) -> str:
    """Run by a controller on a new connection to a node; the node's id. Raises AuthFailed
    when the node does not prove the secret, refuses ours, or is not ``expect``."""
    async with asyncio.timeout(HANDSHAKE_S):
        challenge = await _receive(reader)
        if not isinstance(challenge, AuthChallenge):
            raise AuthFailed("the peer is not a media node")
        if expect is not None and challenge.node != expect:
            raise AuthFailed(f"expected media node {expect}, found {challenge.node[:64]!r}")
        mine = secrets.token_hex(16)
        await netwire.send(writer, AuthProof(_mac(secret, "controller", challenge.nonce, mine),
                                             mine))
        answer = await _receive(reader)
        if isinstance(answer, AuthRefused):
            raise AuthFailed(f"{challenge.node} refused us: {answer.message}")
        if not isinstance(answer, AuthProof) or not \
                hmac.compare_digest(answer.mac, _mac(secret, "node", mine, challenge.nonce)):
            raise AuthFailed(f"{challenge.node} did not prove the cluster secret")
        return challenge.node
