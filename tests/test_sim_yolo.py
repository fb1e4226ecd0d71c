"""The simulator-trained YOLO: exact boxes from the scene, the dataset made from them,
the shipped weights counting a held-out frame, the person class found in any weights,
and the demo's choice of detector (with one clear line when the weights are missing)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from iocwall.analytics.detectors import (
    SIM_PEOPLE_WEIGHTS,
    DetectorOptions,
    WeightsMissing,
    YoloDetector,
    person_class,
)
from iocwall.analytics.training.dataset import make
from iocwall.analytics.zones import Zone, count_in
from iocwall.hardware.sim.scene import Scene
from iocwall.wall.zones.demo_detector import choose_demo_detector
from tests.analytics_helpers import scene_zones, truth

REPO = Path(__file__).resolve().parent.parent

# Held-out scene 2 (never trained on), two instants: the model's count per zone and its
# boxes against the scene's exact boxes, in a child process (torch stays out of pytest).
COUNT = """
import json
import numpy as np
from iocwall.analytics.detectors import (SIM_PEOPLE_IMGSZ, SIM_PEOPLE_MIN_SCORE,
                                         SIM_PEOPLE_WEIGHTS, DetectorOptions, YoloDetector)
from iocwall.analytics.training.evaluate import held_out_frames
d = YoloDetector(DetectorOptions(kind="yolo", weights=str(SIM_PEOPLE_WEIGHTS), device="cpu",
                                 imgsz=SIM_PEOPLE_IMGSZ, min_score=SIM_PEOPLE_MIN_SCORE))
out = []
for image, want, zones in held_out_frames((2,), step_s=6.0):
    boxes = [x.box for x in d.detect([image])[0]]
    out.append({"boxes": boxes, "truth": want})
print(json.dumps(out))
"""


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union if union > 0 else 0.0


def test_scene_boxes_put_the_feet_where_the_truth_counts() -> None:
    scene = Scene(3, 12.0)
    zones = [Zone.build(z.id, z.polygon) for z in scene_zones(scene)]
    for t in (1.0, 5.5, 9.0):
        boxes = scene.people_boxes(t, 640, 360)
        feet = [(b.x1, b.y1, b.x2, b.y2) for b in boxes if b.feet_in_frame]
        assert {z.id: count_in(z, feet) for z in zones} == truth(scene, t)
        assert all(0.0 < b.visible <= 1.0 and b.x2 > b.x1 and b.y2 > b.y1 for b in boxes)


def test_dataset_has_held_out_scenes_and_yolo_labels(tmp_path: Path) -> None:
    sizes = make(tmp_path, train_seeds=1, per_scene=2, held_out_per_scene=1, seed=1)
    assert sizes == {"train": 2, "val": 8}           # the simulator's 8 scenes held out
    train = sorted((tmp_path / "images" / "train").glob("*.jpg"))
    assert [p.name[:4] for p in train] == ["s008", "s008"]     # trained on unseen seeds
    lines = [line.split() for p in (tmp_path / "labels").rglob("*.txt")
             for line in p.read_text().splitlines()]
    assert lines and all(len(v) == 5 and v[0] == "0" for v in lines)
    assert all(0.0 <= float(x) <= 1.0 for v in lines for x in v[1:])
    assert "names:\n  0: person" in (tmp_path / "data.yaml").read_text()


@pytest.mark.timeout(240)
def test_shipped_weights_count_a_held_out_frame() -> None:
    assert SIM_PEOPLE_WEIGHTS.stat().st_size <= 8_000_000
    out = subprocess.run([sys.executable, "-c", COUNT], cwd=REPO, capture_output=True,
                         text=True, timeout=200)
    assert out.returncode == 0, out.stderr[-2000:]
    scene = Scene(2, 12.0)
    zones = [Zone.build(z.id, z.polygon) for z in scene_zones(scene)]
    frames = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(frames) == 2
    errors, matched, people = [], 0, 0
    for t, got in zip((0.0, 6.0), frames, strict=True):
        errors += [abs(count_in(z, got["boxes"]) - got["truth"][z.id]) for z in zones]
        exact = [(b.x1, b.y1, b.x2, b.y2) for b in scene.people_boxes(t, 640, 360)
                 if b.visible >= 0.6]
        people += len(exact)
        matched += sum(any(_iou(e, tuple(g)) >= 0.5 for g in got["boxes"]) for e in exact)
    assert people > 0
    assert sum(errors) / len(errors) <= 0.5, errors
    assert matched >= 0.8 * people, (matched, people)


def test_person_class_is_found_by_name() -> None:
    assert person_class({0: "person"}) == 0
    assert person_class({0: "person", 1: "bicycle", 2: "car"}) == 0      # COCO's order
    assert person_class(["car", "bus", "Person"]) == 2
    with pytest.raises(ValueError, match="no 'person' class"):
        person_class({0: "car", 1: "bus"})


def test_missing_weights_give_one_line_naming_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "weights" / "sim-people.pt"
    with pytest.raises(WeightsMissing) as caught:
        YoloDetector(DetectorOptions(kind="yolo", weights=str(missing), device="cpu"))
    assert "\n" not in str(caught.value) and str(missing) in str(caught.value)
    chosen = choose_demo_detector("hog", "", sim_weights=missing)
    assert (chosen.kind, chosen.weights) == ("hog", "")
    assert "\n" not in chosen.line and f"weights not found: {missing}" in chosen.line


def test_demo_counts_with_the_simulator_model_unless_the_site_chose() -> None:
    chosen = choose_demo_detector("hog", "")
    assert (chosen.kind, chosen.weights, chosen.imgsz) == ("yolo", str(SIM_PEOPLE_WEIGHTS), 320)
    assert "only the simulator's people" in chosen.line
    site = choose_demo_detector("yolo", "/opt/iocwall/yolo11n.pt")
    assert (site.kind, site.weights, site.imgsz) == ("yolo", "/opt/iocwall/yolo11n.pt", 0)
    assert choose_demo_detector("hog", "", forced_hog=True).kind == "hog"
