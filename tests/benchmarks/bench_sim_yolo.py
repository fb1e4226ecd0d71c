"""The simulator-trained YOLO against HOG, and both on real people.

1. Held-out simulator scenes (seeds 0-3, the ones the simulator shows, never trained
   on), a frame every 0.5 s of each 12 s loop at 640x360 as the tap sends them (JPEG
   85): people per counter zone by the feet, against the scene's truth. Per detector:
   MAE per zone, share exactly right, milliseconds per frame on one thread of this CPU,
   and that time as a ratio to HOG's, measured in the same run. Detection only (no
   tracking): bench_analytics.py measures the whole worker path.
2. Real photos shipped with ultralytics (bus.jpg: 4 people, zidane.jpg: 2): people
   found by each detector beside the true number. The simulator model knows only the
   simulator's people; this table keeps its scores from being read as real accuracy.
COCO weights join both tables when BENCH_YOLO_WEIGHTS names a file (none can be
downloaded here).
"""
from __future__ import annotations

import os

import pytest

from iocwall.analytics.training.evaluate import (
    REAL_PHOTOS,
    count_accuracy,
    detectors,
    held_out_frames,
    one_thread,
    real_photo_counts,
)
from tests.benchmarks.common import size, table, write_results

pytestmark = pytest.mark.timeout(1500)

STEP_S = size("sim_yolo_step_s", 0.5, 3.0)        # seconds of scene between frames
COCO = os.environ.get("BENCH_YOLO_WEIGHTS", "")
SEEDS = (0, 1, 2, 3)


def test_sim_yolo_against_hog() -> None:
    one_thread()
    frames = held_out_frames(SEEDS, STEP_S)
    found = detectors(COCO)
    counting = {name: count_accuracy(d, frames) for name, d in found.items()}
    hog = counting["hog"]
    rows = [[name, c.zone_samples, f"{c.mae:.3f}", f"{c.exact:.0%}", f"{c.ms_per_frame:.0f}",
             f"{c.ms_per_frame / hog.ms_per_frame:.2f}x", f"{hog.mae / max(c.mae, 1e-9):.1f}x"]
            for name, c in counting.items()]
    print(table(f"Counting per zone on held-out simulator scenes {list(SEEDS)}, "
                f"{len(frames)} frames 640x360, one thread",
                ["detector", "zone samples", "MAE", "exact", "ms/frame", "time vs HOG",
                 "error vs HOG (HOG MAE / MAE)"], rows))
    photos = {name: real_photo_counts(d) for name, d in found.items()}
    print(table("Real photos: people found / true number (the simulator model has never "
                "seen a real scene)", ["detector", *REAL_PHOTOS],
                [[name, *(f"{got[p]} / {REAL_PHOTOS[p]}" for p in REAL_PHOTOS)]
                 for name, got in photos.items()]))
    write_results("sim_yolo", {"counting": {n: c.__dict__ for n, c in counting.items()},
                               "real_photos": photos, "truth": REAL_PHOTOS})
    assert hog.zone_samples > 0 and all(c.ms_per_frame > 0 for c in counting.values())
