"""HAProxy in front of the controllers, with the shipped deploy/haproxy/iocwall.cfg as it is:
only its environment variables differ (listen address, certificate, controllers)."""
from __future__ import annotations

import shutil
from pathlib import Path

from iocwall.wall.cluster_demo.processes import Child

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "haproxy" / "iocwall.cfg"


def child(folder: Path, port: int, controllers: list[int], pem: Path | None) -> Child:
    binary = shutil.which("haproxy")
    if binary is None:
        raise RuntimeError("haproxy is not installed: apt-get install haproxy "
                           "(make setup installs it)")
    if not CONFIG.is_file():
        raise RuntimeError(f"the HAProxy configuration is missing: {CONFIG}")
    env = {"IOCWALL_LB_BIND": f"127.0.0.1:{port}"}
    for k, controller in enumerate(controllers, 1):
        env[f"IOCWALL_CONTROLLER_{k}"] = f"127.0.0.1:{controller}"
    if pem is not None:
        env["IOCWALL_LB_PEM"] = str(pem)
    scheme = "https" if pem is not None else "http"
    # -db: stay in the foreground (the pid we watch is HAProxy's own)
    return Child("haproxy", [binary, "-db", "-f", str(CONFIG)], folder, port=port,
                 url=f"{scheme}://127.0.0.1:{port}/", env=env)
