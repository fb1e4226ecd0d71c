"""A synthetic service-centre hall: counters along the back wall, people who
arrive, queue in front of a counter, get served and leave.

The scene is a pure function of time (seeded per scene), so the simulator can
render any frame and say exactly how many people stand in each counter's queue
zone at that instant (the ground truth). Coordinates are in a 1920x1080 canvas
("main-stream pixels"); other resolutions are a resize of it.
"""
from __future__ import annotations

import math
import random
import threading
from dataclasses import dataclass

import cv2
import numpy as np

from iocwall.hardware import stamp

from .people import PersonSprites, darken, load_people, paste

CANVAS_W, CANVAS_H = 1920, 1080
COUNTERS = 4
BAND_GRAY = 128          # the stamp rows (y 0-31) are a flat gray band, see stamp_patch
FLOOR_Y = 470            # where the back wall meets the floor
SERVE_Y = 560            # feet of the person being served
SLOT_DY = 125            # distance between people in a queue
WALK_S = 2.5             # seconds to walk in from the entrance or out to the exit
SHIFT_S = 0.8            # seconds to step forward when the queue moves
WARM_UP_LOOPS = 4        # loops simulated before the kept ones, so queues repeat exactly
SHADOW_W, SHADOW_H = 0.32, 0.05  # contact shadow under the feet, as fractions of the height


@dataclass(frozen=True)
class Counter:
    id: str
    label: str
    center_x: int
    zone: tuple[int, int, int, int]   # x, y, w, h of the queue zone (canvas pixels)


@dataclass(frozen=True)
class _Art:
    """What drawing needs, built once: published whole, so no thread sees half of it."""
    background: np.ndarray
    sprites: PersonSprites


@dataclass
class Customer:
    counter: int
    sprite: int
    arrive: float        # reaches the queue
    start: float         # service starts
    end: float           # service ends, walks out
    side: int            # x offset while queueing, so people do not hide each other


def counters() -> list[Counter]:
    out = []
    span = CANVAS_W // COUNTERS
    for i in range(COUNTERS):
        cx = span * i + span // 2
        out.append(Counter(f"c{i + 1}", f"Quay {i + 1}", cx, (cx - 200, FLOOR_Y + 20, 400, 590)))
    return out


def _schedule(seed: int, loop_s: float) -> list[Customer]:
    """Customers of a periodic day: the same arrivals every loop, so the loop has no seam.

    Service time per loop stays under 90% of its length, so each counter's queue empties
    once a loop and the FIFO timings repeat exactly after a few warm-up loops; we keep the
    loops that can be on screen during [0, loop_s).
    """
    rng = random.Random(seed)
    people = []
    for c in range(COUNTERS):
        n = rng.randint(2, 4)
        arrivals = sorted(rng.uniform(0, loop_s) for _ in range(n))
        services = [rng.uniform(2.5, 5.0) for _ in range(n)]
        scale = min(1.0, 0.9 * loop_s / sum(services))
        looks = [(rng.randrange(1000), rng.choice((-80, -40, 40, 80))) for _ in range(n)]
        busy_until = -math.inf
        for period in range(-WARM_UP_LOOPS - 2, 2):
            for arrive, service, (sprite, side) in zip(arrivals, services, looks, strict=True):
                arrive += period * loop_s
                start = max(arrive, busy_until)
                busy_until = start + service * scale
                if period >= -2:
                    people.append(Customer(c, sprite, arrive, start, busy_until, side))
    return people


def _height(feet_y: float) -> int:
    """A person's height in canvas pixels: nearer the camera (lower in the frame) is taller."""
    depth = (feet_y - FLOOR_Y) / (CANVAS_H - FLOOR_Y)
    return int(300 + 260 * depth)


