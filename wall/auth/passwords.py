"""Password hashing with argon2id (argon2-cffi), off the event loop, in a small bounded pool.

Each argon2 check takes 64 MiB and tens of milliseconds on purpose. They run on a
dedicated pool of ``workers`` threads with at most ``queue`` more waiting; any
further call is refused at once (503 "busy") instead of piling up, so a burst of
logins can neither grow the server's memory nor starve the default thread pool
that the store and the media server use.
"""
from __future__ import annotations

import asyncio
import secrets
import string
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from iocwall.wall.errors import ApiError

T = TypeVar("T")

MIN_LENGTH = 8
_ALPHABET = string.ascii_letters + string.digits


class Passwords:
    """Hash and verify on a bounded pool; raises ApiError 503 "busy" when it is full."""

    def __init__(self, hasher: PasswordHasher | None = None, *, workers: int = 2,
                 queue: int = 6) -> None:
        """``hasher``: argon2 parameters (tests may pass cheaper ones); ``workers``: checks
        run at once; ``queue``: checks allowed to wait for a worker."""
        self._hasher = hasher or PasswordHasher()
        self._workers = workers
        self._slots = workers + queue
        self._busy = 0
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        # Verified against when the user does not exist, so "no such user" costs the same
        # time as "wrong password" and does not reveal which usernames exist.
        self._dummy = self._hasher.hash(secrets.token_hex(16))

    async def hash(self, password: str) -> str:
        return await self._run(self._hasher.hash, password)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        return await self._run(self._verify, stored_hash, password)

    def close(self) -> None:
        """Stop the pool's threads (a later call starts a new pool)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        with self._lock:
            if self._busy >= self._slots:
                raise ApiError(503, "busy", "too many password checks at once; try again in a "
                               "moment / máy chủ đang bận, hãy thử lại sau giây lát")
            self._busy += 1
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="argon2")
        try:
            work: Future[T] = self._pool.submit(fn, *args)
        except BaseException:
            self._release()
            raise
        # The slot is freed when the work ends, not when the caller stops waiting: a
        # cancelled request's check may still be running and holding its 64 MiB.
        work.add_done_callback(lambda _: self._release())
        return await asyncio.wrap_future(work)

    def _release(self) -> None:
        with self._lock:
            self._busy -= 1

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
