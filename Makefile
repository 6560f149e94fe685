# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
# uv comes from PyPI when it is not on PATH; the environment is .venv, built from the committed uv.lock.

UV_VERSION := 0.13.8
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
VENV := .venv
export UV_PYTHON_DOWNLOADS := never

.PHONY: env demo test bench clean

$(CURDIR)/.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --python 3.11
	@touch $@

env: $(VENV)/.synced

demo: env
	$(VENV)/bin/investigate INC-1042

test: env
	$(VENV)/bin/pytest

bench: env
	$(VENV)/bin/python bench/run.py

clean:
	rm -rf .inquest .venv .tools bench-results.json
