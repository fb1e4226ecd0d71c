"""A fresh clone: empty loop cache, main and sub of one scene encoded cold in parallel.

Issue 8: one thread set the scene's background, another saw it and rendered before the
sprites were loaded (AssertionError in ``Scene.render``). Warm caches hid it.
"""
from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from iocwall.hardware.sim.encoder import Loop, StreamSpec, load_or_encode
from iocwall.hardware.sim.scene import Scene

THREADS = 4
STAGGER_S = 0.012   # threads start a little apart: the half-built window was ~50 ms wide
TINY = StreamSpec(160, 96, 5, 5, 10)          # cheap: the race is in the first render


def _in_threads(work: Callable[[int], Any], count: int = THREADS) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads started STAGGER_S apart; results, or the first error.

    Main and sub do not start at the same instant: a thread that arrives while another
    is half-way through building the scene is what met the race.
    """
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(10)
            time.sleep(i * STAGGER_S)
            results[i] = work(i)
        except BaseException as exc:  # noqa: BLE001 - reported to the test below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "an encoder thread hung"
    if errors:
        raise errors[0]
    return results


def test_scene_art_is_built_once_and_whole_from_many_threads():
    for seed in range(3):                      # several cold scenes: the race was a window
        scene = Scene(seed, 12.0)
        frames = _in_threads(lambda i, scene=scene: scene.render(0.0, 160, 96), 10)
        assert all((f == frames[0]).all() for f in frames)
        arts = _in_threads(lambda i, scene=scene: scene.art(), 4)
        assert all(a is arts[0] for a in arts)  # one object, published whole
        assert arts[0].sprites.people and arts[0].background.shape == (1080, 1920, 3)
        assert not arts[0].background.flags.writeable  # shared: nobody may draw on it


def _encode(scene: Scene, specs: list[StreamSpec], cache: Path, lines: list[str], i: int) -> Loop:
    return load_or_encode(scene, specs[i], cache, f"t{i}", lines.append)


def test_cold_cache_encode_from_several_threads(tmp_path: Path):
    lines: list[str] = []
    for round_ in range(2):
        scene = Scene(round_, 12.0)            # a fresh scene: nothing drawn yet
        cache = tmp_path / f"cache{round_}"    # an empty cache dir, as on a fresh clone
        specs = [TINY, StreamSpec(96, 64, 5, 5, 10)] * (THREADS // 2)
        loops: list[Loop] = _in_threads(functools.partial(_encode, scene, specs, cache, lines))
        for spec, loop in zip(specs, loops, strict=True):
            assert loop.spec == spec and len(loop.frames) == spec.frames and loop.keyframes[0]
        assert len(list(cache.glob("*.loop"))) == 2      # both sizes written, atomically
        assert not list(cache.glob("*.tmp"))
        again = load_or_encode(scene, TINY, cache)       # warm: read back, not re-encoded
        assert again.frames == next(lp for lp in loops if lp.spec == TINY).frames
    # a readable progress line per encoding thread, from 0 to 100 %
    for i in range(THREADS):
        mine = [line for line in lines if line.startswith(f"encoding t{i} ")]
        assert mine[0].endswith(": 0 %") and mine[-1].endswith(": 100 %"), mine


async def test_simulator_labels_its_progress_lines(tmp_path: Path):
    """The simulator says which cameras and stream it is encoding (the demo prints it)."""
    from iocwall.hardware.sim.server import SimOptions, Simulator

    lines: list[str] = []
    sim = Simulator(SimOptions(cameras=5, cache_dir=tmp_path, progress=lines.append))
    loop = await sim._loop(sim._scenes[0], TINY)
    assert len(loop.frames) == TINY.frames
    assert lines[-1] == "encoding cam1, cam5 main (resolution fault) (160x96) once " \
                        "(cached for the next start): 100 %"


def test_a_cancelled_encode_stops_at_once_and_caches_nothing(tmp_path: Path):
    """Ctrl+C during a first start: the encoder thread ends now, not after the whole loop."""
    import pytest

    from iocwall.hardware.sim.encoder import EncodeCancelled

    cancel = threading.Event()
    lines: list[str] = []

    def progress(line: str) -> None:
        lines.append(line)
        if line.endswith(": 20 %"):
            cancel.set()

    with pytest.raises(EncodeCancelled):
        load_or_encode(Scene(1, 12.0), StreamSpec(96, 64, 5, 5, 40), tmp_path, "t",
                       progress, cancel)
    assert lines[-1].endswith(": 20 %") and not list(tmp_path.iterdir())
