"""How well a stock people detector counts the simulator's queues (a check, not the analytics).

    python -m iocwall.hardware.sim.hog_probe --seeds 1 --samples 20

Renders sub-stream frames (640x360) of a scene at evenly spaced times, runs OpenCV's
default HOG people detector on each, counts boxes per counter zone by the bottom-centre
of each box (where the feet are) and compares with ``Scene.truth``. Prints the mean
absolute error per zone and the share of zone samples counted exactly.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from . import people
from .scene import CANVAS_H, CANVAS_W, Scene

WIDTH, HEIGHT = 640, 360


@dataclass(frozen=True)
class ProbeResult:
    samples: int          # zone samples (times x counters)
    mae: float
    exact_share: float
    mean_truth: float


def _detector() -> cv2.HOGDescriptor:
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(np.array(cv2.HOGDescriptor.getDefaultPeopleDetector(), np.float32))
    return hog


def zone_counts(boxes: np.ndarray, zones: list[list[int]]) -> list[int]:
    """People per zone, each box placed at its bottom-centre (the feet)."""
    counts = []
    for x, y, w, h in zones:
        inside = 0
        for bx, by, bw, bh in boxes:
            fx, fy = bx + bw / 2, by + bh
            inside += int(x <= fx < x + w and y <= fy < y + h)
        counts.append(inside)
    return counts


def probe(seed: int, samples: int = 20, loop_s: float = 12.0) -> ProbeResult:
    scene, hog = Scene(seed, loop_s), _detector()
    errors: list[int] = []
    truths: list[int] = []
    for i in range(samples):
        t = (i + 0.5) * loop_s / samples
        frame = scene.render(t, WIDTH, HEIGHT)
        boxes, _ = hog.detectMultiScale(frame, winStride=(8, 8), padding=(8, 8), scale=1.05)
        truth = scene.truth(t, WIDTH / CANVAS_W, HEIGHT / CANVAS_H)
        found = zone_counts(np.asarray(boxes).reshape(-1, 4), [c["zone"] for c in truth])
        for zone, count in zip(truth, found, strict=True):
            errors.append(abs(count - zone["count"]))
            truths.append(zone["count"])
    n = len(errors)
    return ProbeResult(n, sum(errors) / n, sum(e == 0 for e in errors) / n, sum(truths) / n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--cache-dir", type=Path, default=Path(".cache/sim"))
    args = parser.parse_args()
    people.use_cache_dir(args.cache_dir)
    for seed in args.seeds:
        r = probe(seed, args.samples)
        print(f"seed {seed}: {r.samples} zone samples, MAE {r.mae:.2f}, "
              f"exact {r.exact_share:.2f}, mean truth {r.mean_truth:.2f}")


if __name__ == "__main__":
    main()
