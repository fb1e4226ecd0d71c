"""Files only the server's own account can read, whatever the umask.

The data folder holds the database (password hashes, audit, session hashes),
the session signing key and the logs: it is created 0700 and each file in it
0600. A data folder that other accounts can already read is refused rather
than silently fixed, because whatever was in it may have been copied.
"""
from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
_OTHERS = 0o077          # any permission for the group or the world


class UnsafeDataDir(Exception):
    """The data folder (or a secret file) can be read by other accounts: one line, for people."""


def private_dir(path: Path) -> None:
    """Create ``path`` 0700 if missing; refuse one that others can read or that is not ours."""
    try:
        path.mkdir(parents=True, mode=PRIVATE_DIR)
        path.chmod(PRIVATE_DIR)          # mkdir's mode is filtered by the umask
        return
    except FileExistsError:
        pass
    info = path.stat()
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeDataDir(f"data folder {path} is not a folder")
    if info.st_uid != os.geteuid():
        raise UnsafeDataDir(f"data folder {path} belongs to another account (uid {info.st_uid});"
                            " run the server as that account or choose another --data-dir")
    mode = stat.S_IMODE(info.st_mode)
    if mode & _OTHERS:
        raise UnsafeDataDir(f"data folder {path} can be read by other accounts (mode {mode:04o});"
                            f" run: chmod 700 {path}")


def private_opener(path: str, flags: int) -> int:
    """An ``opener`` for open(): a file created by it is 0600 (never wider, whatever the umask)."""
    fd = os.open(path, flags, PRIVATE_FILE)
    os.fchmod(fd, PRIVATE_FILE)           # also narrows a file an older version left wider
    return fd


def touch_private(path: Path) -> None:
    """Make sure ``path`` exists with mode 0600."""
    os.close(private_opener(str(path), os.O_CREAT | os.O_WRONLY))


def read_or_create_secret(path: Path, make: Callable[[], str]) -> str:
    """The secret kept in ``path`` (0600), written once with ``make()`` if missing.

    O_EXCL makes creation safe when two server processes start together; the loser
    waits for the winner's bytes. A key file others can read is refused.
    """
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE)
    except FileExistsError:
        return _read_secret(path)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        os.fchmod(out.fileno(), PRIVATE_FILE)
        secret = make()
        out.write(secret + "\n")
        out.flush()
        os.fsync(out.fileno())
    return secret


def _read_secret(path: Path) -> str:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & _OTHERS:
        raise UnsafeDataDir(f"key file {path} can be read by other accounts (mode {mode:04o});"
                            f" delete it (everyone logs in again) or run: chmod 600 {path}")
    for _ in range(50):
        secret = path.read_text(encoding="utf-8").strip()
        if secret:
            return secret
        time.sleep(0.01)                  # another process is writing it right now
    raise UnsafeDataDir(f"key file {path} is empty; delete it (everyone logs in again)")
