"""Which detector the demo counts with, and one line saying so.

The demo shows the simulator's hall, so when nothing else is configured it counts
with the nano YOLO trained on the simulator's own renderings (analytics/weights,
README): on the held-out scenes it counts better than HOG, and faster. That model
knows only the simulator's people. A site's choice always wins: weights given by
path (COCO weights for real cameras) or ``detector = "yolo"`` are used as they are.
HOG stays the weights-free fallback: when the shipped file or ultralytics is missing,
the line says which, and the demo counts with HOG.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from iocwall.analytics.detectors import SIM_PEOPLE_IMGSZ, SIM_PEOPLE_MIN_SCORE, SIM_PEOPLE_WEIGHTS


@dataclass(frozen=True)
class DemoDetector:
    kind: str               # "hog" | "yolo"
    weights: str            # "" = the worker's configured weights (or none, for HOG)
    imgsz: int              # 0 = [analytics] imgsz
    line: str               # what the demo prints about it
    min_score: float = 0.0  # 0 = the detector's default


def choose_demo_detector(detector: str, weights: str, sim_weights: Path = SIM_PEOPLE_WEIGHTS,
                         forced_hog: bool = False) -> DemoDetector:
    """The configured detector when the site chose YOLO or weights, else the simulator
    model when it and ultralytics are there, else HOG (with the reason)."""
    if forced_hog:
        return DemoDetector("hog", "", 0, "counting people with HOG (iocwall demo --detector hog)")
    if detector == "yolo" or weights:
        return DemoDetector(detector, weights, 0,
                            f"counting people with {detector} ({weights or 'no weights'}), "
                            "as configured in [analytics]")
    if not sim_weights.is_file():
        return DemoDetector("hog", "", 0, f"simulator YOLO weights not found: {sim_weights}; "
                            "counting people with HOG (less accurate)")
    if importlib.util.find_spec("ultralytics") is None:
        return DemoDetector("hog", "", 0, "ultralytics is not installed (pip install "
                            "'iocwall[analytics]'); counting people with HOG (less accurate)")
    line = (f"counting people with the simulator-trained YOLO ({sim_weights.name}: it knows "
            "only the simulator's people; real cameras need COCO weights, [analytics] weights)")
    return DemoDetector("yolo", str(sim_weights), SIM_PEOPLE_IMGSZ, line, SIM_PEOPLE_MIN_SCORE)
