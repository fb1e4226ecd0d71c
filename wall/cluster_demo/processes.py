"""Child processes of the cluster demo: start, watch, report a death, stop in reverse.

Each child runs in its own session (its own process group): Ctrl+C in the terminal
reaches only the demo, which then stops the children one by one in reverse order of
start, each with SIGTERM (PostgreSQL: SIGINT, its "fast" shutdown) and, after a grace
period, SIGKILL to its whole group, so nothing is left behind. A child that dies while
the demo runs is reported; with ``restart`` it is started again with the same command
line (same ports), which is how the failover drill kills and restarts a service.
"""
from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

STOP_GRACE_S = 15.0
RESTART_DELAY_S = 1.0
RESTART_MAX_S = 30.0         # a child that keeps dying at start is retried more slowly
STABLE_S = 10.0              # ... and one that ran this long starts from 1 s again
PR_SET_PDEATHSIG = 1          # linux/prctl.h


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def accepts(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), 0.5):
        return True
    return False


@dataclass
class Child:
    """One service: how to start it and what the state file says about it."""
    name: str
    argv: list[str]
    folder: Path                        # its own folder: cwd and log file
    port: int = 0                       # its main port (0: none)
    url: str = ""
    env: dict[str, str] = field(default_factory=dict)    # added to os.environ
    user: str | None = None             # run as this account (PostgreSQL when we are root)
    stop_signal: int = signal.SIGTERM
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    started_at: float = 0.0
    restart_delay_s: float = RESTART_DELAY_S
    deaths: list[dict[str, object]] = field(default_factory=list)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def log_file(self) -> Path:
        return self.folder / f"{self.name}.log"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def state(self) -> dict[str, object]:
        return {"name": self.name, "pid": self.pid, "port": self.port or None,
                "url": self.url or None, "alive": self.alive(), "starts": self.starts,
                "log": str(self.log_file), "deaths": self.deaths[-5:]}


class Supervisor:
    """Owns the children: started in order, stopped in reverse, deaths reported."""

    def __init__(self, on_change: Callable[[], None] = lambda: None,
                 report: Callable[[str], None] = print) -> None:
        self.children: list[Child] = []
        self.restart = False
        self._on_change = on_change
        self._report = report
        self._stopping = False
        self._watch: asyncio.Task[None] | None = None
        self._restarts: set[asyncio.Task[None]] = set()

    def spawn(self, child: Child) -> Child:
        """Start ``child`` (again, when it ran before) and keep it in the start order."""
        child.folder.mkdir(parents=True, exist_ok=True)
        out = open(child.log_file, "ab")        # noqa: SIM115 - the child keeps it
        try:
            child.proc = subprocess.Popen(
                child.argv, cwd=child.folder, env={**os.environ, **child.env},
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True, user=child.user,
                group=child.user, extra_groups=[] if child.user else None,
                preexec_fn=_die_with_parent(child.stop_signal))
        finally:
            out.close()
        child.starts += 1
        child.started_at = time.monotonic()
        if child not in self.children:
            self.children.append(child)
        self._on_change()
        return child

    async def ready(self, child: Child, check: Callable[[], Awaitable[bool] | bool],
                    timeout_s: float, what: str) -> None:
        """Until ``check()`` is true; raises RuntimeError when the child exits or time runs
        out (the last lines of its log in the message)."""
        deadline = time.monotonic() + timeout_s
        while True:
            if not child.alive():
                raise RuntimeError(f"{child.name} exited ({_code(child)}) before {what}; "
                                   f"log {child.log_file}:\n{tail(child.log_file)}")
            result = check()
            if not isinstance(result, bool):
                result = await result
            if result:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{child.name}: no {what} within {timeout_s:.0f} s; "
                                   f"log {child.log_file}:\n{tail(child.log_file)}")
            await asyncio.sleep(0.1)

    def start_watching(self) -> None:
        self._watch = asyncio.create_task(self._watch_loop(), name="cluster-watch")

    async def _watch_loop(self) -> None:
        """A child that dies is reported (the drill kills them on purpose); the demo goes
        on. With ``restart`` it comes back on the same command line."""
        while not self._stopping:
            for child in list(self.children):
                if child.proc is None or child.proc.poll() is None or self._stopping:
                    continue
                if child.deaths and child.deaths[-1].get("pid") == child.pid:
                    continue                        # already reported
                child.deaths.append({"pid": child.pid, "code": child.proc.returncode,
                                     "at": time.time()})
                self._report(f"iocwall cluster-demo: {child.name} (pid {child.pid}) "
                             f"exited: {_code(child)} / đã dừng bất thường")
                self._on_change()
                if self.restart:       # its own task: one slow restart delays no report
                    task = asyncio.create_task(self._restart(child))
                    self._restarts.add(task)
                    task.add_done_callback(self._restarts.discard)
            await asyncio.sleep(0.2)

    async def _restart(self, child: Child) -> None:
        # one that died soon after starting waits longer each time (a crash loop)
        quick = time.monotonic() - child.started_at < STABLE_S
        child.restart_delay_s = min(child.restart_delay_s * 2, RESTART_MAX_S) if quick \
            else RESTART_DELAY_S
        await asyncio.sleep(child.restart_delay_s)
        if not self._stopping:
            self.spawn(child)
            self._report(f"iocwall cluster-demo: {child.name} restarted, pid {child.pid} / "
                         "đã khởi động lại")

    async def stop_all(self) -> None:
        """Every child, in reverse order of start; each one gone before the next."""
        self._stopping = True
        pending = [t for t in (self._watch, *self._restarts) if t is not None]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for child in reversed(self.children):
            await asyncio.to_thread(stop_child, child)
            self._on_change()


def stop_child(child: Child, grace_s: float = STOP_GRACE_S) -> None:
    """Its stop signal, then SIGKILL to its process group after ``grace_s``; waits."""
    proc = child.proc
    if proc is None:
        return
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, child.stop_signal)
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within %.0f s: killed", child.name, grace_s)
    # the group as well: anything it started (and left behind) goes with it
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)


def _die_with_parent(sig: int) -> Callable[[], None]:
    """Linux: the child gets ``sig`` when the demo itself dies (even by kill -9), so that
    no service outlives it. Runs in the child after fork, after its user is set."""
    def arm() -> None:
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
    return arm


def _code(child: Child) -> str:
    code = child.proc.returncode if child.proc is not None else None
    if code is not None and code < 0:
        with contextlib.suppress(ValueError):
            return f"signal {signal.Signals(-code).name}"
    return f"exit code {code}"


def tail(path: Path, lines: int = 12) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join("    " + line for line in text.splitlines()[-lines:])
