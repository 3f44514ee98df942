# Two set-up commands: `make demo` and `make test`. Both create .venv on first use (python3 + PyPI only).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST := $(BIN)/python -m pytest

.PHONY: install test test-stress demo e2e browser browser-deps bench constraints clean

install: $(STAMP)

# Re-installs only when the dependencies or their pinned versions change.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt uv
	$(BIN)/uv pip install --python $(BIN)/python -c constraints.txt -e '.[dev]'
	# Bytecode once, here: the machine sets PYTHONDONTWRITEBYTECODE=1, so without it every process
	# would compile Airflow from source again (about 3 s of CPU per `import airflow.sdk`).
	$(BIN)/python -m compileall -q -j 0 $(VENV)/lib > /dev/null
	touch $(STAMP)

# The linter and the type checker first (seconds), then the fast suite (no browser, no deployment).
test: lint
	$(PYTEST) -m "not e2e and not browser" --ignore=tests/e2e --ignore=tests/browser

# The sdist and the wheel in dist/, built as a user's installer builds them (isolated, with the pinned
# hatchling), and their metadata checked as PyPI checks an upload. tests/integration/test_packaging.py does the same
# in `make test` and also installs the wheel into a fresh environment.
.PHONY: dist lint
dist: install
	rm -rf dist
	$(BIN)/uv build --build-constraint constraints.txt --out-dir dist
	$(BIN)/twine check --strict dist/*

# Linter, type checker and the import layers (configured in pyproject.toml); all run, and any failing fails the target.
lint: install
	status=0; $(BIN)/ruff check . || status=1; $(BIN)/mypy || status=1; $(BIN)/lint-imports || status=1; exit $$status
# The fast suite twice at once on this machine, both green (RUNS=10 repeats the pair); see scripts/test_stress.sh.
test-stress: install
	scripts/test_stress.sh

# INTERACTIVE=1: you answer in the web view (within TIMEOUT seconds, default 300) instead of alice.
# DEMO=hitl: an Airflow Human-in-the-loop request answered in Slack instead of the ask.
# CHAT=discord: the same DAGs on the Discord emulator, only the connection changed (scripts/demo_discord.py).
demo: install
ifeq ($(CHAT),discord)
	$(BIN)/python scripts/demo_discord.py
else
	$(BIN)/python scripts/demo.py $(if $(INTERACTIVE),--interactive) $(if $(TIMEOUT),--timeout $(TIMEOUT)) $(if $(DEMO),--dag $(DEMO))
endif

# The web view in headless Chromium (under a minute), then a real Airflow deployment (PostgreSQL,
# LocalExecutor, triggerers) per session (about 3-5 minutes).
e2e: install browser-deps
	$(PYTEST) tests/browser -m browser --durations=5
	$(PYTEST) tests/e2e -m e2e --durations=10

# The web view's browser tests alone.
browser: install browser-deps
	$(PYTEST) tests/browser -m browser --durations=5

# Debian's chromium and chromium-driver for the browser tests, installed with apt-get when missing (as root,
# or through sudo); Playwright's own browser download is not used.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser-deps:
	@if command -v chromium > /dev/null && command -v chromedriver > /dev/null; then :; else \
	  echo "Installing Debian's chromium and chromium-driver for the browser tests"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium chromium-driver; \
	fi

# The scale benchmark's target row (1,000 pending asks over 10 channels) beside per-ask polling.
bench: install
	$(BIN)/python benchmarks/pending_asks.py --n 1000 --c 10

# Re-pin after a dependency change, from a venv whose tests pass.
constraints: install
	{ echo "# Tested pins for \`make install\` (uv pip install -c constraints.txt -e '.[dev]'); re-pin with \`make constraints\`."; \
	  $(BIN)/uv pip freeze --python $(BIN)/python --exclude-editable; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

clean:
	rm -rf $(VENV)
