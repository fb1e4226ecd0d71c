"""Real people, cut out of the sample photos that the ultralytics wheel ships.

We only read the JPEG files: the package is located with ``find_spec``, which
does not import it (importing ultralytics pulls in torch). ultralytics comes with
the ``analytics`` extra (``pip install 'iocwall[analytics]'``; ``make`` installs
it). Without it the simulator still runs, with plain drawn figures, and says so
once: those figures are not people to a detector, so analytics figures measured
on such a scene mean nothing.
Each person is cut out with GrabCut (``cutout.py``) once and the result is cached on
disk next to the simulator's loop cache; more distinct-looking people come from
mirroring them and recolouring their clothes. Only the two full-body people of
``bus.jpg`` are used: the others in the photos are cut by the frame (a torso
without legs cannot stand in a hall), and the ground truth needs visible feet.
"""
from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .cutout import Box, CutSpec, cut_out

log = logging.getLogger(__name__)
LOOK_VERSION = 1  # bump when the cut-outs or their variants change (invalidates loop caches)

# Boxes and hints in bus.jpg's pixels, picked by looking at the photo.
CUTS: tuple[tuple[str, CutSpec], ...] = (
    ("bus.jpg", CutSpec(  # man in the beige coat
        (50, 395, 245, 905),
        person=((95, 480, 185, 680), (68, 720, 102, 840), (150, 730, 190, 840),
                (115, 405, 150, 460), (62, 858, 98, 890), (185, 862, 228, 890)),
        not_person=((208, 420, 260, 800), (168, 395, 215, 465), (114, 705, 138, 745),
                    (112, 745, 152, 850), (108, 862, 168, 910), (20, 560, 52, 730),
                    (20, 730, 68, 820), (20, 820, 61, 845)))),
    ("bus.jpg", CutSpec(  # man in the black coat
        (215, 400, 350, 865),
        person=((260, 480, 320, 660), (255, 700, 300, 800), (270, 415, 300, 460),
                (262, 828, 290, 854)),
        not_person=((205, 395, 262, 445), (205, 445, 264, 478), (205, 770, 250, 870),
                    (302, 830, 350, 870)))),
)

# Clothes recoloured: (person, a patch of that cloth in the photo, new colour BGR).
# Shades a service-centre crowd wears.
COAT, JEANS = (100, 560, 150, 620), (262, 705, 292, 740)
RECOLOURS: tuple[tuple[int, Box, tuple[int, int, int]], ...] = (
    (0, COAT, (70, 45, 30)),      # beige coat -> navy
    (0, COAT, (60, 80, 55)),      # -> olive green
    (0, COAT, (45, 40, 110)),     # -> maroon
    (1, JEANS, (50, 50, 55)),     # blue jeans -> grey trousers
)
CLOTHES_ROWS = (0.16, 0.9)  # of a cut-out's height: below the face, above the shoes


@dataclass(frozen=True)
class Person:
    """A cut-out: BGR pixels and an alpha mask (0..1); the bottom row is the feet."""
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


def _fallback() -> list[Person]:
    # Without the photos we still need something person-shaped so the scene runs;
    # the log line says detectors will not see these.
    image = np.full((400, 160, 3), 90, np.uint8)
    alpha = np.zeros((400, 160), np.float32)
    for canvas, value in ((image, None), (alpha, 1.0)):
        cv2.circle(canvas, (80, 50), 40, value or (150, 170, 200), -1)
        cv2.rectangle(canvas, (30, 95), (130, 300), value or (60, 60, 140), -1)
        cv2.rectangle(canvas, (40, 300), (120, 399), value or (50, 40, 40), -1)
    return [Person(image, cv2.GaussianBlur(alpha, (0, 0), 1.5), True)]


# --- cut-outs, cached on disk ---------------------------------------------------
def _cache_path(folder: Path, cache_dir: Path) -> Path:
    digest = hashlib.sha1(f"{LOOK_VERSION}{CUTS}".encode())
    for name in sorted({name for name, _ in CUTS}):
        digest.update((folder / name).read_bytes())
    return cache_dir / f"people-v{LOOK_VERSION}-{digest.hexdigest()[:12]}.npz"


def _read_cache(path: Path) -> list[Person] | None:
    try:
        with np.load(path) as data:
            return [Person(data[f"image{i}"], data[f"alpha{i}"].astype(np.float32) / 255.0, True)
                    for i in range(len(CUTS))]
    except (OSError, KeyError, ValueError) as exc:
        log.warning("ignoring unreadable cut-out cache %s: %s", path.name, exc)
        return None


def _write_cache(path: Path, people: list[Person]) -> None:
    arrays: dict[str, np.ndarray] = {}
    for i, p in enumerate(people):
        arrays[f"image{i}"] = p.image
        arrays[f"alpha{i}"] = np.round(p.alpha * 255.0).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp.npz")
    np.savez_compressed(tmp, **arrays)  # type: ignore[arg-type]
    tmp.replace(path)  # atomic: another simulator never reads half a file


def load_cutouts(folder: Path, cache_dir: Path | None) -> list[Person]:
    """The photos' people, cut out once (a few seconds of GrabCut) and then read from disk.

    The alpha is stored as 8 bits, and a fresh cut is rounded the same way, so a cut
    read from the cache is identical to one just computed.
    """
    path = _cache_path(folder, cache_dir) if cache_dir is not None else None
    if path is not None and path.exists():
        cached = _read_cache(path)
        if cached is not None:
            return cached
    log.info("cutting %d people out of the sample photos (GrabCut), once", len(CUTS))
    people = []
    for name, spec in CUTS:
        photo = cv2.imread(str(folder / name))
        if photo is None:
            raise FileNotFoundError(f"cannot read sample photo {folder / name}")
        image, alpha = cut_out(photo, spec)
        people.append(Person(image, np.round(alpha * 255.0) / 255.0, True))
    if path is not None:
        _write_cache(path, people)
    return people


