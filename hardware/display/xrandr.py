"""Monitors of an X11 display from ``xrandr --query`` output (parsed, never guessed)."""
from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

# "HDMI-1 connected primary 1920x1080+0+0 (normal left ...) 527mm x 296mm"
_OUTPUT = re.compile(
    r"^(?P<name>\S+) (?P<state>connected|disconnected|unknown connection)"
    r"(?: (?P<primary>primary))?(?: (?P<w>\d+)x(?P<h>\d+)\+(?P<x>-?\d+)\+(?P<y>-?\d+))?")


@dataclass(frozen=True)
class Output:
    """One active monitor: its xrandr name and where it sits on the X screen."""
    name: str
    width: int
    height: int
    x: int
    y: int
    primary: bool = False


class XrandrError(RuntimeError):
    pass


def parse(text: str) -> list[Output]:
    """Connected outputs with a mode set (a connected but switched-off output is skipped),
    ordered left to right, then top to bottom."""
    found = []
    for line in text.splitlines():
        match = _OUTPUT.match(line)
        if not match or match["state"] != "connected" or match["w"] is None:
            continue
        found.append(Output(match["name"], int(match["w"]), int(match["h"]), int(match["x"]),
                            int(match["y"]), match["primary"] is not None))
    return sorted(found, key=lambda o: (o.x, o.y))


def query(display: str | None = None, timeout_s: float = 5.0) -> list[Output]:
    """Run xrandr on ``display`` (default: $DISPLAY) and parse it."""
    binary = shutil.which("xrandr")
    if binary is None:
        raise XrandrError("xrandr is not installed (Debian: apt-get install x11-xserver-utils)")
    args = [binary, "--query"] + (["--display", display] if display else [])
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout_s,
                              check=False)
    except subprocess.TimeoutExpired:
        raise XrandrError("xrandr did not answer in time") from None
    if done.returncode != 0:
        raise XrandrError(f"xrandr failed: {done.stderr.strip()[:200]}")
    return parse(done.stdout)
