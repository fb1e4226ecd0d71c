"""PostgreSQL for the cluster demo: Debian's binaries, a cluster of its own under D/postgres.

``initdb`` once (a later start reuses the data), then ``postgres`` itself as the child (not
pg_ctl, so the pid we watch is the postmaster's and SIGINT is its fast shutdown). The
server refuses to run as root: when we are root it runs as the ``postgres`` system user,
which owns the folder (like tests/fixtures/postgres_server.py). Trust authentication,
listening on 127.0.0.1 only; its socket in its own folder.
"""
from __future__ import annotations

import os
import pwd
import signal
import subprocess
import tempfile
from pathlib import Path

from iocwall.wall.cluster_demo.processes import Child

SERVICE_USER = "postgres"
DATABASE = "iocwall"


class PostgresMissing(RuntimeError):
    """Debian's postgresql package is not installed."""


def pg_bin() -> Path:
    """The newest /usr/lib/postgresql/<version>/bin with a postgres binary."""
    base = Path("/usr/lib/postgresql")
    found = sorted((p for p in base.glob("*/bin") if (p / "postgres").is_file()),
                   key=lambda p: _version(p.parent.name))
    if not found:
        raise PostgresMissing("PostgreSQL is not installed (/usr/lib/postgresql/*/bin/postgres):"
                              " apt-get install postgresql (make setup installs it)")
    return found[-1]


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(p) for p in name.split(".") if p.isdigit())


def run_as() -> str | None:
    """The account PostgreSQL runs as: ``postgres`` when we are root, else ourselves."""
    return SERVICE_USER if os.geteuid() == 0 else None


def reachable(folder: Path, user: str | None) -> bool:
    """Can ``user`` pass through every folder above ``folder``? (A data dir inside a
    private home or pytest's 0700 temp folder cannot hold the postgres account's data.)"""
    if user is None:
        return True
    uid = pwd.getpwnam(user).pw_uid
    for parent in folder.resolve().parents:
        info = parent.stat()
        if info.st_uid != uid and not info.st_mode & 0o001:
            return False
    return True


def home(data_dir: Path) -> Path:
    """PostgreSQL's folder: D/postgres, or, when the postgres account cannot reach D (see
    ``reachable``), a folder of its own in /var/tmp that D/postgres links to."""
    folder = data_dir / "postgres"
    if folder.is_symlink() and folder.resolve().is_dir():
        return folder.resolve()
    if folder.is_dir() or reachable(folder, run_as()):
        return folder
    outside = Path(tempfile.mkdtemp(prefix="iocwall-cluster-pg-", dir="/var/tmp"))
    outside.chmod(0o711)
    folder.symlink_to(outside)
    return outside


def prepare(folder: Path) -> Path:
    """The data folder, initialised once; returns it."""
    data = folder / "data"
    user = run_as()
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    if user is not None:
        account = pwd.getpwnam(user)
        os.chown(folder, account.pw_uid, account.pw_gid)
    if not (data / "PG_VERSION").is_file():
        done = subprocess.run([str(pg_bin() / "initdb"), "-D", str(data), "-U", "postgres",
                               "-A", "trust", "-E", "UTF8", "--locale", "C.UTF-8", "--no-sync"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              timeout=180, user=user, group=user,
                              extra_groups=[] if user else None, cwd=folder)
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed ({done.returncode}): {done.stderr.strip()}")
    return data


def child(folder: Path, port: int) -> Child:
    """The postmaster, in the foreground. fsync off: a demo, not a site (say so in README)."""
    data = folder / "data"
    argv = [str(pg_bin() / "postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", str(port),
            "-k", str(folder), "-c", "fsync=off", "-c", "full_page_writes=off",
            "-c", "synchronous_commit=off", "-c", "max_connections=200"]
    return Child("postgres", argv, folder, port=port, url=url(port), user=run_as(),
                 stop_signal=signal.SIGINT)


def url(port: int, database: str = DATABASE) -> str:
    return f"postgresql://postgres@127.0.0.1:{port}/{database}"


def create_database(port: int) -> None:
    """The demo's database, once (a later start finds it)."""
    import psycopg
    with psycopg.connect(url(port, "postgres"), autocommit=True, connect_timeout=10) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                        (DATABASE,)).fetchone() is None:
            conn.execute(f"CREATE DATABASE {DATABASE}")


def answers(port: int) -> bool:
    import psycopg
    try:
        with psycopg.connect(url(port, "postgres"), connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False
