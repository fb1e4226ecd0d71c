"""One tracker per camera (ultralytics' ByteTrack), so a person standing still
in a queue is one track, counted once, with a dwell time.

Detections of any detector come in as :class:`Detection`; ByteTrack wants a
"Results-like" object (``conf``, ``cls``, ``xywh`` arrays with boolean
indexing), which :class:`_Detections` provides without building ultralytics
Results (no torch tensors on this path).
"""
from __future__ import annotations

from argparse import Namespace
from dataclasses import dataclass
from typing import Any

import numpy as np

from iocwall.analytics.detectors import Detection

# Tuned for a few frames a second: a lost track survives ~5 s of missed detections
# (someone briefly hidden in a queue keeps their place and their dwell time).
TRACKER_ARGS = dict(track_high_thresh=0.3, track_low_thresh=0.1, new_track_thresh=0.3,
                    track_buffer=10, match_thresh=0.8, fuse_score=True)


@dataclass(frozen=True)
class Track:
    id: int
    box: tuple[float, float, float, float]
    score: float


class _Detections:
    def __init__(self, xywh: np.ndarray, conf: np.ndarray) -> None:
        self.xywh, self.conf = xywh, conf
        self.cls = np.zeros(len(conf), np.float32)

    def __len__(self) -> int:
        return len(self.conf)

    def __getitem__(self, index: Any) -> _Detections:
        return _Detections(self.xywh[index], self.conf[index])


class CameraTracker:
    """Tracks people across the frames of one camera (frames in capture order)."""

    def __init__(self) -> None:
        from ultralytics.trackers.byte_tracker import BYTETracker
        self._tracker = BYTETracker(Namespace(**TRACKER_ARGS))

    def update(self, detections: list[Detection]) -> list[Track]:
        if detections:
            boxes = np.array([d.box for d in detections], np.float32)
            xywh = np.column_stack([(boxes[:, 0] + boxes[:, 2]) / 2,
                                    (boxes[:, 1] + boxes[:, 3]) / 2,
                                    boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]])
            conf = np.array([d.score for d in detections], np.float32)
        else:
            xywh, conf = np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
        rows = self._tracker.update(_Detections(xywh, conf))
        return [Track(int(r[4]), (float(r[0]), float(r[1]), float(r[2]), float(r[3])), float(r[5]))
                for r in rows]
