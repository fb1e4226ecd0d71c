"""The detectors on simulator frames: HOG finds the people the truth says are there;
the YOLO path runs on this CPU without torchvision (whose PyPI build cannot load beside
the pinned CPU torch) and with weights only from a file we name."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from iocwall.analytics.detectors import HogDetector
from iocwall.analytics.zones import Zone, count_in
from iocwall.hardware.sim.scene import Scene
from tests.analytics_helpers import scene_zones, truth

REPO = Path(__file__).resolve().parent.parent

YOLO_PATH = """
import json, sys
import numpy as np
from iocwall.analytics.detectors import DetectorOptions, YoloDetector
d = YoloDetector(DetectorOptions(kind="yolo", weights="yolo11n.yaml", device="cpu"))
frames = [np.zeros((360, 640, 3), np.uint8)] * 3
out = d.detect(frames)
print(json.dumps({"batches": len(out), "lists": all(isinstance(o, list) for o in out),
                  "torchvision": "torchvision" in sys.modules}))
"""


def test_hog_counts_the_people_of_a_scene_per_zone() -> None:
    scene, hog = Scene(1, 12.0), HogDetector()
    zones = [Zone.build(z.id, z.polygon) for z in scene_zones(scene)]
    errors, people = [], 0
    for t in np.arange(0.5, 12.0, 1.5):
        boxes = [d.box for d in hog.detect([scene.render(float(t), 640, 360)])[0]]
        want = truth(scene, float(t))
        people += sum(want.values())
        errors += [abs(count_in(z, boxes) - want[z.id]) for z in zones]
    assert people > 0
    assert float(np.mean(errors)) <= 1.0


def test_yolo_runs_batched_on_cpu_without_torchvision() -> None:
    out = subprocess.run([sys.executable, "-c", YOLO_PATH], cwd=REPO, capture_output=True,
                         text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"batches": 3, "lists": True, "torchvision": False}
