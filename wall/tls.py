"""HTTPS served by `iocwall serve` itself: the certificate and key of ``[server]``.

The sources require encrypted transport. A site behind HAProxy (deploy/haproxy/) lets the
proxy terminate TLS; a single box serves HTTPS itself from these two files. Both are
checked before anything starts (readable, a matching pair), so a wrong path is one line at
start rather than a handshake failure in every browser later; the certificate's expiry is
kept for the health board.
"""
from __future__ import annotations

import ssl
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509

from iocwall.streams.clock import VN_TZ


class TlsError(Exception):
    """The configured certificate or key cannot be used; the message says why."""


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path
    not_after: datetime        # the certificate's expiry, +07:00


def load_tls(cert: str, key: str, data_dir: Path) -> TlsFiles | None:
    """The checked pair, or None when neither is set. Relative paths are from ``data_dir``."""
    if not cert and not key:
        return None
    if not cert or not key:
        raise TlsError("[server] tls_cert and tls_key go together: set both or neither")
    cert_path, key_path = (Path(p) if Path(p).is_absolute() else data_dir / p
                           for p in (cert, key))
    for name, path in (("tls_cert", cert_path), ("tls_key", key_path)):
        if not path.is_file():
            raise TlsError(f"[server] {name}: no such file: {path}")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert_path, key_path)
    except (ssl.SSLError, OSError) as exc:
        raise TlsError(f"[server] tls_cert/tls_key: not a usable certificate and key pair "
                       f"({cert_path}, {key_path}): {exc}") from None
    try:
        leaf = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except ValueError as exc:
        raise TlsError(f"[server] tls_cert: cannot read the certificate: {exc}") from None
    return TlsFiles(cert_path, key_path, leaf.not_valid_after_utc.astimezone(VN_TZ))