class Scene:
    """Deterministic hall scene number ``seed``; ``loop_s`` is the loop length."""

    def __init__(self, seed: int, loop_s: float) -> None:
        self.seed = seed
        self.loop_s = loop_s
        self.counters = counters()
        self.customers = _schedule(seed, loop_s)
        # Main and sub streams of one scene are encoded cold in two threads at once: the
        # art is built into locals and published as one object under a lock, so no thread
        # can see a background without its sprites (the fresh-clone race of issue 8).
        self._art: _Art | None = None
        self._art_lock = threading.Lock()

    # --- geometry -------------------------------------------------------
    def _slot(self, person: Customer, t: float) -> float:
        """Queue position (0 = at the counter), easing forward as others leave."""
        ahead = 0.0
        for other in self.customers:
            if other.counter != person.counter or other.start >= person.start or other is person:
                continue
            if t < other.end:
                ahead += 1.0
            elif t < other.end + SHIFT_S:
                ahead += 1.0 - (t - other.end) / SHIFT_S
        return ahead

    def _feet(self, person: Customer, t: float) -> tuple[float, float] | None:
        counter = self.counters[person.counter]
        if t < person.arrive - WALK_S or t > person.end + WALK_S:
            return None
        if t < person.arrive:  # walking in from the bottom edge
            slot = self._slot(person, person.arrive)
            tx, ty = counter.center_x + person.side, SERVE_Y + slot * SLOT_DY
            k = (person.arrive - t) / WALK_S
            return tx + k * 300 * (1 if person.counter % 2 else -1), ty + k * (CANVAS_H + 350 - ty)
        if t <= person.end:
            slot = self._slot(person, t)
            side = person.side if slot >= 0.5 else 0
            return counter.center_x + side, SERVE_Y + slot * SLOT_DY
        k = (t - person.end) / WALK_S  # leaving sideways towards the exit
        direction = -1 if person.counter < 2 else 1  # out by the nearer side of the hall
        return counter.center_x + k * 1200 * direction, SERVE_Y + k * 40

    def positions(self, t: float) -> list[tuple[Customer, float, float]]:
        t = t % self.loop_s
        out = []
        for person in self.customers:
            feet = self._feet(person, t)
            if feet is not None:
                out.append((person, feet[0], feet[1]))
        return out

    def truth(self, t: float, scale_x: float = 1.0, scale_y: float = 1.0) -> list[dict]:
        """Per counter: id, zone (scaled), number of people whose feet are in the zone."""
        feet = [(x, y) for _, x, y in self.positions(t)]
        out = []
        for c in self.counters:
            x, y, w, h = c.zone
            count = sum(1 for fx, fy in feet if x <= fx < x + w and y <= fy < y + h)
            zone = [round(x * scale_x), round(y * scale_y), round(w * scale_x), round(h * scale_y)]
            out.append({"id": c.id, "zone": zone, "count": count})
        return out

    # --- drawing --------------------------------------------------------
    def _draw_background(self) -> np.ndarray:
        rng = np.random.default_rng(self.seed)
        img = np.zeros((CANVAS_H, CANVAS_W, 3), np.uint8)
        wall = (200 - 10 * (self.seed % 3), 214, 222 - 12 * (self.seed % 4))
        img[:FLOOR_Y] = wall
        for y in range(FLOOR_Y, CANVAS_H):  # floor tiles, darker towards the camera
            d = y - FLOOR_Y
            img[y] = (150 - d // 12, 160 - d // 14, 165 - d // 16)
        for x in range(0, CANVAS_W, 160):
            far_x = CANVAS_W // 2 + (x - CANVAS_W // 2) // 3
            cv2.line(img, (x, CANVAS_H), (far_x, FLOOR_Y), (120, 128, 135), 2)
        cv2.putText(img, "TRUNG TAM PHUC VU HANH CHINH CONG", (360, 120),
                    cv2.FONT_HERSHEY_DUPLEX, 1.6, (40, 40, 150), 3, cv2.LINE_AA)
        for c in self.counters:
            cx = c.center_x
            cv2.rectangle(img, (cx - 190, 190), (cx + 190, 300), (235, 235, 235), -1)   # window
            cv2.rectangle(img, (cx - 200, 330), (cx + 200, FLOOR_Y + 30), (60, 90, 140), -1)  # desk
            cv2.rectangle(img, (cx - 200, 320), (cx + 200, 340), (40, 60, 100), -1)
            cv2.rectangle(img, (cx - 110, 150), (cx + 110, 190), (30, 110, 30), -1)
            cv2.putText(img, c.label, (cx - 80, 182), cv2.FONT_HERSHEY_SIMPLEX, 1.1,
                        (255, 255, 255), 2, cv2.LINE_AA)
            cv2.putText(img, f"{int(rng.integers(100, 999))}", (cx - 40, 270),
                        cv2.FONT_HERSHEY_SIMPLEX, 1.4, (0, 0, 200), 3, cv2.LINE_AA)
        return img

    def art(self) -> _Art:
        """The background and sprites, built on first use (once, whatever the threads)."""
        art = self._art
        if art is not None:
            return art
        with self._art_lock:
            if self._art is None:
                background = self._draw_background()
                background.setflags(write=False)    # shared by every thread: never drawn on
                self._art = _Art(background, PersonSprites(load_people()))
            return self._art

    def _placements(self, t: float) -> list[_Placed]:
        """Where each visible person's sprite lands at time ``t`` (canvas pixels), far ones
        first: render draws exactly these, and people_boxes reports exactly these."""
        art = self.art()
        out = []
        for person, x, y in sorted(self.positions(t), key=lambda p: p[2]):
            tall = _height(y)
            full = art.sprites.full_body(person.sprite)
            # Upper-body photos stand in for people half hidden behind the queue.
            size = tall if full else int(tall * 0.5)
            sprite, alpha = art.sprites.get(person.sprite, size)
            bottom = y if full else y - tall * 0.4
            # The cut-out's bottom row is the soles: they land on the customer's position.
            out.append(_Placed(x, y, tall, sprite, alpha, int(x - sprite.shape[1] / 2),
                               round(bottom) - sprite.shape[0]))
        return out

    def render(self, t: float, width: int = CANVAS_W, height: int = CANVAS_H) -> np.ndarray:
        """BGR frame at scene time ``t`` and the given size; rows 0-31 are the gray stamp band."""
        art = self.art()
        img = art.background.copy()
        placed = self._placements(t)
        for p in placed:  # shadows on the floor first: nobody's shadow falls on a body
            shade = art.sprites.shadow(int(p.tall * SHADOW_W), int(p.tall * SHADOW_H))
            darken(img, shade, int(p.x), int(p.y))
        for p in placed:
            paste(img, p.sprite, p.alpha, p.left, p.top)
        if (width, height) != (CANVAS_W, CANVAS_H):
            img = cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA)
        img[:stamp.HEIGHT] = BAND_GRAY
        return img

    def people_boxes(self, t: float, width: int = CANVAS_W,
                     height: int = CANVAS_H) -> list[PersonBox]:
        """Every person drawn at time ``t``, in a ``width`` x ``height`` frame: the box of
        their whole silhouette (alpha > 0.5) clipped to the frame, even where someone nearer
        hides part of it (so the box's bottom stays at the feet, which is what the zones
        count), the share of the silhouette that is actually seen, and the feet.
        Exact by construction: the same placements render draws (training labels, tests)."""
        placed = self._placements(t)
        owner = np.full((CANVAS_H, CANVAS_W), -1, np.int32)   # who is on top at each pixel
        masks: list[tuple[int, int, np.ndarray, int] | None] = []
        for i, p in enumerate(placed):
            mask = p.alpha[:, :, 0] > 0.5
            x0, y0 = max(0, p.left), max(0, p.top)
            x1 = min(CANVAS_W, p.left + mask.shape[1])
            y1 = min(CANVAS_H, p.top + mask.shape[0])
            if x0 >= x1 or y0 >= y1:
                masks.append(None)
                continue
            clipped = mask[y0 - p.top:y1 - p.top, x0 - p.left:x1 - p.left]
            owner[y0:y1, x0:x1][clipped] = i
            masks.append((x0, y0, clipped, int(mask.sum())))
        owner[:round(stamp.HEIGHT * CANVAS_H / height)] = -1
        sx, sy = width / CANVAS_W, height / CANVAS_H
        out = []
        for i, (p, m) in enumerate(zip(placed, masks, strict=True)):
            if m is None:
                continue
            x0, y0, clipped, total = m
            region = owner[y0:y0 + clipped.shape[0], x0:x0 + clipped.shape[1]]
            seen = int(np.count_nonzero(region == i))    # on top, on screen, below the band
            if seen == 0:
                continue
            ys, xs = np.nonzero(clipped)
            out.append(PersonBox(float((x0 + xs.min()) * sx), float((y0 + ys.min()) * sy),
                                 float((x0 + xs.max() + 1) * sx), float((y0 + ys.max() + 1) * sy),
                                 seen / max(1, total), p.y < CANVAS_H, p.x * sx, p.y * sy))
        return out


@dataclass(frozen=True)
class _Placed:
    x: float                # feet, canvas pixels
    y: float
    tall: int
    sprite: np.ndarray
    alpha: np.ndarray       # (h, w, 1)
    left: int               # sprite's top-left corner on the canvas
    top: int


@dataclass(frozen=True)
class PersonBox:
    """A drawn person in frame pixels: the box of their visible silhouette."""
    x1: float
    y1: float
    x2: float
    y2: float
    visible: float          # share of their silhouette not hidden by someone nearer
    feet_in_frame: bool
    feet_x: float
    feet_y: float
