"""Run `iocwall smoke` as a real subprocess and read what a technician would read."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any


@dataclass
class SmokeRun:
    code: int
    stdout: str
    stderr: str

    @property
    def report(self) -> dict[str, Any]:
        return json.loads(self.stdout)

    def rows(self, check: str, stream_part: str = "") -> list[dict[str, str]]:
        return [r for r in self.report["rows"]
                if r["check"] == check and stream_part in r["stream"]]

    @property
    def summary_line(self) -> str:
        lines = [ln for ln in self.stdout.splitlines() if ln.startswith("Tổng kết / Summary:")]
        assert len(lines) == 1, self.stdout
        return lines[0]


def smoke(*args: str, secret: str | None = None, env: dict[str, str] | None = None,
          timeout: float = 90) -> SmokeRun:
    """``iocwall smoke ARGS``; checks what must hold for every run (no traceback, no secret)."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run([sys.executable, "-m", "iocwall.wall.cli", "smoke", *args],
                          capture_output=True, text=True, timeout=timeout, env=full_env)
    run = SmokeRun(proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in run.stderr + run.stdout, run.stderr
    if secret:
        assert secret not in run.stdout + run.stderr, "the password leaked into the output"
    return run


def one_line_error(run: SmokeRun) -> str:
    """For targets refused before any check: nothing on stdout, exactly one line on stderr."""
    assert run.code == 2, (run.code, run.stdout, run.stderr)
    assert run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    return lines[0]
