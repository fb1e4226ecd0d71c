"""Simulator scenes as analytics input: frames with known ground truth, and a worker process."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2

from iocwall.analytics.messages import FrameHeader, ZoneSpec
from iocwall.hardware.sim.scene import CANVAS_H, CANVAS_W, Scene

REPO = Path(__file__).resolve().parents[1]
SUB_W, SUB_H = 640, 360


def scene_zones(scene: Scene) -> list[ZoneSpec]:
    """The scene's counter zones in sub-stream pixels, as the demo configures them."""
    sx, sy = SUB_W / CANVAS_W, SUB_H / CANVAS_H
    out = []
    for c in scene.counters:
        x, y, w, h = c.zone
        out.append(ZoneSpec(c.id, [[x * sx, y * sy], [(x + w) * sx, y * sy],
                                   [(x + w) * sx, (y + h) * sy], [x * sx, (y + h) * sy]]))
    return out


def frame(scene: Scene, camera: str, seq: int, t: float, epoch: float) -> tuple[FrameHeader, bytes]:
    image = scene.render(t, SUB_W, SUB_H)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    return FrameHeader(camera, seq, epoch + t, SUB_W, SUB_H, scene_zones(scene)), buf.tobytes()


def truth(scene: Scene, t: float) -> dict[str, int]:
    return {c["id"]: c["count"] for c in scene.truth(t)}


def start_worker(address: str, name: str, *extra: str) -> subprocess.Popen[str]:
    exe = REPO / ".venv" / "bin" / "iocwall"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "iocwall.wall.cli"]
    return subprocess.Popen([*cmd, "worker", "--connect", address, "--name", name,
                             "--detector", "hog", "--batch", "4", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=REPO)


def stop_worker(proc: subprocess.Popen[str]) -> str:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.stdout.read() if proc.stdout else ""


