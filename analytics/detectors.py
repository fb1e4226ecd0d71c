"""People detectors behind one interface: YOLO (weights by path) and OpenCV's HOG.

    detector = build_detector(DetectorOptions(kind="yolo", weights="/opt/iocwall/yolo11n.pt"))
    boxes_per_image = detector.detect([frame1, frame2])   # a batch, any cameras

Nothing is ever downloaded: YOLO weights are a file the site puts in place,
and a missing file is reported with its full path before ultralytics (and torch)
are even imported. HOG needs no weights (it ships with OpenCV) and keeps the demo
and the tests running end to end on machines without them; it is trained on
upright full-body pedestrians and misses seated, partial and high-angle people.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import cv2
import numpy as np

log = logging.getLogger(__name__)
PERSON = 0                      # COCO class id
# A nano YOLO trained on the simulator's renderings only (analytics/training, README):
# the demo's detector. It knows the simulator's people and nobody else.
SIM_PEOPLE_WEIGHTS = Path(__file__).resolve().parent / "weights" / "sim-people.pt"
SIM_PEOPLE_IMGSZ = 320          # the size it was trained at
SIM_PEOPLE_MIN_SCORE = 0.45     # chosen on training scenes (README), not the held-out ones


@dataclass(frozen=True)
class Detection:
    x1: float
    y1: float
    x2: float
    y2: float
    score: float                # 0..1

    @property
    def box(self) -> tuple[float, float, float, float]:
        return self.x1, self.y1, self.x2, self.y2


class Detector(Protocol):
    name: str
    batches: bool          # a batch of N costs less than N single calls (YOLO); HOG: no


    def detect(self, images: list[np.ndarray]) -> list[list[Detection]]:
        """People in each BGR image of the batch, in that image's pixels."""


class WeightsMissing(FileNotFoundError):
    """The configured weights file is not there; the message says where to put it."""


@dataclass(frozen=True)
class DetectorOptions:
    kind: Literal["hog", "yolo"] = "hog"
    weights: str = ""           # YOLO: .pt / .onnx / OpenVINO folder; a .yaml = random weights
    device: str = ""            # "" = GPU when present, else CPU; or "cpu", "cuda:0"
    half: bool = False          # FP16 on GPU
    imgsz: int = 640
    min_score: float = 0.25


class HogDetector:
    """OpenCV's default people detector (a linear SVM on HOG features)."""
    name = "hog"
    batches = False
    # Pyramid step 1.1, not 1.05: half the levels, half the time (143 vs 272 ms a frame on
    # a loaded core), per-zone MAE on the simulator's 4 scenes 0.547 vs 0.531. In the
    # live demo the time is what hurts: a worker four cameras behind shows old counts.
    SCALE = 1.1

    def __init__(self, min_score: float = 0.25) -> None:
        if not hasattr(cv2, "HOGDescriptor"):
            raise RuntimeError("this OpenCV has no HOGDescriptor (OpenCV 5 moved it to contrib); "
                               "install opencv-python<5")
        self._hog = cv2.HOGDescriptor()
        self._hog.setSVMDetector(np.array(cv2.HOGDescriptor.getDefaultPeopleDetector(),
                                          np.float32))
        self.min_score = min_score

    def detect(self, images: list[np.ndarray]) -> list[list[Detection]]:
        return [self._one(image) for image in images]

    def _one(self, image: np.ndarray) -> list[Detection]:
        # groupThreshold 1 (not OpenCV's 2): people queueing overlap, and the stricter
        # grouping merged neighbours into one box; it is also ~35 % faster here.
        rects, weights = self._hog.detectMultiScale(image, winStride=(8, 8), padding=(8, 8),
                                                    scale=self.SCALE, groupThreshold=1)
        out = []
        for (x, y, w, h), weight in zip(rects, np.ravel(weights), strict=True):
            score = 1.0 / (1.0 + math.exp(-float(weight)))   # SVM margin -> 0..1
            if score >= self.min_score:
                out.append(Detection(float(x), float(y), float(x + w), float(y + h), score))
        return out


