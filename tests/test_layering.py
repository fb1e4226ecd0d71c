"""Imports between our top-level packages flow one way; a new back-edge fails here.

Read from every module with ``ast`` (imports inside functions and under TYPE_CHECKING
count too, and so do ``importlib.import_module("iocwall....")`` calls), so the rule
holds for what the code could load, not only for what one run happened to load.

The layers, lowest first (derived from the code as it is, then written down):

    layouts     the pure layout model: imports nothing of ours
    analytics   the worker (frames in, counts out): imports nothing of ours; it is
                handed plain values (wall/worker_command.py reads config.toml for it)
    streams     media: only analytics.messages (the frame and zone types that cross
                ZeroMQ and the media processes), never wall, onvif, layouts, hardware
    onvif       talking to cameras: streams (RTSP URL parsing)
    hardware    simulator, smoke test, display agent: streams, onvif
    wall        the controller and web app: may use every package below it
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("wall", "streams", "onvif", "layouts", "analytics", "hardware")

# package -> the packages it may import (a package may always import itself)
ALLOWED: dict[str, frozenset[str]] = {
    "layouts": frozenset(),
    "analytics": frozenset(),
    "streams": frozenset({"analytics"}),
    "onvif": frozenset({"streams"}),
    "hardware": frozenset({"streams", "onvif"}),
    "wall": frozenset({"streams", "onvif", "layouts", "analytics", "hardware"}),
}
# where a package may use only some modules of another: (importer, imported) -> modules
ONLY: dict[tuple[str, str], frozenset[str]] = {
    ("streams", "analytics"): frozenset({"iocwall.analytics.messages"}),
}
# Build-time tools kept beside the code they make something for, and what more they may
# import: the simulator YOLO's training renders its frames with the simulator. Nothing that
# runs may import a tool (checked below), so the worker still imports nothing of ours.
TOOLS: dict[str, frozenset[str]] = {
    "analytics/training": frozenset({"hardware"}),
}


def imported_modules(source: str, package: str = "") -> list[tuple[int, str]]:
    """(line, dotted module) of every iocwall import in ``source``; ``package`` is the
    dotted package the module is in (e.g. iocwall.hardware.sim), for relative imports."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            parts = package.split(".")
            base = ".".join(parts[:len(parts) - node.level + 1])
            if node.module:
                found.append((node.lineno, f"{base}.{node.module}"))
            else:                                   # from .. import wall
                found += [(node.lineno, f"{base}.{a.name}") for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "iocwall":            # from iocwall import wall
                found += [(node.lineno, f"iocwall.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and node.args \
                and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str) \
                and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module":
            found.append((node.lineno, node.args[0].value))
    return [(line, m) for line, m in found if m.startswith("iocwall.")]


def violations(package: str, module: str, source: str) -> list[str]:
    """What in ``source`` (the file ``module``, e.g. hardware/sim/server.py, of ``package``)
    breaks the rules."""
    bad = []
    dotted = ".".join(("iocwall", *Path(module).parent.parts)) if "/" in module \
        else f"iocwall.{package}"
    tool = next((extra for prefix, extra in TOOLS.items() if module.startswith(prefix + "/")),
                None)
    allowed = ALLOWED[package] | (tool or frozenset())
    for line, name in imported_modules(source, dotted):
        if tool is None and any(name.startswith("iocwall." + t.replace("/", "."))
                                for t in TOOLS):
            bad.append(f"{module}:{line}: imports the build-time tool {name}")
            continue
        target = name.split(".")[1]
        if target == package or target not in PACKAGES:
            continue
        only = ONLY.get((package, target))
        if target not in allowed:
            bad.append(f"{module}:{line}: {package} imports {name} (not allowed: "
                       f"{package} may import {sorted(allowed) or 'nothing of ours'})")
        elif only is not None and not any(name == m or name.startswith(m + ".") for m in only):
            bad.append(f"{module}:{line}: {package} may import only {sorted(only)} of "
                       f"{target}, not {name}")
    return bad


def test_every_package_imports_only_the_layers_below_it() -> None:
    bad: list[str] = []
    checked = 0
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT)
            bad += violations(package, str(rel), path.read_text(encoding="utf-8"))
            checked += 1
    assert checked > 150, f"only {checked} modules found: is ROOT right? ({ROOT})"
    assert bad == [], "imports against the layering (tests/test_layering.py):\n" + "\n".join(bad)


def test_the_rules_catch_each_kind_of_back_edge() -> None:
    """The checker itself: every way of writing an import is seen."""
    assert violations("streams", "m.py", "from iocwall.wall.config import Config\n")
    assert violations("streams", "m.py", "def f():\n    import iocwall.wall.app\n")
    assert violations("streams", "m.py", "from typing import TYPE_CHECKING\n"
                      "if TYPE_CHECKING:\n    from iocwall.layouts.model import Layout\n")
    assert violations("analytics", "m.py", "from iocwall import wall\n")
    assert violations("layouts", "m.py", "import importlib\n"
                      "importlib.import_module('iocwall.streams.server')\n")
    assert violations("streams", "m.py", "from iocwall.analytics.worker import Worker\n")
    assert violations("hardware", "m.py", "from iocwall.wall.config import Config\n")
    assert violations("onvif", "m.py", "from iocwall.wall.registry import api\n")
    assert violations("hardware", "hardware/sim/x.py", "from ...wall import config\n")
    assert violations("hardware", "hardware/sim/x.py", "from ... import wall\n")
    assert violations("hardware", "hardware/sim/x.py", "from .media import Frame\n") == []
    # and what is allowed stays allowed
    assert violations("streams", "m.py", "from iocwall.analytics.messages import ZoneSpec\n") == []
    assert violations("wall", "m.py", "from iocwall.streams.contract import MediaService\n") == []
    assert violations("streams", "m.py", "from iocwall.streams.server import MediaServer\n") == []
    assert violations("streams", "m.py", "import json\nfrom pathlib import Path\n") == []


def test_the_web_side_holds_media_only_through_the_contract() -> None:
    """wall/ names the media implementations in one place, where it builds one
    (serve.build_media); everywhere else it holds a streams.contract.MediaService, so a
    remote media node can stand in without the web side asking which one it has."""
    builders = {"wall/serve.py"}
    bad = []
    for path in sorted((ROOT / "wall").rglob("*.py")):
        rel = str(path.relative_to(ROOT))
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module in (
                    "iocwall.streams.server", "iocwall.streams.cluster"):
                names = [a.name for a in node.names if a.name in ("MediaServer", "MediaCluster")]
            elif isinstance(node, ast.Attribute) and node.attr == "isawaitable":
                names = ["inspect.isawaitable"]
            if names and rel not in builders:
                bad.append(f"{rel}:{node.lineno}: {', '.join(names)}")
    assert bad == [], "the web side checks which media it has:\n" + "\n".join(bad)


def test_a_build_time_tool_may_reach_further_but_nothing_imports_it() -> None:
    assert violations("analytics", "analytics/training/dataset.py",
                      "from iocwall.hardware.sim import scene\n") == []
    assert violations("analytics", "analytics/worker.py",
                      "from iocwall.hardware.sim import scene\n")
    assert violations("analytics", "analytics/worker.py",
                      "from iocwall.analytics.training import train\n")
    assert violations("wall", "wall/demo.py", "import iocwall.analytics.training.train\n")
