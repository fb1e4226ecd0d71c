"""The simulator's people: real photos from the ultralytics wheel, read without importing
ultralytics (or torch); without the package, placeholders and one clear warning."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Everything `iocwall sim` imports (the command, the server and the modules it loads by
# name), then one scene frame rendered, which loads the people.
SCENE_PATH = """
import importlib, json, logging, sys
logging.basicConfig(level=logging.WARNING, format="%(message)s")
BLOCK
for name in ("command", "server", "onvif_device", "discovery", "encoder", "scene"):
    importlib.import_module("iocwall.hardware.sim." + name)
from iocwall.hardware.sim.people import load_people
from iocwall.hardware.sim.scene import Scene
frame = Scene(seed=1, loop_s=20.0).render(5.0, 640, 360)
print(json.dumps({"shape": list(frame.shape), "people": len(load_people()),
                  "heavy": sorted(m for m in ("ultralytics", "torch", "torchvision")
                                  if m in sys.modules)}))
"""


def _run(block: str = "") -> tuple[dict, str]:
    out = subprocess.run([sys.executable, "-c", SCENE_PATH.replace("BLOCK", block)], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1]), out.stderr


def test_sim_scene_uses_the_photos_without_importing_ultralytics_or_torch() -> None:
    result, errors = _run()
    assert result["heavy"] == [], f"the simulator imported {result['heavy']}"
    assert result["shape"] == [360, 640, 3]
    # the 2 full-body people of bus.jpg cut out, recoloured and mirrored: 12 looks from the
    # real photos, not the placeholder
    assert result["people"] == 12, errors
    assert "not installed" not in errors


def test_without_ultralytics_the_sim_says_what_is_missing_and_still_runs() -> None:
    # sys.modules[name] = None is how Python marks a module as unavailable: find_spec
    # then answers None, exactly as when the package is not installed.
    result, errors = _run('sys.modules["ultralytics"] = None')
    assert result["people"] == 1 and result["shape"] == [360, 640, 3]
    assert "ultralytics package, which is not installed" in errors
    assert "pip install 'iocwall[analytics]'" in errors
