# The two commands a new user needs:  make demo   and   make test
# Both set everything up first (Debian packages, a virtualenv, npm packages); re-runs are quick.

PYTHON  ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
APT_PKGS := ffmpeg redis-server postgresql chromium chromium-driver fonts-dejavu-core iproute2 nftables vlc-bin vlc-plugin-base onvif-tools haproxy
# Debian packages wanted for their command only: skipped when the command is already there
# (NodeSource's nodejs bundles npm, and Debian's npm package conflicts with it).
APT_CMD_PKGS := npm
TEST_ARGS ?=

.PHONY: setup system-deps demo serve cluster-demo lint test bench drill screenshots clean

setup: system-deps $(STAMP) frontend/node_modules/.installed

# Debian packages: ffmpeg/ffprobe (independent RTSP client in tests), redis-server (multi-node bus),
# chromium (browser tests and the demo's kiosk), npm (frontend packages). Installed only when missing.
system-deps:
	@missing=""; \
	for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	for p in $(APT_CMD_PKGS); do command -v $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing; \
	fi

# torch is pinned to the CPU build first, so that ultralytics does not pull a multi-GB CUDA build.
# The analytics extra (torch, ultralytics) is for the worker; `pip install .` alone leaves it out.
$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "torch==2.13.0"
	$(BIN)/pip install -q -e ".[test,analytics]"
	touch $(STAMP)

frontend/node_modules/.installed: frontend/package.json
	cd frontend && npm install --no-audit --no-fund --loglevel=error && mkdir -p node_modules
	touch $@

demo: setup
	$(BIN)/iocwall demo $(ARGS)

serve: setup
	$(BIN)/iocwall serve $(ARGS)

# PostgreSQL, Redis, HAProxy, two controllers (and media nodes) on this machine (README).
cluster-demo: setup
	$(BIN)/iocwall cluster-demo $(ARGS)

# ruff, then mypy over the packages by their installed names, iocwall.<folder> (through
# tools/typecheck/iocwall/: see [tool.mypy] in pyproject.toml).
lint: setup
	$(BIN)/python -m ruff check .
	$(BIN)/python -m mypy

# Lint and types first: a red lint fails the run before the (long) tests start.
test: lint
	$(BIN)/python -m pytest $(TEST_ARGS)

# Benchmarks are not tests: they print figures and ratios against a baseline from the same run.
bench: setup
	$(BIN)/python -m pytest -p no:cacheprovider -s -o addopts="" tests/benchmarks $(TEST_ARGS)

# The failover drill (tests/benchmarks/bench_failover.py): cluster-demo under load, its
# services killed in turn. `make drill ARGS=--quick` for a short run.
drill: setup
	BENCH_QUICK=$(if $(filter --quick,$(ARGS)),1,$(BENCH_QUICK)) \
	  $(BIN)/python -m pytest -p no:cacheprovider -s -o addopts="" \
	  tests/benchmarks/bench_failover.py $(TEST_ARGS)

# The README's pictures of the main pages, from a fresh demo (tools/screenshots/take.py).
screenshots: setup
	$(BIN)/python tools/screenshots/take.py

clean:
	rm -rf $(VENV) frontend/node_modules .pytest_cache
