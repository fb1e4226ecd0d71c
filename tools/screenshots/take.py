"""Screenshots of the main pages for the README, taken from a fresh ``iocwall demo``.

    make screenshots            # or: .venv/bin/python tools/screenshots/take.py [--out DIR]

Starts ``iocwall demo`` on a free loopback port with a fresh data folder, creates one user per
main role, logs in as each through the login page (Debian's Chromium, driven by Playwright) and
saves a PNG of each main page into docs/screenshots/. Pictures larger than ``MAX_BYTES`` are
reduced to 256 colours, so the repository stays small. Run it again after a change to a page,
and commit the pictures with the change.
"""
from __future__ import annotations

import argparse
import io
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("IOCWALL_CHROMIUM", "/usr/bin/chromium")
ADMIN_PASSWORD = "shots-Admin-pw-4417"
PASSWORD = "shots-User-pw-9023"
MAX_BYTES = 300_000
START_TIMEOUT_S = 180.0
DESKTOP = (1280, 800)
PHONE = (390, 844)


@dataclass(frozen=True)
class Shot:
    name: str                   # file name, without .png
    role: str                   # who looks at it
    path: str
    size: tuple[int, int] = DESKTOP
    ready: str = 'body[data-ready="1"]'
    settle_ms: int = 1500       # video and charts draw after "ready"


SHOTS = (
    Shot("home", "admin", "/"),
    Shot("live", "operator", "/live", ready='#shell[data-ready="1"]', settle_ms=6000),
    Shot("console", "operator", "/console?wall=demo", settle_ms=4000),
    Shot("leader", "leader", "/leader", settle_ms=4000),
    Shot("leader-phone", "leader", "/leader", size=PHONE, settle_ms=4000),
    Shot("registry", "registrar", "/register"),
    Shot("zones", "registrar", "/zones", settle_ms=3000),
    Shot("audit", "admin", "/audit"),
    Shot("admin-users", "admin", "/admin/users"),
    Shot("admin-displays", "admin", "/admin/displays"),
    Shot("settings", "leader", "/settings"),
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Demo:
    """``iocwall demo --no-browser`` in a subprocess, until ``stop``."""

    def __init__(self, data_dir: Path) -> None:
        port = free_port()
        env = dict(os.environ, IOCWALL_ADMIN_PASSWORD=ADMIN_PASSWORD, PYTHONUNBUFFERED="1")
        argv = [sys.executable, "-m", "iocwall.wall.cli", "demo", "--no-browser", "--host",
                "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir)]
        self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, encoding="utf-8")
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        self.base_url = self._wait(port)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def _wait(self, port: int) -> str:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            text = "".join(self.lines)
            if "Ctrl+C" in text:
                found = re.search(r"Console[^:]*:\s+(\S+)/live", text)
                return found.group(1) if found else f"http://127.0.0.1:{port}"
            if self.proc.poll() is not None:
                raise SystemExit(f"iocwall demo exited ({self.proc.returncode}):\n{text}")
            time.sleep(0.2)
        self.stop()
        raise SystemExit("iocwall demo did not start in time")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def make_users(base_url: str) -> dict[str, tuple[str, str]]:
    """role -> (username, password), one user per main role."""
    users = {"admin": ("admin", ADMIN_PASSWORD)}
    with httpx.Client(base_url=base_url, timeout=20) as http:
        http.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD}
                  ).raise_for_status()
        for role, name, extra in (("operator", "nguyen.van.an", {}),
                                  ("leader", "tran.thi.binh", {}),
                                  ("registrar", "le.minh.chau", {"province": "Hà Nội"})):
            body = {"username": name, "password": PASSWORD, "role": role, **extra}
            reply = http.post("/api/users", json=body)
            if reply.status_code not in (201, 409):
                raise SystemExit(f"cannot create {name}: {reply.text}")
            users[role] = (name, PASSWORD)
    return users


def small_png(png: bytes) -> bytes:
    """The picture as it is, or in 256 colours when it is larger than MAX_BYTES."""
    if len(png) <= MAX_BYTES:
        return png
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=256)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def take(base_url: str, users: dict[str, tuple[str, str]], out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-gpu",
                                           "--autoplay-policy=no-user-gesture-required",
                                           "--allow-loopback-in-peer-connection"])
        contexts = {}
        try:
            for shot in SHOTS:
                if shot.role not in contexts:
                    context = browser.new_context(locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh")
                    page = context.new_page()
                    page.set_default_timeout(30_000)
                    name, password = users[shot.role]
                    page.goto(base_url + "/login")
                    page.fill("#username", name)
                    page.fill("#password", password)
                    page.click("#submit")
                    page.wait_for_selector('#shell[data-ready="1"]')
                    contexts[shot.role] = page
                page = contexts[shot.role]
                page.set_viewport_size({"width": shot.size[0], "height": shot.size[1]})
                page.goto(base_url + shot.path)
                page.wait_for_selector(shot.ready)
                page.wait_for_timeout(shot.settle_ms)
                target = out / f"{shot.name}.png"
                target.write_bytes(small_png(page.screenshot()))
                saved.append(target)
                print(f"{target.relative_to(ROOT)}: {target.stat().st_size // 1024} KB")
        finally:
            browser.close()
    return saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="folder for the PNGs")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="iocwall-shots-") as data:
        demo = Demo(Path(data))
        try:
            take(demo.base_url, make_users(demo.base_url), args.out)
        finally:
            demo.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
