"""A missing Chromium, redis-server or ffprobe FAILS the tests that need them, with a
message naming the tool and the Debian package: a machine without them must not report
a green run that tested none of the browser, bus and RTSP paths."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

USES_THE_TOOLS = """
pytest_plugins = ["tests.fixtures.browser", "tests.fixtures.redis_server",
                  "tests.fixtures.simulator"]

def test_needs_chromium(chromium):
    pass

def test_needs_redis(redis_server):
    pass

def test_needs_ffprobe(simulator):
    pass
"""


def test_missing_tools_fail_with_a_clear_message(tmp_path: Path) -> None:
    (tmp_path / "test_tools.py").write_text(USES_THE_TOOLS)
    empty_bin = tmp_path / "bin"          # a PATH with none of the tools on it
    empty_bin.mkdir()
    env = {**os.environ, "PATH": str(empty_bin),
           "IOCWALL_CHROMIUM": str(tmp_path / "no-chromium"),
           "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                          "-rfEs", "-o", "addopts=", "--rootdir", str(tmp_path),
                          str(tmp_path / "test_tools.py")],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    report = out.stdout + out.stderr
    assert out.returncode != 0, report
    assert not re.search(r"\d+ skipped", report), report
    assert re.search(r"3 errors?", report), report
    for tool, package in (("chromium", "chromium"), ("redis-server", "redis-server"),
                          ("ffprobe", "ffmpeg")):
        assert f"{tool} is missing" in report, report
        assert f"apt-get install {package}" in report, report
