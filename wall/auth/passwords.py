"""Password hashing with argon2id (argon2-cffi), off the event loop, in a small bounded pool.

Each argon2 check takes 64 MiB and tens of milliseconds on purpose. They run on a
dedicated BoundedPool (wall/bounded_pool.py) of ``workers`` threads with at most ``queue``
more waiting; any further call is refused at once (503 "busy") instead of piling up.
"""
from __future__ import annotations

import secrets
import string

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from iocwall.wall.bounded_pool import BoundedPool

MIN_LENGTH = 8
_ALPHABET = string.ascii_letters + string.digits


class Passwords:
    """Hash and verify on a bounded pool; raises ApiError 503 "busy" when it is full."""

    def __init__(self, hasher: PasswordHasher | None = None, *, workers: int = 2,
                 queue: int = 6) -> None:
        """``hasher``: argon2 parameters (tests may pass cheaper ones); ``workers``: checks
        run at once; ``queue``: checks allowed to wait for a worker."""
        self._hasher = hasher or PasswordHasher()
        self._pool = BoundedPool("argon2", "too many password checks at once; try again in a "
                                 "moment / máy chủ đang bận, hãy thử lại sau giây lát",
                                 workers=workers, queue=queue)
        # Verified against when the user does not exist, so "no such user" costs the same
        # time as "wrong password" and does not reveal which usernames exist.
        self._dummy = self._hasher.hash(secrets.token_hex(16))

    async def hash(self, password: str) -> str:
        return await self._pool.run(self._hasher.hash, password)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        return await self._pool.run(self._verify, stored_hash, password)

    def close(self) -> None:
        """Stop the pool's threads (a later call starts a new pool)."""
        self._pool.close()

    def _verify(self, stored_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash or self._dummy, password) and bool(stored_hash)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)


def generate_password(length: int = 20) -> str:
    """A strong random password (about 119 bits for 20 characters), easy to copy."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def password_problem(password: str) -> str | None:
    """Why a new password is refused, or None."""
    if len(password) < MIN_LENGTH:
        return f"password must have at least {MIN_LENGTH} characters / mật khẩu tối thiểu " \
               f"{MIN_LENGTH} ký tự"
    if len(password) > 1024:
        return "password is too long / mật khẩu quá dài"
    return None
