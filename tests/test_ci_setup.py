"""What `make` and `.ci/run` do: npm comes with the Debian packages, `make test` runs
lint, types and then pytest, CI starts with empty caches, and the simulator's loop
cache lives in the user's cache folder (so a fresh clone encodes cold)."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _make_var(name: str) -> list[str]:
    out = subprocess.run(["make", "-s", "--no-print-directory", "--eval",
                          f"print-var: ; @echo $({name})", "print-var"],
                         cwd=REPO, capture_output=True, text=True, timeout=60, check=True)
    return out.stdout.split()


def _dry_run(target: str) -> list[str]:
    out = subprocess.run(["make", "-n", "--no-print-directory", target], cwd=REPO,
                         capture_output=True, text=True, timeout=60, check=True)
    return out.stdout.splitlines()


def test_debian_packages_include_npm_because_setup_runs_npm_install() -> None:
    assert any("npm install" in line for line in _dry_run("setup")
               + Path(REPO / "Makefile").read_text().splitlines())
    assert "npm" in _make_var("APT_PKGS") + _make_var("APT_CMD_PKGS")


def test_debian_packages_include_the_servers_the_tests_start() -> None:
    """redis-server and PostgreSQL (tests/fixtures/postgres_server.py) run for real."""
    assert {"redis-server", "postgresql"} <= set(_make_var("APT_PKGS"))


def test_make_test_runs_ruff_then_mypy_then_pytest() -> None:
    lines = _dry_run("test")
    def first(word: str) -> int:
        found = [i for i, line in enumerate(lines) if word in line]
        assert found, f"`make test` does not run {word}:\n" + "\n".join(lines)
        return found[0]
    assert first("-m ruff check") < first("-m mypy") < first("-m pytest")


def _setup_top_level() -> list[str]:
    tree = ast.parse((REPO / "setup.py").read_text())
    [value] = [node.value for node in tree.body if isinstance(node, ast.Assign)
               and any(getattr(t, "id", "") == "TOP_LEVEL" for t in node.targets)]
    return list(ast.literal_eval(value))


def test_wheel_and_mypy_cover_every_top_level_package() -> None:
    folders = {p.parent.name for p in REPO.glob("*/*.py")} - {"tests"}
    mypy = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["mypy"]["packages"]
    assert sorted(_setup_top_level()) == sorted(folders)
    links = REPO / "tools" / "typecheck" / "iocwall"
    assert sorted(p.name for p in links.iterdir() if p.is_symlink()) == sorted(folders)
    assert all((links / f).resolve() == REPO / f for f in folders)
    assert sorted(mypy) == sorted(f"iocwall.{f}" for f in folders)


def test_ci_runs_make_test_with_a_fresh_empty_cache_home(tmp_path: Path) -> None:
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    record = tmp_path / "record"
    # Stands in for make: records what .ci/run called it with, and the cache folder it got.
    (fake_bin / "make").write_text(
        '#!/bin/sh\n{ echo "args=$*"; echo "cache=$XDG_CACHE_HOME"; '
        'echo "entries=$(ls -A "$XDG_CACHE_HOME" | wc -l)"; echo "cwd=$(pwd)"; } > "$RECORD"\n')
    (fake_bin / "make").chmod(0o755)
    mine = tmp_path / "my-cache"
    env = {**os.environ, "PATH": f"{fake_bin}:{os.environ['PATH']}", "RECORD": str(record),
           "XDG_CACHE_HOME": str(mine), "TMPDIR": str(tmp_path)}
    out = subprocess.run([str(REPO / ".ci" / "run")], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    seen = dict(line.split("=", 1) for line in record.read_text().splitlines())
    assert seen["args"] == "test"
    assert Path(seen["cwd"]).resolve() == REPO
    assert seen["cache"] != str(mine) and Path(seen["cache"]).parent == tmp_path
    assert seen["entries"].strip() == "0"
    assert not Path(seen["cache"]).exists(), "the CI cache folder is left behind"


def test_sim_loop_cache_follows_xdg_cache_home(tmp_path: Path) -> None:
    probe = ("from iocwall.hardware.sim.command import default_cache_dir; "
             "import tests.fixtures.simulator as f; print(default_cache_dir()); print(f.CACHE)")
    env = {k: v for k, v in os.environ.items() if k != "IOCWALL_SIM_CACHE"}
    env["XDG_CACHE_HOME"] = str(tmp_path)
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=60, check=True)
    command, fixture = out.stdout.split()
    assert Path(command) == Path(fixture) == tmp_path / "iocwall" / "sim"
    env["IOCWALL_SIM_CACHE"] = str(tmp_path / "elsewhere")
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=60, check=True)
    assert set(out.stdout.split()) == {str(tmp_path / "elsewhere")}


def test_sim_command_defaults_to_the_user_cache_not_the_checkout() -> None:
    import argparse

    from iocwall.hardware.sim import command
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    assert parser.parse_args([]).cache_dir is None       # resolved at run: default_cache_dir()
    assert not command.default_cache_dir().is_relative_to(REPO)


def test_no_installed_packages_are_tracked() -> None:
    """npm's folder is made by `make` on each machine: a tracked frontend/node_modules (once
    committed as a symlink from a worktree) replaces it in every clone and breaks the pages."""
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True,
                             timeout=60, check=True).stdout.splitlines()
    assert not [p for p in tracked if "node_modules" in p.split("/") or p.startswith(".venv")]
