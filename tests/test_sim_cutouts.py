"""The simulator's people: real GrabCut cut-outs (not ovals), cached once, pasted with
their feet exactly on the position the ground truth counts."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from iocwall.hardware.sim import people
from iocwall.hardware.sim.scene import CANVAS_H, CANVAS_W, Scene

# Scene.truth of seeds 0-3 at t = 0, 0.25, ... 11.75 s (the four counters' counts per
# sample), recorded from the simulator before people were cut out: the new look must
# not move anybody.
TRUTH_BEFORE = [
    ("122112211311131213121312131232123212321122211221123212331233223322332232223222322233"
     "223322332133314331433143214311421132113311332133223222322232313131313122312321231123"
     "112211221122112211221122"),
    ("111312131213121202120212021202220222022202130212021202120211021102110211021102110212"
     "021211122111211121111111111111111121112111221112111421142114201330133013301310131023"
     "102310231123112211221112"),
    ("231213121311131013101310131012102210221022201220222022212222222221223121213121311131"
     "113211321132113211321232123212322232223222321232123212221222122212220221022102210221"
     "022103210321022113212311"),
    ("113101320131113211421133123312341234133313331333133313331323122422242224222312231223"
     "122312141214121322132212221212122112211221122122112211221113111211121112111111111121"
     "112111211221013111311131"),
]


@pytest.fixture(scope="module")
def photos():
    folder = people.assets_dir()
    if folder is None:
        pytest.skip("the ultralytics sample photos are not installed")
    return folder


def _where(photo: np.ndarray, cut: np.ndarray) -> tuple[int, int]:
    """Top-left of the cut-out in the photo (its pixels are the photo's, unchanged)."""
    scores = cv2.matchTemplate(photo, cut, cv2.TM_SQDIFF)
    _, _, (x, y), _ = cv2.minMaxLoc(scores)
    assert scores[y, x] < 1.0
    return x, y


def test_cutouts_follow_the_person_not_an_ellipse(photos, tmp_path):
    man = people.load_cutouts(photos, tmp_path)[0]  # the man in the beige coat
    photo = cv2.imread(str(photos / "bus.jpg"))
    ox, oy = _where(photo, man.image)

    def alpha_at(x: int, y: int) -> float:  # photo coordinates
        return float(man.alpha[y - oy, x - ox])

    assert alpha_at(130, 560) > 0.99 and alpha_at(85, 780) > 0.99    # coat, left leg
    assert alpha_at(225, 450) < 0.01   # the bus beside his head, inside the box
    assert alpha_at(135, 800) < 0.01   # the bollard between his legs: an ellipse keeps it
    assert alpha_at(60, 430) < 0.01    # top-left corner region of the box
    soft = np.count_nonzero((man.alpha > 0.05) & (man.alpha < 0.95))
    assert 0 < soft < 0.15 * man.alpha.size   # a feathered edge, a few pixels wide
    # Trimmed so the bottom row is the soles: the simulator puts it on the floor.
    assert man.alpha[-1].max() > 0.5 and man.alpha.shape[0] > 450


def test_cutouts_are_computed_once_then_read_from_the_cache(photos, tmp_path, monkeypatch):
    first = people.load_cutouts(photos, tmp_path)
    assert len(list(tmp_path.glob("people-v*.npz"))) == 1

    def no_grabcut(*_args: object) -> None:
        raise AssertionError("GrabCut ran again although the cut-outs were cached")

    monkeypatch.setattr(people, "cut_out", no_grabcut)
    cached = people.load_cutouts(photos, tmp_path)
    assert len(cached) == len(first) == len(people.CUTS)
    for a, b in zip(first, cached, strict=True):
        assert np.array_equal(a.image, b.image) and np.array_equal(a.alpha, b.alpha)
    monkeypatch.undo()
    fresh = people.load_cutouts(photos, None)  # no cache: GrabCut again, same result
    assert all(np.array_equal(a.alpha, b.alpha) for a, b in zip(first, fresh, strict=True))


def test_truth_is_what_it_was_before_the_new_look():
    for seed, expected in enumerate(TRUTH_BEFORE):
        scene = Scene(seed, 12.0)
        got = "".join("".join(str(c["count"]) for c in scene.truth(t / 4)) for t in range(48))
        assert got == expected, f"scene {seed}"


def test_feet_land_on_the_counted_position(photos, monkeypatch):
    monkeypatch.setattr(people, "SHADOW_DARKNESS", 0.0)  # only the person changes pixels
    scene = Scene(1, 12.0)
    background = scene._draw_background()
    checked = 0
    for t in np.arange(0.0, 12.0, 0.5):
        spots = scene.positions(t)
        frame = scene.render(t)
        for _, x, y in spots:
            alone = all(abs(x - ox) > 260 for _, ox, oy in spots if (ox, oy) != (x, y))
            if not alone or not 0 < x < CANVAS_W or not y < CANVAS_H - 2:
                continue
            cols = slice(int(x) - 60, int(x) + 60)
            changed = np.nonzero(np.abs(frame[:, cols].astype(int)
                                        - background[:, cols]).max(axis=(1, 2)) > 12)[0]
            assert round(y) - 3 <= changed.max() <= round(y) - 1, (t, x, y)
            checked += 1
    assert checked >= 5