class YoloDetector:
    """ultralytics YOLO, person class only, one batched call for all images."""
    name = "yolo"
    batches = True

    def __init__(self, options: DetectorOptions) -> None:
        self.options = options
        self.random_weights = options.weights.endswith((".yaml", ".yml"))
        path = Path(options.weights)
        if not self.random_weights and not path.exists():
            raise WeightsMissing(missing_weights_message(path))
        from ultralytics import YOLO  # torch is imported here, and only here

        self._model: Any = YOLO(options.weights if self.random_weights else str(path),
                                task="detect")
        if self.random_weights:
            log.warning("YOLO built from %s: random weights, true speed, meaningless boxes",
                        options.weights)
        self.device = options.device or _default_device()
        # a .yaml model has no class names (only numbers): COCO's layout, person first
        self.person = PERSON if self.random_weights else person_class(self._model.names)
        self._prepare_predictor()

    def _prepare_predictor(self) -> None:
        """Set up ultralytics' predictor ourselves, marked as warmed up: its warm-up imports
        torchvision only to make NMS use torchvision's kernel, and PyPI's torchvision build
        cannot load beside the CPU torch we pin (its ops are missing). Without it
        ultralytics runs its own NMS (utils/nms.py), same boxes. Pinned: ultralytics 8.4.190."""
        model = self._model
        predictor = model._smart_load("predictor")(overrides={
            **model.overrides, "conf": self.options.min_score, "imgsz": self.options.imgsz,
            "device": self.device, "verbose": False, "save": False, "mode": "predict"})
        predictor.setup_model(model=model.model, verbose=False)
        predictor.done_warmup = True
        model.predictor = predictor

    def detect(self, images: list[np.ndarray]) -> list[list[Detection]]:
        if not images:
            return []
        extra = {"half": True} if self.options.half and self.device != "cpu" else {}
        results = self._model.predict(images, classes=[self.person], conf=self.options.min_score,
                                      imgsz=self.options.imgsz, device=self.device,
                                      verbose=False, **extra)
        out = []
        for result in results:
            boxes = result.boxes
            xyxy = boxes.xyxy.cpu().numpy() if boxes is not None else np.zeros((0, 4))
            conf = boxes.conf.cpu().numpy() if boxes is not None else np.zeros(0)
            out.append([Detection(float(b[0]), float(b[1]), float(b[2]), float(b[3]), float(s))
                        for b, s in zip(xyxy, conf, strict=True)])
        return out


def person_class(names: dict[int, str] | list[str]) -> int:
    """The class id of "person" in the weights' own class list: 0 in COCO and in our
    one-class simulator model, but weights trained elsewhere may order them otherwise."""
    table = dict(enumerate(names)) if isinstance(names, list) else dict(names)
    for class_id, name in table.items():
        if str(name).strip().lower() == "person":
            return int(class_id)
    raise ValueError(f"these YOLO weights have no 'person' class (classes: "
                     f"{', '.join(map(str, list(table.values())[:10]))}...)")


def missing_weights_message(path: Path) -> str:
    where = path.resolve()
    return (f"YOLO weights not found: {where}. Nothing is downloaded at run time: fetch the "
            f"weights (e.g. yolo11n.pt) once on a machine with Internet access and copy the "
            f"file to {where}, or set [analytics] weights to where it is, or use "
            f"[analytics] detector = \"hog\" (no weights, less accurate). / Không tìm thấy tệp "
            f"trọng số YOLO: hãy chép tệp vào {where}.")


def build_detector(options: DetectorOptions) -> Detector:
    if options.kind == "yolo":
        return YoloDetector(options)
    return HogDetector(options.min_score)


def _default_device() -> str:
    import torch
    return "cuda:0" if torch.cuda.is_available() else "cpu"
