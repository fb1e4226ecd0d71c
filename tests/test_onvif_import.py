"""Our onvif/ folder must not shadow the ONVIF client library's import name."""
from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_import_onvif_from_repo_root_gets_the_library() -> None:
    out = subprocess.run([sys.executable, "-c", "import onvif; print(onvif.__file__)"],
                         cwd=REPO, capture_output=True, text=True, timeout=60, check=True)
    path = Path(out.stdout.strip()).resolve()
    # site-packages of this venv, or of a base venv it reuses through a .pth file
    sites = {Path(p).resolve() for p in [sysconfig.get_paths()["purelib"], *sys.path]
             if p.endswith("site-packages")}
    assert any(path.is_relative_to(s) for s in sites), \
        f"import onvif found {path}, not the library in {sorted(sites)}"
    assert not path.is_relative_to(REPO / "onvif")
