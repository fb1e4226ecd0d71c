"""One kiosk chromium window per monitor, restarted when it crashes.

Each window has its own profile folder (so each keeps its own display-session cookie),
opens full-screen at its output's position, and is relaunched with a growing delay
(1 s doubling to 30 s) when its process exits.
"""
from __future__ import annotations

import asyncio
import logging
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from iocwall.hardware.display.xrandr import Output

log = logging.getLogger(__name__)
RESTART_MIN_S = 1.0
RESTART_MAX_S = 30.0


@dataclass
class Window:
    output: Output
    url: str
    profile: Path
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0
    last_exit: int | None = None
    delay_s: float = RESTART_MIN_S

    def command(self, browser: str, extra: tuple[str, ...] = ()) -> list[str]:
        o = self.output
        return [browser, "--kiosk", "--no-first-run", "--noerrdialogs",
                "--disable-session-crashed-bubble", "--disable-infobars",
                "--autoplay-policy=no-user-gesture-required", "--disable-translate",
                f"--user-data-dir={self.profile}", f"--window-position={o.x},{o.y}",
                f"--window-size={o.width},{o.height}", *extra, f"--app={self.url}"]

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def health(self) -> dict[str, object]:
        return {"output": self.output.name, "alive": self.alive, "restarts": self.restarts,
                "pid": self.process.pid if self.alive and self.process else None,
                "uptime_s": round(time.monotonic() - self.started_at, 1) if self.alive else 0,
                "last_exit": self.last_exit,
                "geometry": f"{self.output.width}x{self.output.height}+{self.output.x}"
                            f"+{self.output.y}"}


class Kiosks:
    def __init__(self, browser: str, env: dict[str, str] | None = None,
                 extra_args: tuple[str, ...] = ()) -> None:
        self.browser = browser
        self.env = env
        self.extra_args = extra_args
        self.windows: list[Window] = []
        self._task: asyncio.Task[None] | None = None

    def open(self, window: Window) -> None:
        window.profile.mkdir(parents=True, exist_ok=True)
        window.process = subprocess.Popen(window.command(self.browser, self.extra_args),
                                          env=self.env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        window.started_at = time.monotonic()
        log.info("kiosk for %s started (pid %d)", window.output.name, window.process.pid)

    def start(self, windows: list[Window]) -> None:
        self.windows = windows
        for window in windows:
            self.open(window)
        self._task = asyncio.create_task(self._watch(), name="kiosk-watch")

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            for window in self.windows:
                if window.process is None or window.alive:
                    if window.alive and time.monotonic() - window.started_at > 60:
                        window.delay_s = RESTART_MIN_S          # it ran fine: reset backoff
                    continue
                window.last_exit = window.process.returncode
                log.warning("kiosk for %s exited (%s); restarting in %.0f s",
                            window.output.name, window.last_exit, window.delay_s)
                window.process = None
                asyncio.get_running_loop().call_later(window.delay_s, self._restart, window)
                window.delay_s = min(RESTART_MAX_S, window.delay_s * 2)

    def _restart(self, window: Window) -> None:
        if self._task is None or self._task.done():
            return
        window.restarts += 1
        self.open(window)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            # not `await task` in suppress(CancelledError): that swallows our own cancel
            await asyncio.wait({self._task})
            self._task = None
        for window in self.windows:
            if window.alive and window.process is not None:
                window.process.terminate()
                try:
                    await asyncio.to_thread(window.process.wait, 5)
                except subprocess.TimeoutExpired:
                    window.process.kill()
