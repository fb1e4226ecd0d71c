"""Every third-party module the code imports is declared in pyproject.toml.

An undeclared import works in the developer's venv (it came in as someone else's
dependency) and breaks on a clean install the day that package drops it. The
check reads every ``import`` statement with ``ast`` (no code runs), maps each
top-level name to its installed distribution, and looks the distribution up in
[project] dependencies (plus the ``analytics`` extra for analytics/, and the
``test`` extra for tests/).
"""
from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("wall", "streams", "onvif", "layouts", "analytics", "hardware")
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def _canonical(requirement: str) -> str:
    name = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert name, requirement
    return re.sub(r"[-_.]+", "-", name.group(0)).lower()


def _declared(*extras: str) -> set[str]:
    requirements = list(PYPROJECT["dependencies"])
    for extra in extras:
        requirements += PYPROJECT["optional-dependencies"][extra]
    return {_canonical(r) for r in requirements}


def imported_top_level(folder: Path) -> dict[str, set[str]]:
    """Top-level module name -> files importing it (absolute imports, not stdlib/ours)."""
    found: dict[str, set[str]] = {}
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ("iocwall", "tests"):
                    found.setdefault(top, set()).add(str(path.relative_to(REPO)))
    return found


def _undeclared(folder: str, allowed: set[str]) -> list[str]:
    distributions = importlib.metadata.packages_distributions()
    problems = []
    for module, files in sorted(imported_top_level(REPO / folder).items()):
        dists = {_canonical(d) for d in distributions.get(module, [])}
        if not dists:
            problems.append(f"{module} (imported by {sorted(files)}) is not installed")
        elif not dists & allowed:
            problems.append(f"{module} (distribution {sorted(dists)}, imported by "
                            f"{sorted(files)}) is not declared in pyproject.toml")
    return problems


def test_the_package_imports_only_declared_distributions() -> None:
    problems = []
    for folder in PACKAGES:
        extras = ("analytics",) if folder == "analytics" else ()
        problems += _undeclared(folder, _declared(*extras))
    assert not problems, "\n".join(problems)


def test_the_tests_import_only_declared_distributions() -> None:
    problems = _undeclared("tests", _declared("test", "analytics"))
    assert not problems, "\n".join(problems)


def test_the_scan_sees_the_direct_imports_it_must_see() -> None:
    # zeep and aiohttp are imported inside functions: the scan must find those too.
    onvif = imported_top_level(REPO / "onvif")
    assert {"zeep", "aiohttp", "lxml", "onvif"} <= set(onvif)
    assert "aioice" in imported_top_level(REPO / "streams")


def test_heavy_analytics_packages_are_an_extra_not_a_dependency() -> None:
    core = _declared()
    assert not core & {"torch", "torchvision", "ultralytics", "shapely", "lap"}
    assert {"torch", "ultralytics"} <= _declared("analytics")
