"""Camera credentials encrypted at rest with Fernet (AES-128-CBC + HMAC, from ``cryptography``).

The key comes from ``IOCWALL_REGISTRY_KEY`` (a Fernet key) or from a key file in the data
folder, created on first use with mode 0600. ``rotate`` re-encrypts every stored secret
under a new key in one transaction; a key file named ``<key>.new`` is tried as well while
decrypting, so a rotation interrupted between the database commit and the file rename
loses nothing.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

ENV_KEY = "IOCWALL_REGISTRY_KEY"
ENV_NEW_KEY = "IOCWALL_REGISTRY_NEW_KEY"


class RegistryKeyError(Exception):
    """The key is missing, malformed, or does not open the stored secrets."""


@dataclass(frozen=True)
class Credentials:
    username: str = ""
    password: str = ""

    def __repr__(self) -> str:          # never print a password by accident
        return f"Credentials(username={self.username!r}, password=***)"

    def __bool__(self) -> bool:
        return bool(self.username or self.password)


def _fernet(key: bytes | str, where: str) -> Fernet:
    try:
        return Fernet(key.strip() if isinstance(key, bytes) else key.strip().encode())
    except (ValueError, TypeError):
        raise RegistryKeyError(f"{where}: not a Fernet key (32 url-safe base64 bytes)") from None


def write_key_file(path: Path, key: bytes) -> None:
    """Write ``key`` to ``path`` created with mode 0600 (never readable by others)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, key + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)


class SecretBox:
    """Encrypts and decrypts camera credentials with the registry key."""

    def __init__(self, key_file: Path, env: dict[str, str] | None = None) -> None:
        self.key_file = key_file
        self._env = dict(os.environ if env is None else env)
        self._loaded: MultiFernet | None = None     # the key file is made on first use

    @property
    def _box(self) -> MultiFernet:
        if self._loaded is None:
            self._loaded = self._load()
        return self._loaded

    @_box.setter
    def _box(self, value: MultiFernet) -> None:
        self._loaded = value

    @property
    def from_env(self) -> bool:
        return bool(self._env.get(ENV_KEY))

    def _load(self) -> MultiFernet:
        if self.from_env:
            return MultiFernet([_fernet(self._env[ENV_KEY], ENV_KEY)])
        if not self.key_file.exists():
            self.key_file.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass                       # another process made it first: read theirs
            else:
                with os.fdopen(fd, "wb") as out:
                    out.write(Fernet.generate_key() + b"\n")
        keys = [_fernet(self.key_file.read_bytes(), str(self.key_file))]
        pending = self.key_file.with_name(self.key_file.name + ".new")
        if pending.exists():
            keys.append(_fernet(pending.read_bytes(), str(pending)))
        return MultiFernet(keys)

    def check(self) -> None:
        """Load the key now (at server start): a bad key stops the start with one line,
        instead of failing the first camera request."""
        _ = self._box

    def seal(self, creds: Credentials) -> bytes | None:
        if not creds:
            return None
        data = json.dumps({"u": creds.username, "p": creds.password}).encode()
        return self._box.encrypt(data)

    def open(self, token: bytes | None) -> Credentials:
        if not token:
            return Credentials()
        try:
            data = self._box.decrypt(token)
        except InvalidToken:
            self._box = self._load()       # the key may have been rotated by the CLI
            try:
                data = self._box.decrypt(token)
            except InvalidToken:
                raise RegistryKeyError("the registry key does not open the stored camera "
                                "credentials (wrong IOCWALL_REGISTRY_KEY or key file?)") from None
        raw = json.loads(data)
        return Credentials(str(raw.get("u", "")), str(raw.get("p", "")))

    def rotated(self, new_key: bytes) -> tuple[MultiFernet, Fernet]:
        """(old+new decrypting box, new encrypting key) for a rotation."""
        new = _fernet(new_key, "new key")
        return MultiFernet([new, *self._box._fernets]), new
