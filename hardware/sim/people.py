"""Real person photos, cut out of the sample images that the ultralytics wheel ships.

We only read the JPEG files: the package is located with ``find_spec``, which
does not import it (importing ultralytics pulls in torch). ultralytics comes with
the ``analytics`` extra (``pip install 'iocwall[analytics]'``; ``make`` installs
it). Without it the simulator still runs, with plain drawn figures, and says so
once: those figures are not people to a detector, so analytics figures measured
on such a scene mean nothing.
Crop boxes were picked by looking at the two images; each crop gets a soft
elliptical alpha mask so the pasted rectangle edges do not dominate the scene.
"""
from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

# (file, x0, y0, x1, y1, full_body) in the original image's pixels.
CROPS: tuple[tuple[str, int, int, int, int, bool], ...] = (
    ("bus.jpg", 40, 395, 250, 905, True),     # man in the beige coat
    ("bus.jpg", 215, 395, 350, 865, True),    # man in black
    ("zidane.jpg", 170, 200, 760, 720, False),  # upper body, left
    ("zidane.jpg", 740, 40, 1150, 720, False),  # upper body, right
)


@dataclass(frozen=True)
class Person:
    """A cut-out: BGR pixels and an alpha mask (0..1) of the same size."""
    image: np.ndarray
    alpha: np.ndarray
    full_body: bool


MISSING_PHOTOS = ("the simulator's people are photos from the ultralytics package, which is "
                  "not installed: drawing plain placeholder figures instead (person detectors "
                  "will not see them). Install the analytics extra: "
                  "pip install 'iocwall[analytics]'")


def assets_dir() -> Path | None:
    """ultralytics' sample-image folder, found without importing the package."""
    spec = importlib.util.find_spec("ultralytics")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "assets"
    return path if path.is_dir() else None


def _mask(height: int, width: int) -> np.ndarray:
    mask = np.zeros((height, width), np.float32)
    cv2.ellipse(mask, (width // 2, height // 2), (int(width * 0.46), int(height * 0.49)),
                0, 0, 360, 1.0, -1)
    return cv2.GaussianBlur(mask, (0, 0), max(2.0, width / 30))


def _fallback() -> list[Person]:
    # Without the photos we still need something person-shaped so the scene runs;
    # the log line says detectors will not see these.
    image = np.full((400, 160, 3), 90, np.uint8)
    cv2.circle(image, (80, 50), 40, (150, 170, 200), -1)
    cv2.rectangle(image, (30, 95), (130, 300), (60, 60, 140), -1)
    cv2.rectangle(image, (40, 300), (120, 400), (50, 40, 40), -1)
    return [Person(image, _mask(400, 160), True)]


def load_people() -> list[Person]:
    folder = assets_dir()
    if folder is None:
        log.warning(MISSING_PHOTOS)
        return _fallback()
    people = []
    for name, x0, y0, x1, y1, full in CROPS:
        source = cv2.imread(str(folder / name))
        if source is None:
            continue
        crop = np.ascontiguousarray(source[y0:y1, x0:x1])
        mask = _mask(*crop.shape[:2])
        people.append(Person(crop, mask, full))
        if full:  # a mirrored copy: more distinct-looking people from the same photos
            people.append(Person(np.ascontiguousarray(crop[:, ::-1]), mask[:, ::-1].copy(), full))
    return people or _fallback()


class PersonSprites:
    """Scaled copies of each person, cached by height (scenes reuse a few sizes)."""

    def __init__(self, people: list[Person]) -> None:
        self.people = people
        self._cache: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def full_body(self, index: int) -> bool:
        return self.people[index % len(self.people)].full_body

    def get(self, index: int, height: int) -> tuple[np.ndarray, np.ndarray]:
        index %= len(self.people)
        height = max(8, height - height % 4)
        key = (index, height)
        if key not in self._cache:
            person = self.people[index]
            h, w = person.image.shape[:2]
            width = max(4, round(w * height / h))
            image = cv2.resize(person.image, (width, height), interpolation=cv2.INTER_AREA)
            alpha = cv2.resize(person.alpha, (width, height), interpolation=cv2.INTER_AREA)
            self._cache[key] = (image, alpha[:, :, None])
        return self._cache[key]


def paste(canvas: np.ndarray, image: np.ndarray, alpha: np.ndarray, x: int, y: int) -> None:
    """Alpha-blend ``image`` with its top-left at (x, y), clipped to the canvas."""
    h, w = image.shape[:2]
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(canvas.shape[1], x + w), min(canvas.shape[0], y + h)
    if x0 >= x1 or y0 >= y1:
        return
    src = image[y0 - y:y1 - y, x0 - x:x1 - x].astype(np.float32)
    a = alpha[y0 - y:y1 - y, x0 - x:x1 - x]
    region = canvas[y0:y1, x0:x1].astype(np.float32)
    canvas[y0:y1, x0:x1] = (src * a + region * (1.0 - a)).astype(np.uint8)
