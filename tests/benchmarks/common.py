"""Shared pieces of the benchmarks: sizes from the environment, figures, tables,
JSON results, process CPU from /proc, and the simulator / media-server subprocesses.

Benchmarks are not tests: they print figures and a ratio against a baseline
measured in the same run, and only assert that they produced figures.
BENCH_QUICK=1 shrinks every size for a fast validation run.
"""
from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from iocwall.streams.clock import now_iso
from tests.fixtures.ports import free_port
from tests.fixtures.simulator import REPO, SimProcess, start_simulator

QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
RESULTS = REPO / "bench-results"
CLK_TCK = os.sysconf("SC_CLK_TCK")
SERVER_SCRIPT = Path(__file__).with_name("media_proc.py")


def size(name: str, full: float, quick: float) -> float:
    """A benchmark size: env BENCH_<NAME> wins, else the quick or the full default."""
    raw = os.environ.get(f"BENCH_{name.upper()}")
    return float(raw) if raw else (quick if QUICK else full)


def isize(name: str, full: int, quick: int) -> int:
    return int(size(name, full, quick))


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def summary(values: Sequence[float]) -> dict[str, float]:
    return {"n": len(values), "p50": round(percentile(values, 50), 2),
            "p95": round(percentile(values, 95), 2),
            "mean": round(sum(values) / len(values), 2) if values else math.nan}


def ratio(a: float, b: float) -> float:
    return round(a / b, 2) if b else math.inf


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain text table, printed and returned."""
    cells = [[str(h) for h in header]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = [f"\n== {title} =="]
    for n, row in enumerate(cells):
        lines.append("  ".join(c.rjust(w) if n else c.ljust(w)
                               for c, w in zip(row, widths, strict=True)))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.2f}"
    return str(value)


def write_results(name: str, figures: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    body = {"benchmark": name, "quick": QUICK, "time": now_iso(),   # +07:00, as every time we write
            "load_avg": os.getloadavg(), "cpus": os.cpu_count(), **figures}
    path.write_text(json.dumps(body, indent=2, default=str) + "\n")
    print(f"figures written to {path.relative_to(REPO)}", flush=True)
    return path


# --- CPU ------------------------------------------------------------------------------
def proc_cpu_s(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def descendants(pid: int) -> list[int]:
    """Child processes of ``pid``, their children, ... (media processes of a cluster)."""
    out: list[int] = []
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{current}/task/{tid}/children") as f:
                    kids = [int(k) for k in f.read().split()]
            except OSError:
                continue
            out += kids
            todo += kids
    return out


def tree_cpu_s(pid: int) -> dict[int, float]:
    """CPU seconds of ``pid`` and each of its descendants still alive."""
    out = {}
    for p in [pid, *descendants(pid)]:
        try:
            out[p] = proc_cpu_s(p)
        except OSError:
            pass
    return out


class CpuMeter:
    """CPU seconds a process (with ``tree``: and its descendants, e.g. media processes)
    spent between ``start()`` and ``stop()``, and its share of a core."""

    def __init__(self, pid: int, tree: bool = False) -> None:
        self.pid, self.tree = pid, tree
        self.cpu_s = self.wall_s = 0.0
        self._c0: dict[int, float] = {}
        self._t0 = 0.0
        self.per_process: dict[int, float] = {}

    def _read(self) -> dict[int, float]:
        return tree_cpu_s(self.pid) if self.tree else {self.pid: proc_cpu_s(self.pid)}

    def start(self) -> None:
        self._c0, self._t0 = self._read(), time.monotonic()

    def stop(self) -> None:
        now = self._read()
        self.per_process = {p: c - self._c0.get(p, 0.0) for p, c in now.items()}
        self.cpu_s = sum(self.per_process.values())
        self.wall_s = time.monotonic() - self._t0

    @property
    def core_pct(self) -> float:
        return 100 * self.cpu_s / self.wall_s if self.wall_s else math.nan


# --- subprocesses ---------------------------------------------------------------------
def simulator(tmp: Path, cameras: int, live: bool = False) -> SimProcess:
    """A real `iocwall sim` subprocess, without authentication (raw readers stay simple)."""
    extra = ["--live"] if live else []
    return start_simulator(tmp, cameras, extra, user="", password="")


class ServerProc:
    """tests/benchmarks/media_proc.py: a MediaServer behind HTTP, in its own process."""

    def __init__(self, sim: SimProcess, cameras: int, tmp: Path, processes: int = 1,
                 transport: str = "auto", extra: Sequence[str] = ()) -> None:
        """``processes`` > 1: media in that many media processes (MediaCluster) behind
        this one; measure it with ``CpuMeter(pid, tree=True)``. ``transport``: how every
        camera sends RTP (auto | tcp | udp)."""
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = tmp / f"media-{self.port}.log"
        self.processes = processes
        args = [sys.executable, str(SERVER_SCRIPT), "--port", str(self.port),
                "--rtsp", f"rtsp://{sim.host}:{sim.rtsp_port}", "--cameras", str(cameras),
                "--processes", str(processes), "--transport", transport, *extra]
        err = open(self.log, "w")
        self.process = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=err,
                                        text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        err.close()
        ready = threading.Event()

        def pump() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                if line.strip() == "READY":
                    ready.set()

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + 60
        while not ready.wait(0.1):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"media server did not start:\n{self.log.read_text()[-3000:]}")

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def __enter__(self) -> ServerProc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
