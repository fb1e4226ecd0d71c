"""Media nodes (`iocwall media-node`) as real subprocesses, and what tests need around them:
a certificate for 127.0.0.1, the shared secret file, a node's config.toml."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.fixtures.ports import free_port
from tests.fixtures.tls import SelfSigned

IOCWALL = [sys.executable, "-m", "iocwall.wall.cli"]
SECRET = "cluster-secret-for-tests-0123456789"


@dataclass
class NodeProcess:
    node: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)


def secret_file(folder: Path, text: str = SECRET) -> Path:
    path = folder / "cluster.secret"
    path.write_text(text + "\n")
    path.chmod(0o600)
    return path


def node_config(folder: Path, node: str, port: int, redis_url: str, prefix: str,
                tls: SelfSigned, secret: Path, timeout_s: float = 2.0) -> Path:
    path = folder / f"{node}.toml"
    path.write_text(f"""
[bus]
backend = "redis"
redis_url = "{redis_url}"
prefix = "{prefix}"

[cluster]
secret_file = "{secret}"

[logging]
level = "INFO"

[streams]
node_timeout_s = {timeout_s}
linger_s = 1.0
reconnect_min_s = 0.2
reconnect_max_s = 2.0
open_timeout_s = 4.0

[webrtc]
ice_addresses = ["127.0.0.3"]     # [media_node] ice_addresses below win on a media node

[media_node]
id = "{node}"
listen = "127.0.0.1:{port}"
ice_addresses = ["127.0.0.1"]
cert_file = "{tls.cert}"
key_file = "{tls.key}"
""")
    return path


@contextlib.contextmanager
def media_nodes(folder: Path, ids: list[str], redis_url: str, prefix: str, tls: SelfSigned,
                secret: Path, timeout_s: float = 2.0) -> Iterator[dict[str, NodeProcess]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOCWALL_")}
    nodes: dict[str, NodeProcess] = {}
    try:
        for node in ids:
            port = free_port()
            config = node_config(folder, node, port, redis_url, prefix, tls, secret, timeout_s)
            log = folder / f"{node}.log"
            with log.open("wb") as out:
                proc = subprocess.Popen([*IOCWALL, "media-node", "--config", str(config)],
                                        stdout=out, stderr=subprocess.STDOUT, env=env)
            nodes[node] = NodeProcess(node, port, proc, log)
        yield nodes
    finally:
        for n in nodes.values():
            if n.proc.poll() is None:
                n.proc.send_signal(signal.SIGTERM)
        for n in nodes.values():
            try:
                n.proc.wait(20)
            except subprocess.TimeoutExpired:
                n.kill()
