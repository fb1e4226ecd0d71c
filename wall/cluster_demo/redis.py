"""Redis for the cluster demo: Debian's redis-server on 127.0.0.1, no persistence (the bus
carries events and heartbeats, nothing that must survive it: the store has the state)."""
from __future__ import annotations

import contextlib
import shutil
import socket
from pathlib import Path

from iocwall.wall.cluster_demo.processes import Child


def child(folder: Path, port: int) -> Child:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed: apt-get install redis-server "
                           "(make setup installs it)")
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--protected-mode", "yes", "--loglevel", "warning",
            "--dir", str(folder)]
    return Child("redis", argv, folder, port=port, url=url(port))


def url(port: int) -> str:
    return f"redis://127.0.0.1:{port}/0"


def answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5) as s:
        s.sendall(b"PING\r\n")
        return s.recv(16).startswith(b"+PONG")
    return False
