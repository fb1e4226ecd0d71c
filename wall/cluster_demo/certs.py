"""Certificates and the shared secret of the cluster demo, made once under D/secrets.

A demo CA signs every certificate: the media nodes' (TLS between controllers and nodes,
[cluster] ca_file) and, with --tls, HAProxy's for 127.0.0.1 (a browser warns: trust
ca.pem to silence it). The shared secret authenticates controllers to nodes
([cluster] secret_file). Keys and the secret are 0600, never printed.
"""
from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DAYS = 365


@dataclass(frozen=True)
class Issued:
    cert: Path
    key: Path
    pem: Path                 # certificate then key in one file (HAProxy's `crt`)


def _write(path: Path, data: bytes, private: bool = False) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fd = os.open(path, flags, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    if private:
        path.chmod(0o600)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _load(folder: Path, name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = x509.load_pem_x509_certificate((folder / f"{name}.pem").read_bytes())
    key = serialization.load_pem_private_key((folder / f"{name}-key.pem").read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return cert, key


def ca(folder: Path) -> Path:
    """The demo CA (ca.pem), made once."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    path = folder / "ca.pem"
    if path.is_file() and (folder / "ca-key.pem").is_file():
        return path
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "iocwall cluster demo CA")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=DAYS * 5))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                         False), critical=True)
            .sign(key, hashes.SHA256()))
    _write(folder / "ca-key.pem", _key_pem(key), private=True)
    _write(path, cert.public_bytes(serialization.Encoding.PEM))
    return path


def issue(folder: Path, name: str, host: str = "127.0.0.1") -> Issued:
    """A certificate for ``host`` signed by the demo CA (server and client use), made once."""
    ca(folder)
    out = Issued(folder / f"{name}.pem", folder / f"{name}-key.pem",
                 folder / f"{name}-both.pem")
    if out.cert.is_file() and out.key.is_file() and out.pem.is_file():
        return out
    ca_cert, ca_key = _load(folder, "ca")
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=DAYS))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(host)), x509.DNSName("localhost")]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                  ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = _key_pem(key)
    _write(out.key, key_pem, private=True)
    _write(out.cert, cert_pem)
    _write(out.pem, cert_pem + key_pem, private=True)
    return out


def secret_file(folder: Path, name: str) -> Path:
    """A random secret in ``name`` (hex), made once, 0600."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if not path.is_file():
        _write(path, secrets.token_hex(32).encode() + b"\n", private=True)
    return path


def read_secret(path: Path) -> str:
    return path.read_text().strip()
