"""`pip install .` (not editable) gives a working iocwall outside the checkout.

The wheel is built from a copy of the checkout (setuptools leaves a ``build/``
folder in the source tree, and stale files there would hide a packaging bug),
installed into a fresh virtualenv in a temporary folder, and its ``iocwall
serve`` must answer /healthz and the login page. To stay fast and offline the
fresh venv takes its third-party packages from the running interpreter's
site-packages (a .pth file), never the checkout: every command runs from a
temporary folder and we check where ``iocwall`` was imported from.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import site
import subprocess
import sys
import sysconfig
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.ports import free_port
from tests.waiting import wait_until_sync

REPO = Path(__file__).resolve().parent.parent
FAKE_PKG = "iocwall-test-vendored"   # a vendored npm package added to the copy only
pytestmark = pytest.mark.slow


def _repo_files() -> list[str]:
    """What a checkout holds: tracked and untracked-but-not-ignored files, plus the
    git-ignored npm/vendor folders that the frontend ships from."""
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO,
                         capture_output=True, check=True, timeout=60)
    files = [f for f in out.stdout.decode().split("\0") if f and (REPO / f).is_file()]
    for folder in ("frontend/node_modules", "frontend/vendor"):
        files += [str(p.relative_to(REPO)) for p in (REPO / folder).rglob("*") if p.is_file()]
    return files


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    for name in _repo_files():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, src / name)
    fake = src / "frontend" / "node_modules" / FAKE_PKG
    (fake / "dist").mkdir(parents=True)
    (fake / "dist" / "fake.min.js").write_text("/* built file */\n")
    (fake / "src").mkdir()
    (fake / "src" / "fake.js").write_text("/* source, not shipped */\n")
    (fake / "package.json").write_text("{}\n")
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                          "--no-build-isolation", "--no-index", "-w", str(tmp / "dist"),
                          str(src)], capture_output=True, text=True, timeout=300, cwd=tmp)
    assert out.returncode == 0, out.stderr
    [built] = (tmp / "dist").glob("iocwall-*.whl")
    return built


def _wheel_names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def test_wheel_holds_every_module_migration_and_frontend_file(wheel: Path) -> None:
    names = _wheel_names(wheel)
    files = _repo_files()
    # every module of the repository, except the tests and tools/ (developer aids)
    code = [f for f in files if f.endswith(".py") and "/" in f
            and not f.startswith(("tests/", "tools/"))]
    assert len(code) > 100
    missing = sorted(f for f in code if f"iocwall/{f}" not in names)
    assert not missing, f"modules missing from the wheel: {missing}"
    sql = [f for f in files if f.startswith("wall/store/migrations/") and f.endswith(".sql")]
    assert sql and all(f"iocwall/{f}" in names for f in sql)
    assert "iocwall/analytics/weights/sim-people.pt" in names    # the demo's detector
    pages = [f for f in files if f.startswith("frontend/") and f.endswith((".html", ".js",
                                                                            ".css"))
             and "/node_modules/" not in f]
    assert "frontend/login.html" in pages
    assert all(f"iocwall/{f}" in names for f in pages), sorted(set(pages) - names)
    # npm's built files ship, its manifests and sources do not; the tests never ship.
    assert f"iocwall/frontend/node_modules/{FAKE_PKG}/dist/fake.min.js" in names
    assert not [n for n in names if n.endswith(("package.json", "package-lock.json"))
                or "/src/fake.js" in n or n.startswith(("tests/", "iocwall/tests/"))]
    # onvif/ stays a namespace package: no __init__ that could shadow the ONVIF library.
    assert "iocwall/onvif/client.py" in names and "iocwall/onvif/__init__.py" not in names
    assert not [n for n in names if n.startswith("onvif/")]


def _deps_pth() -> str:
    """The running interpreter's site-packages folders (third-party packages only)."""
    folders = [*site.getsitepackages(), sysconfig.get_paths()["purelib"],
               *(p for p in sys.path if p.endswith(("site-packages", "dist-packages")))]
    unique = dict.fromkeys(str(Path(f).resolve()) for f in folders if Path(f).is_dir())
    # the checkout's own .venv (make's) is fine: only its site-packages are listed, whose
    # editable-install hook a .pth-added folder never runs; the checkout itself is not
    venv = (REPO / ".venv").resolve()
    return "\n".join(f for f in unique if not Path(f).is_relative_to(REPO)
                     or Path(f).is_relative_to(venv)) + "\n"


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel installed; returns its folder."""
    venv = tmp_path_factory.mktemp("venv") / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    purelib = subprocess.run([str(venv / "bin" / "python"), "-c",
                              "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True, timeout=60).stdout
    Path(purelib.strip(), "_running_venv_deps.pth").write_text(_deps_pth())
    out = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"),
                          "install", "-q", "--no-deps", "--no-index", str(wheel)],
                         capture_output=True, text=True, timeout=300, cwd=venv)
    assert out.returncode == 0, out.stderr
    return venv


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def test_installed_package_comes_from_the_venv_not_the_checkout(installed: Path,
                                                                tmp_path: Path) -> None:
    probe = ("import json, iocwall.wall.auth, iocwall.streams.rtsp, iocwall.hardware.sim, "
             "iocwall.onvif.client, iocwall.wall.frontend as f, onvif; print(json.dumps("
             "[iocwall.wall.auth.__file__, str(f.frontend_dir()), onvif.__file__]))")
    out = subprocess.run([str(installed / "bin" / "python"), "-c", probe], cwd=tmp_path,
                         env=_clean_env(), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    auth, frontend, onvif_lib = (Path(p).resolve() for p in json.loads(out.stdout))
    venv = installed.resolve()
    assert auth.is_relative_to(venv) and not auth.is_relative_to(REPO), auth
    assert frontend.is_relative_to(venv) and (frontend / "login.html").is_file(), frontend
    assert not onvif_lib.is_relative_to(venv / "lib"), "our onvif/ shadowed the library"


@pytest.fixture
def served(installed: Path, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "w") as sink:
        proc = subprocess.Popen([str(installed / "bin" / "iocwall"), "serve", "--host",
                                 "127.0.0.1", "--port", str(port), "--data-dir",
                                 str(tmp_path / "data")], cwd=tmp_path, env=_clean_env(),
                                stdout=sink, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        def listening() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"iocwall serve exited {proc.returncode}:\n"
                                     f"{log.read_text()}")
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2).close()
                return True
            except (urllib.error.URLError, ConnectionError):
                return False
        try:
            wait_until_sync(listening, 60, "iocwall serve listening", step=0.2)
        except AssertionError as exc:
            raise AssertionError(f"{exc}:\n{log.read_text()}") from None
        yield base
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _get(url: str) -> tuple[int, str, str]:
    request = urllib.request.Request(url, headers={"Accept": "text/html"})
    with urllib.request.urlopen(request, timeout=10) as reply:
        return reply.status, reply.headers.get("content-type", ""), reply.read().decode()


def test_installed_serve_answers_healthz_and_the_login_page(served: str) -> None:
    status, kind, body = _get(served + "/healthz")
    assert status == 200 and kind.startswith("application/json")
    assert json.loads(body)["status"] == "ok"
    status, kind, body = _get(served + "/login")
    assert status == 200 and kind.startswith("text/html")
    assert 'id="password"' in body and "missing from the installation" not in body
    status, kind, body = _get(served + "/static/login.js")
    assert status == 200 and "javascript" in kind and body.strip()
