"""Train the nano YOLO that counts the simulator's people, from scratch, on the CPU.

    python -m iocwall.analytics.training.dataset --out .cache/sim-yolo
    python -m iocwall.analytics.training.train --data .cache/sim-yolo/data.yaml \\
        --hours 0.7 --out analytics/weights/sim-people.pt

Nothing is downloaded: the network is built from ultralytics' own ``yolo11n.yaml``
(random start, no pretrained weights), AMP is off (its check fetches weights),
plots are off (they fetch a font), and ultralytics is told it is offline. One
torch thread and no loader workers: the build machine's two cores are shared.
Training runs for ``--hours`` (ultralytics re-plans its epochs after the first
one to fit), so the epoch count it reached is printed and goes in the README.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

MODEL_YAML = "yolo11n.yaml"     # ships inside ultralytics; nc comes from the data (1)
# YOLO11's nano depth at half the nano's width (depth, width, max channels): about a
# quarter of its compute. The hall, its lights and a dozen looks are a narrow world;
# on two shared cores the slimmer net gets through ~3x more steps in the same time.
SLIM_SCALE = [0.50, 0.125, 1024]


def _offline() -> None:
    """Before ultralytics is imported: no network, no settings sync, one thread."""
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ.setdefault("OMP_NUM_THREADS", "1")


@contextmanager
def no_torchvision() -> Iterator[None]:
    """ultralytics' validator imports torchvision only to time its import apart, and
    PyPI's torchvision cannot load beside the CPU torch we pin (its ops are missing; the
    same reason detectors.py skips the predictor's warm-up). A placeholder stands in
    while the validator is built and is removed at once, so ultralytics' NMS, which uses
    torchvision only when it is in sys.modules, keeps to its own (same boxes)."""
    placed = "torchvision" not in sys.modules
    if placed:
        sys.modules["torchvision"] = types.ModuleType("torchvision")
    try:
        yield
    finally:
        if placed:
            sys.modules.pop("torchvision", None)


def trainer_class() -> type:
    from ultralytics.models.yolo.detect import DetectionTrainer

    class Trainer(DetectionTrainer):  # type: ignore[misc]
        def get_model(self, cfg: Any = None, weights: Any = None, verbose: bool = True) -> Any:
            from ultralytics.nn.tasks import yaml_model_load
            if isinstance(cfg, str | Path):  # trained from the yaml: it arrives as its name
                cfg = yaml_model_load(cfg)
            cfg = {**cfg, "scales": {**cfg["scales"], cfg["scale"]: SLIM_SCALE}}
            return super().get_model(cfg, weights, verbose)

        def get_validator(self) -> Any:
            with no_torchvision():
                validator = super().get_validator()
            # The final check of the best weights warms the model up, which imports
            # torchvision again: covered the same way as in validate().
            validator.add_callback("on_val_start", lambda _: sys.modules.pop("torchvision", None))
            return validator

        def final_eval(self) -> None:
            with no_torchvision():
                super().final_eval()

    return Trainer


def validate(model: Any, data: Path, imgsz: int, batch: int = 16) -> dict[str, float]:
    """Box mAP50 and mAP50-95 on the data's val split (the held-out scenes)."""
    with no_torchvision():
        from ultralytics.models.yolo.detect import DetectionValidator
        validator = DetectionValidator(args={
            "data": str(data), "imgsz": imgsz, "batch": batch, "device": "cpu", "plots": False,
            "workers": 0, "verbose": False, "save_json": False, "conf": 0.001, "half": False})
    metrics: Callable[..., Any] = validator
    # Its model warm-up imports torchvision too (for NMS): the placeholder covers the
    # warm-up and goes at "on_val_start", before the first NMS.
    validator.add_callback("on_val_start", lambda _: sys.modules.pop("torchvision", None))
    with no_torchvision():
        result = metrics(model=model.model if hasattr(model, "model") else model)
    return {"map50": float(result["metrics/mAP50(B)"]),
            "map50_95": float(result["metrics/mAP50-95(B)"]),
            "precision": float(result["metrics/precision(B)"]),
            "recall": float(result["metrics/recall(B)"])}


def train(data: Path, out: Path, hours: float, epochs: int, imgsz: int, batch: int,
          seed: int, run_dir: Path) -> dict[str, float]:
    _offline()
    import torch
    from ultralytics import YOLO
    from ultralytics.utils import torch_utils

    torch.set_num_threads(1)
    torch_utils.NUM_THREADS = 1   # select_device resets torch's threads to this
    model = YOLO(MODEL_YAML, task="detect")
    started = time.time()
    model.train(data=str(data), epochs=epochs, time=hours or None, imgsz=imgsz, batch=batch,
                device="cpu", workers=0, amp=False, plots=False, pretrained=False, seed=seed,
                deterministic=True, close_mosaic=2, warmup_epochs=1, val=False,
                project=str(run_dir.parent),
                name=run_dir.name, exist_ok=True, verbose=False, cache=True,
                trainer=trainer_class())
    trainer: Any = model.trainer
    weights = Path(trainer.last)     # val=False: the last epoch is the model
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(weights, out)
    return {"epochs": float(trainer.epoch + 1), "minutes": (time.time() - started) / 60,
            "megabytes": out.stat().st_size / 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(".cache/sim-yolo/data.yaml"))
    parser.add_argument("--out", type=Path, default=Path("analytics/weights/sim-people.pt"))
    parser.add_argument("--hours", type=float, default=1.0, help="0 = run --epochs")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--imgsz", type=int, default=320)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seed", type=int, default=23)
    parser.add_argument("--run-dir", type=Path, default=Path(".cache/sim-yolo-run/train"))
    args = parser.parse_args()
    done = train(args.data, args.out, args.hours, args.epochs, args.imgsz, args.batch,
                 args.seed, args.run_dir.resolve())  # relative: ultralytics' own runs dir
    print(f"trained {done['epochs']:.0f} epochs in {done['minutes']:.1f} min; "
          f"{args.out} is {done['megabytes']:.1f} MB")
    from ultralytics import YOLO
    scores = validate(YOLO(str(args.out), task="detect"), args.data, args.imgsz)
    print("held-out boxes: " + ", ".join(f"{k} {v:.3f}" for k, v in scores.items()))


if __name__ == "__main__":
    main()