# --- variants -------------------------------------------------------------------
def cloth_colour(photo: np.ndarray, patch: Box) -> np.ndarray:
    """Mean Lab colour of a patch of cloth in a photo."""
    x0, y0, x1, y1 = patch
    lab = cv2.cvtColor(np.ascontiguousarray(photo[y0:y1, x0:x1]), cv2.COLOR_BGR2LAB)
    return lab.reshape(-1, 3).astype(np.float32).mean(axis=0)


def recolour(person: Person, ref: np.ndarray, colour: tuple[int, int, int]) -> Person:
    """Same person, other clothes: pixels coloured like ``ref`` (Lab) take ``colour``'s
    hue and brightness while keeping their own shading (folds, texture)."""
    lab = cv2.cvtColor(person.image, cv2.COLOR_BGR2LAB).astype(np.float32)
    target = cv2.cvtColor(np.array([[colour]], np.uint8),
                          cv2.COLOR_BGR2LAB)[0, 0].astype(np.float32)
    distance = np.linalg.norm((lab - ref)[:, :, 1:], axis=2) + 0.5 * np.abs(lab[:, :, 0] - ref[0])
    cloth = np.clip((30.0 - distance) / 12.0, 0.0, 1.0) * (person.alpha > 0.3)
    h = cloth.shape[0]
    cloth[:int(CLOTHES_ROWS[0] * h)] = 0.0  # skin and shoes can be cloth-coloured: leave them
    cloth[int(CLOTHES_ROWS[1] * h):] = 0.0
    cloth = cv2.GaussianBlur(cloth.astype(np.float32), (0, 0), 1.0)[:, :, None]
    moved = lab.copy()
    moved[:, :, 0] = lab[:, :, 0] * (target[0] + 8.0) / (ref[0] + 8.0)
    moved[:, :, 1:] = lab[:, :, 1:] - ref[1:] + target[1:]
    mixed = np.clip(lab * (1.0 - cloth) + moved * cloth, 0, 255).astype(np.uint8)
    return Person(cv2.cvtColor(mixed, cv2.COLOR_LAB2BGR), person.alpha, person.full_body)


def mirrored(person: Person) -> Person:
    return Person(np.ascontiguousarray(person.image[:, ::-1]),
                  np.ascontiguousarray(person.alpha[:, ::-1]), person.full_body)


def variants(base: list[Person], folder: Path) -> list[Person]:
    """The cut-outs, their recoloured copies, and every one of those mirrored."""
    looks = list(base)
    for i, patch, colour in RECOLOURS:
        photo = cv2.imread(str(folder / CUTS[i][0]))
        if photo is not None and i < len(base):
            looks.append(recolour(base[i], cloth_colour(photo, patch), colour))
    # Interleaved so that consecutive sprite numbers look different.
    return [p for look in looks for p in (look, mirrored(look))]


# --- the process-wide set ---------------------------------------------------------
_lock = threading.Lock()
_cache_dir: Path | None = None
_people: list[Person] | None = None


def use_cache_dir(path: Path | None) -> None:
    """Where load_people keeps its cut-outs (the simulator's loop cache folder)."""
    global _cache_dir
    _cache_dir = path


def load_people() -> list[Person]:
    """Every distinct-looking person, computed once per process (thread-safe)."""
    global _people
    with _lock:
        if _people is None:
            folder = assets_dir()
            if folder is None:
                log.warning(MISSING_PHOTOS)
                _people = _fallback()
            else:
                _people = variants(load_cutouts(folder, _cache_dir), folder)
        return _people


# --- drawing ------------------------------------------------------------------------
class PersonSprites:
    """Scaled copies of each person, cached by height (scenes reuse a few sizes)."""

    def __init__(self, people: list[Person]) -> None:
        self.people = people
        self._cache: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        self._shadows: dict[tuple[int, int], np.ndarray] = {}

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

    def shadow(self, width: int, height: int) -> np.ndarray:
        """A soft dark ellipse (0..SHADOW_DARKNESS) of about width x height, as (h, w, 1)."""
        key = (max(4, width - width % 4), max(2, height - height % 2))
        if key not in self._shadows:
            rx, ry = key[0] // 2, key[1] // 2
            pad = max(2, ry)
            patch = np.zeros((2 * (ry + pad), 2 * (rx + pad)), np.float32)
            cv2.ellipse(patch, (rx + pad, ry + pad), (rx, ry), 0, 0, 360, SHADOW_DARKNESS, -1)
            self._shadows[key] = cv2.GaussianBlur(patch, (0, 0), pad / 2)[:, :, None]
        return self._shadows[key]


SHADOW_DARKNESS = 0.45  # ceiling lights: a soft pool of shade right under each person


def darken(canvas: np.ndarray, shade: np.ndarray, cx: int, cy: int) -> None:
    """Multiply the canvas by (1 - shade) with shade's centre at (cx, cy), clipped."""
    h, w = shade.shape[:2]
    x, y = cx - w // 2, cy - h // 2
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(canvas.shape[1], x + w), min(canvas.shape[0], y + h)
    if x0 >= x1 or y0 >= y1:
        return
    s = shade[y0 - y:y1 - y, x0 - x:x1 - x]
    canvas[y0:y1, x0:x1] = (canvas[y0:y1, x0:x1] * (1.0 - s)).astype(np.uint8)


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
