# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
# uv comes from PyPI when it is not on PATH; the environment is .venv, built from the committed uv.lock.

UV_VERSION := 0.13.8
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
VENV := .venv
export UV_PYTHON_DOWNLOADS := never

.PHONY: env demo test lint bench clean system-deps

$(CURDIR)/.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

# The demo needs only the engine; tests and benchmarks need everything (the LLM extra, test servers).
# --inexact keeps what a previous `make test` installed, so switching targets never reinstalls.
# --compile-bytecode writes the .pyc files at install: where PYTHONDONTWRITEBYTECODE is set (containers, CI)
# Python would otherwise compile every module it imports from source on every run — ~0.5 s CPU of each
# investigation's start, ~3 s of importing crewai in the LLM mode.
$(VENV)/.synced-core: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --inexact --compile-bytecode --no-dev --python 3.11
	@touch $@

$(VENV)/.synced-all: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --inexact --compile-bytecode --all-extras --python 3.11
	@touch $@ $(VENV)/.synced-core

# The checkout's own modules too: the editable install leaves them outside site-packages, where uv's
# --compile-bytecode does not reach, so under PYTHONDONTWRITEBYTECODE each investigation compiled ~70 of our
# modules from source (~0.07 s CPU of a ~1.2 s cold start). Up-to-date files are skipped (~0.1 s in all).
BYTECODE := $(VENV)/bin/python -m compileall -q inquest agents coordinator tools ingest replay benchmarks evals >/dev/null

env: $(VENV)/.synced-all

demo: $(VENV)/.synced-core
	@$(BYTECODE)
	$(VENV)/bin/investigate INC-1042

# --durations: the slowest tests at the end of every run, so a test that got expensive is seen where it lands.
test: $(VENV)/.synced-all system-deps
	$(VENV)/bin/pytest --durations=15

# Tests run real programs from Debian's packages, installed with apt when missing (CI runs as root on Debian);
# never a downloaded build: chromium checks the HTML report, prometheus (with promtool) and
# prometheus-alertmanager back the live-alerting tests. Without root, the tests that need a missing program skip.
SYSTEM_PROGRAMS := chromium:chromium promtool:prometheus prometheus-alertmanager:prometheus-alertmanager
system-deps:
	@missing=""; for pair in $(SYSTEM_PROGRAMS); do \
	  command -v "$${pair%%:*}" >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "make: installing with apt:$$missing" >&2; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      $$missing fonts-liberation >/dev/null; \
	  else \
	    echo "make: missing$$missing and no root to install them with apt: the tests that need them will skip" >&2; \
	  fi; fi

# ruff (style, bug patterns), then mypy (types) and import-linter (layering) over .lint/src: the installed package
# layout as symlinks (.ci/link_tree.py), because neither follows the editable install's package-dir mapping.
# What mypy checks (strictness per module in pyproject.toml): every package, tools and evals included.
MYPY_CHECKED := inquest.core inquest.registry inquest.agents inquest.tracing inquest.retry inquest.quantiles inquest.tails inquest.walk inquest.coordinator \
	inquest.render inquest.replay inquest.config inquest.connect inquest.faults inquest.errors inquest.redact inquest.cli inquest.serve \
	inquest.tools inquest.commands inquest.ingest inquest.benchmarks inquest.attach inquest.evals
lint: $(VENV)/.synced-all
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python .ci/link_tree.py
	$(VENV)/bin/mypy $(MYPY_CHECKED:%=-p %)
	cd .lint/src && $(CURDIR)/$(VENV)/bin/lint-imports --no-cache $(CURDIR)/pyproject.toml

bench: $(VENV)/.synced-all
	$(VENV)/bin/python bench/run.py

clean:
	rm -rf .inquest .venv .tools .lint bench-results.json
