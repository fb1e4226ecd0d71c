"""How well a detector counts: on held-out simulator scenes, and on two real photos.

    python -m iocwall.analytics.training.evaluate [--coco /path/yolo11n.pt]

1. Held-out scenes (the simulator's own seeds, never trained on): frames every 0.5 s
   of each 12 s loop at the sub stream's 640x360, JPEG-coded as the tap sends them;
   people per counter zone by the feet (box bottom-centre, as the worker counts),
   against ``Scene.truth``. Detection only, no tracking: the detector's own share.
   Per zone: mean absolute error and share exactly right; milliseconds per frame on
   one thread of this CPU (torch and OpenCV pinned to one).
2. Real people: ``bus.jpg`` and ``zidane.jpg`` from the ultralytics wheel, with the
   number of people in them counted by eye (bus 4, zidane 2). The simulator model
   has only ever seen two men cut out of bus.jpg, pasted into a drawn hall: what it
   finds in photos says how far simulator accuracy carries, which is not far.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import cv2
import numpy as np

from iocwall.analytics.detectors import (
    SIM_PEOPLE_IMGSZ,
    SIM_PEOPLE_MIN_SCORE,
    SIM_PEOPLE_WEIGHTS,
    Detector,
    DetectorOptions,
    HogDetector,
    YoloDetector,
)
from iocwall.analytics.zones import Zone, count_in
from iocwall.hardware.sim import people
from iocwall.hardware.sim.scene import CANVAS_H, CANVAS_W, Scene

WIDTH, HEIGHT = 640, 360
JPEG_QUALITY = 85
LOOP_S = 12.0
# People in the photos, counted by looking at them (every person, even cut by the frame).
REAL_PHOTOS = {"bus.jpg": 4, "zidane.jpg": 2}


@dataclass(frozen=True)
class Counting:
    detector: str
    zone_samples: int
    mae: float
    exact: float
    ms_per_frame: float


def one_thread() -> None:
    """Pin torch (if loaded later) and OpenCV to one thread: per-core figures."""
    import torch
    torch.set_num_threads(1)
    cv2.setNumThreads(1)


def zones_of(scene: Scene) -> list[Zone]:
    sx, sy = WIDTH / CANVAS_W, HEIGHT / CANVAS_H
    return [Zone.rect(c.id, c.zone[0] * sx, c.zone[1] * sy, c.zone[2] * sx, c.zone[3] * sy)
            for c in scene.counters]


def held_out_frames(seeds: tuple[int, ...], step_s: float = 0.5
                    ) -> list[tuple[np.ndarray, dict[str, int], list[Zone]]]:
    """(frame as the worker gets it, truth per zone, zones) for each instant of each scene."""
    out = []
    for seed in seeds:
        scene = Scene(seed, LOOP_S)
        zones = zones_of(scene)
        for t in np.arange(0.0, LOOP_S, step_s):
            image = scene.render(float(t), WIDTH, HEIGHT)
            ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            assert ok
            truth = {c["id"]: c["count"] for c in scene.truth(float(t))}
            decoded = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
            assert decoded is not None
            out.append((np.asarray(decoded), truth, zones))
    return out


def count_accuracy(detector: Detector,
                   frames: list[tuple[np.ndarray, dict[str, int], list[Zone]]]) -> Counting:
    detector.detect([frames[0][0]])                  # warm-up: first call builds things
    errors: list[int] = []
    spent = 0.0
    for image, truth, zones in frames:
        start = time.perf_counter()
        boxes = [d.box for d in detector.detect([image])[0]]
        spent += time.perf_counter() - start
        errors += [abs(count_in(z, boxes) - truth[z.id]) for z in zones]
    return Counting(detector.name, len(errors), float(np.mean(errors)),
                    float(np.mean(np.array(errors) == 0)), 1000 * spent / len(frames))


def real_photo_counts(detector: Detector) -> dict[str, int]:
    """People found in each real photo (the photos' own size, as a camera would send)."""
    folder = people.assets_dir()
    if folder is None:
        raise RuntimeError("ultralytics is not installed: its sample photos are missing")
    out = {}
    for name in REAL_PHOTOS:
        image = cv2.imread(str(folder / name))
        if image is None:
            raise FileNotFoundError(folder / name)
        out[name] = len(detector.detect([image])[0])
    return out


def detectors(coco: str = "") -> dict[str, Detector]:
    """HOG, the shipped simulator YOLO, and COCO weights when a path is given."""
    found: dict[str, Detector] = {"hog": HogDetector()}
    sim = YoloDetector(DetectorOptions(kind="yolo", weights=str(SIM_PEOPLE_WEIGHTS),
                                       device="cpu", imgsz=SIM_PEOPLE_IMGSZ,
                                       min_score=SIM_PEOPLE_MIN_SCORE))
    sim.name = "sim-yolo"
    found["sim-yolo"] = sim
    if coco:
        real = YoloDetector(DetectorOptions(kind="yolo", weights=coco, device="cpu"))
        real.name = "coco-yolo"
        found["coco-yolo"] = real
    return found


TUNING_SEEDS = (8, 9, 10, 11)   # training scenes: the threshold is never fitted to held-out ones


def tune_min_score(weights: str, scores: tuple[float, ...] = (0.25, 0.3, 0.35, 0.4, 0.45, 0.5,
                                                              0.55, 0.6)) -> dict[float, float]:
    """Counting MAE per zone on training scenes for each score threshold (one detection
    pass at the lowest threshold, then filtered)."""
    detector = YoloDetector(DetectorOptions(kind="yolo", weights=weights, device="cpu",
                                            imgsz=SIM_PEOPLE_IMGSZ, min_score=min(scores)))
    errors: dict[float, list[int]] = {score: [] for score in scores}
    for image, truth, zones in held_out_frames(TUNING_SEEDS, 1.0):
        found = detector.detect([image])[0]
        for score in scores:
            boxes = [d.box for d in found if d.score >= score]
            errors[score] += [abs(count_in(z, boxes) - truth[z.id]) for z in zones]
    return {score: float(np.mean(e)) for score, e in errors.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--coco", default="", help="COCO YOLO weights file (optional)")
    parser.add_argument("--tune", action="store_true",
                        help="only print the counting error per score threshold on training "
                             f"scenes {TUNING_SEEDS} (how SIM_PEOPLE_MIN_SCORE was chosen)")
    args = parser.parse_args()
    one_thread()
    if args.tune:
        for score, mae in tune_min_score(str(SIM_PEOPLE_WEIGHTS)).items():
            print(f"min_score {score:.2f}: MAE {mae:.3f} per zone")
        return
    frames = held_out_frames(tuple(args.seeds))
    found = detectors(args.coco)
    hog_ms = 0.0
    print(f"held-out scenes {args.seeds}, {len(frames)} frames 640x360, one thread")
    for name, detector in found.items():
        c = count_accuracy(detector, frames)
        hog_ms = hog_ms or c.ms_per_frame
        print(f"  {name:10s} MAE {c.mae:.3f}/zone  exact {c.exact:.0%}  "
              f"{c.ms_per_frame:.0f} ms/frame ({c.ms_per_frame / hog_ms:.2f}x HOG)")
    print("real photos (people found / true): " + ", ".join(
        f"{n} {t}" for n, t in REAL_PHOTOS.items()))
    for name, detector in found.items():
        counts = real_photo_counts(detector)
        print(f"  {name:10s} " + ", ".join(f"{n} {counts[n]}/{REAL_PHOTOS[n]}" for n in counts))


if __name__ == "__main__":
    main()
