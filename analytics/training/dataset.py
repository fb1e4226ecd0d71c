"""Render a YOLO dataset from the simulator's hall scenes, labelled with their exact boxes.

    python -m iocwall.analytics.training.dataset --out .cache/sim-yolo

Frames are the sub stream's 640x360, JPEG-coded at the tap's quality, so the model
sees what the worker sees. Labels come from ``Scene.people_boxes`` (the placements
the renderer draws), one class, "person". A person is labelled when at least
``MIN_VISIBLE`` of their silhouette is seen: someone hidden behind the queue can
only be guessed, and a label there would teach the model to guess.

Splits: training scenes are seeds the simulator never shows (8 and up), with queue
crowding varied through the loop length and the lighting through a random gain,
gamma and side-to-side falloff (the simulator itself has one even light). The
held-out split is the simulator's own scenes (seeds 0-7 at its 12 s loop, even
light): everything the demo and the benchmarks show is unseen in training.
"""
from __future__ import annotations

import argparse
import json
import random
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from iocwall.hardware.sim import people
from iocwall.hardware.sim.scene import PersonBox, Scene

WIDTH, HEIGHT = 640, 360
JPEG_QUALITY = 85               # what the tap sends (streams/taps)
MIN_VISIBLE = 0.25
MIN_HEIGHT_PX = 12
TRAIN_LOOPS = (6.0, 8.0, 12.0, 16.0)   # shorter loop, same customers: longer queues
HELD_OUT_SEEDS = tuple(range(8))
SIM_LOOP_S = 12.0


@dataclass(frozen=True)
class Split:
    name: str
    seeds: tuple[int, ...]
    per_scene: int
    varied: bool                # crowding and lighting varied (training only)


def labels(boxes: list[PersonBox]) -> list[str]:
    """YOLO label lines (class cx cy w h, normalised) for the boxes worth learning."""
    out = []
    for b in boxes:
        if b.visible < MIN_VISIBLE or b.y2 - b.y1 < MIN_HEIGHT_PX:
            continue
        cx, cy = (b.x1 + b.x2) / 2 / WIDTH, (b.y1 + b.y2) / 2 / HEIGHT
        w, h = (b.x2 - b.x1) / WIDTH, (b.y2 - b.y1) / HEIGHT
        out.append(f"0 {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}")
    return out


def relight(image: np.ndarray, rng: random.Random) -> np.ndarray:
    """Another lighting of the same hall: gain, gamma, and one side darker than the other."""
    gain, gamma = rng.uniform(0.55, 1.25), rng.uniform(0.75, 1.35)
    ramp = np.linspace(1.0 - rng.uniform(0, 0.35), 1.0, image.shape[1], dtype=np.float32)
    if rng.random() < 0.5:
        ramp = ramp[::-1]
    out = 255.0 * (image.astype(np.float32) / 255.0) ** gamma * gain * ramp[None, :, None]
    return np.clip(out, 0, 255).astype(np.uint8)


def write_split(root: Path, split: Split, rng: random.Random) -> int:
    images, label_dir = root / "images" / split.name, root / "labels" / split.name
    images.mkdir(parents=True, exist_ok=True)
    label_dir.mkdir(parents=True, exist_ok=True)
    written = 0
    for seed in split.seeds:
        loop_s = rng.choice(TRAIN_LOOPS) if split.varied else SIM_LOOP_S
        scene = Scene(seed, loop_s)
        for i in range(split.per_scene):
            # training: random instants; held out: evenly spaced over the loop
            t = rng.uniform(0, loop_s) if split.varied else (i + 0.5) * loop_s / split.per_scene
            image = scene.render(t, WIDTH, HEIGHT)
            if split.varied:
                image = relight(image, rng)
            stem = f"s{seed:03d}_l{loop_s:g}_t{t:07.3f}"
            cv2.imwrite(str(images / f"{stem}.jpg"), image,
                        [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            lines = labels(scene.people_boxes(t, WIDTH, HEIGHT))
            (label_dir / f"{stem}.txt").write_text("".join(f"{line}\n" for line in lines))
            written += 1
    return written


def make(root: Path, train_seeds: int, per_scene: int, held_out_per_scene: int,
         seed: int) -> dict[str, int]:
    """Write images/, labels/ and data.yaml under ``root``; returns images per split."""
    rng = random.Random(seed)
    splits = (Split("train", tuple(range(8, 8 + train_seeds)), per_scene, True),
              Split("val", HELD_OUT_SEEDS, held_out_per_scene, False))
    sizes = {s.name: write_split(root, s, rng) for s in splits}
    (root / "data.yaml").write_text(
        f"path: {root.resolve()}\ntrain: images/train\nval: images/val\n"
        "names:\n  0: person\n")
    (root / "made.json").write_text(json.dumps(
        {"seed": seed, "train_seeds": [8, 8 + train_seeds - 1], "per_scene": per_scene,
         "held_out_seeds": list(HELD_OUT_SEEDS), "held_out_per_scene": held_out_per_scene,
         "sizes": sizes}, indent=1))
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(".cache/sim-yolo"))
    parser.add_argument("--train-scenes", type=int, default=40)
    parser.add_argument("--per-scene", type=int, default=12)
    parser.add_argument("--held-out-per-scene", type=int, default=12)
    parser.add_argument("--seed", type=int, default=23)
    parser.add_argument("--cache-dir", type=Path, default=Path(".cache/sim"))
    args = parser.parse_args()
    people.use_cache_dir(args.cache_dir)
    sizes = make(args.out, args.train_scenes, args.per_scene, args.held_out_per_scene,
                 args.seed)
    print(f"wrote {sizes} to {args.out}")


if __name__ == "__main__":
    main()
