"""Package layout (everything else is declared in pyproject.toml).

The top-level folders are the architecture; they install as ``iocwall.<folder>``,
with every subpackage below them found automatically. pyproject.toml alone cannot
add the ``iocwall.`` prefix to discovered packages, hence this file.

``onvif/`` has no ``__init__.py`` on purpose: it is a namespace package, so that
``import onvif`` from the repository root still finds the ONVIF client library.
Discovery therefore looks for namespace packages too.

The frontend ships as package data of ``iocwall.frontend`` (see FRONTEND_RULES).
"""
from __future__ import annotations

from glob import escape
from pathlib import Path

from setuptools import find_namespace_packages, setup

ROOT = Path(__file__).resolve().parent
TOP_LEVEL = ("wall", "streams", "onvif", "layouts", "analytics", "hardware")
FRONTEND = "frontend"
# Files of frontend/ that are not served: npm's manifests. Of node_modules/ only the
# built files (node_modules/<pkg>/dist/, node_modules/@scope/<pkg>/dist/) ship.
FRONTEND_SKIP = {"package.json", "package-lock.json"}


def python_packages() -> list[str]:
    found = find_namespace_packages(
        where=str(ROOT),
        include=[name for top in TOP_LEVEL for name in (top, f"{top}.*")],
        exclude=["*.__pycache__", "*.__pycache__.*"],
    )
    return [f"iocwall.{name}" for name in found]


def _vendored(parts: tuple[str, ...]) -> bool:
    """node_modules/<pkg>/dist/... or node_modules/@scope/<pkg>/dist/..."""
    rest = parts[1:]
    if rest and rest[0].startswith("@"):
        rest = rest[1:]
    return len(rest) >= 3 and rest[1] == "dist"


def frontend_files() -> list[str]:
    """Every served file under frontend/, relative to it (escaped: setuptools globs them)."""
    base = ROOT / FRONTEND
    files = []
    for path in sorted(base.rglob("*")):
        parts = path.relative_to(base).parts
        if not path.is_file() or any(p.startswith(".") or p == "__pycache__" for p in parts):
            continue
        if parts[0] == "node_modules" and not _vendored(parts):
            continue
        if parts[-1] in FRONTEND_SKIP:        # npm manifests, at any depth (dist/ has some)
            continue
        files.append(escape("/".join(parts)))
    return files


setup(
    packages=[*python_packages(), "iocwall.frontend"],
    package_dir={**{f"iocwall.{top}": top for top in TOP_LEVEL}, "iocwall.frontend": FRONTEND},
    package_data={
        "iocwall.frontend": frontend_files(),
        "iocwall.wall.store.migrations": ["*.sql"],
        "iocwall.wall.indicators": ["datasets/*.csv", "datasets/*.toml"],
        "iocwall.wall.provinces": ["*.csv"],
        "iocwall.analytics.weights": ["*.pt"],     # the simulator-people YOLO (README)
    },
    include_package_data=False,
)
