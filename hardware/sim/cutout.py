"""Cut a person out of a photo: GrabCut from a box and a few hints, then a soft edge.

The result is the person's pixels and an alpha matte (0..1), trimmed to the person
so the bottom row of the cut-out is where the feet are (the simulator pastes the
feet at the customer's position, which the ground truth counts). GrabCut's colour
models start from OpenCV's global RNG, so we seed it: the same photo gives the same
cut-out on every machine and run.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

Box = tuple[int, int, int, int]   # x0, y0, x1, y1 in the photo's pixels

GRABCUT_ITERATIONS = 6
MARGIN = 24          # photo pixels kept around the box so GrabCut sees the background
FEATHER_SIGMA = 1.6  # photo pixels: a soft edge of a few pixels, like a lens would give


@dataclass(frozen=True)
class CutSpec:
    """Where a person is in a photo: a loose box, and parts that are surely them or not."""
    box: Box
    person: tuple[Box, ...] = ()      # surely the person (torso, legs)
    not_person: tuple[Box, ...] = ()  # surely background (a neighbour's arm, a pole)


def _init_mask(shape: tuple[int, int], spec: CutSpec, origin: tuple[int, int]) -> np.ndarray:
    ox, oy = origin
    mask = np.full(shape, cv2.GC_BGD, np.uint8)
    x0, y0, x1, y1 = spec.box
    mask[y0 - oy:y1 - oy, x0 - ox:x1 - ox] = cv2.GC_PR_FGD
    for x0, y0, x1, y1 in spec.not_person:
        mask[max(0, y0 - oy):y1 - oy, max(0, x0 - ox):x1 - ox] = cv2.GC_BGD
    for x0, y0, x1, y1 in spec.person:
        mask[y0 - oy:y1 - oy, x0 - ox:x1 - ox] = cv2.GC_FGD
    return mask


def _largest_blob(mask: np.ndarray) -> np.ndarray:
    """Keep the biggest connected region and fill its holes (GrabCut leaves specks)."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return mask
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    blob = (labels == biggest).astype(np.uint8)
    contours, _ = cv2.findContours(blob, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    filled = np.zeros_like(blob)
    cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
    # Only small holes are filled back: a gap between the legs must stay a gap.
    holes = filled & (1 - blob)
    n, hl, hs, _ = cv2.connectedComponentsWithStats(holes, connectivity=4)
    for i in range(1, n):
        if hs[i, cv2.CC_STAT_AREA] < 0.002 * blob.size:
            blob[hl == i] = 1
    return blob


def cut_out(photo: np.ndarray, spec: CutSpec) -> tuple[np.ndarray, np.ndarray]:
    """(BGR pixels, float32 alpha 0..1) of the person, trimmed to the matte's extent."""
    h, w = photo.shape[:2]
    x0, y0, x1, y1 = spec.box
    ox, oy = max(0, x0 - MARGIN), max(0, y0 - MARGIN)
    ex, ey = min(w, x1 + MARGIN), min(h, y1 + MARGIN)
    region = np.ascontiguousarray(photo[oy:ey, ox:ex])
    mask = _init_mask(region.shape[:2], spec, (ox, oy))
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(12345)  # GrabCut's k-means start: fixed, so the cut is reproducible
    cv2.grabCut(region, mask, (0, 0, 0, 0), bgd, fgd, GRABCUT_ITERATIONS, cv2.GC_INIT_WITH_MASK)
    hard: np.ndarray = np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)
    # Smooth the jagged GrabCut border, then keep the person as one region.
    hard = cv2.morphologyEx(hard, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    hard = cv2.morphologyEx(hard, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    hard = _largest_blob(hard)
    # Feather inwards: erode a pixel so the blur does not drag the old background out.
    soft = cv2.erode(hard, np.ones((3, 3), np.uint8)).astype(np.float32)
    alpha = cv2.GaussianBlur(soft, (0, 0), FEATHER_SIGMA)
    ys, xs = np.nonzero(alpha > 0.02)
    if len(ys) == 0:
        raise ValueError(f"GrabCut found nobody in box {spec.box}")
    # The bottom row is the soles (not the faint feather below them): the feet anchor.
    top, bottom, left, right = ys.min(), feet_row(alpha) + 1, xs.min(), xs.max() + 1
    return (np.ascontiguousarray(region[top:bottom, left:right]),
            np.ascontiguousarray(alpha[top:bottom, left:right]))


def feet_row(alpha: np.ndarray) -> int:
    """Lowest row that is mostly person: where the soles touch the floor."""
    rows = np.nonzero(alpha.max(axis=1) > 0.5)[0]
    return int(rows.max()) if len(rows) else alpha.shape[0] - 1
