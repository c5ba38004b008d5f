# Two commands matter: `make demo` and `make test`. Both create .venv if it is
# missing, install PyTorch's CPU wheel (torch==2.13.0) when no torch is
# importable, install wgflow with its test extras, then run. `make docs` builds
# the HTML docs into docs/_build/html (`make test` builds them too).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.wgflow-installed
DOCS_STAMP := $(VENV)/.wgflow-docs-installed

.PHONY: demo test test-fast lint docs bench setup browser clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# Re-install only when the package metadata changes.
$(STAMP): $(PY) pyproject.toml
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[test]"
	@touch $(STAMP)

setup: $(STAMP)

# Headless Chromium for the report's browser test (Debian packages).
browser:
	@command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 || \
	  { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
	      || echo "warning: could not install chromium; browser tests will fail under CI" >&2; \
	    else echo "warning: chromium not found; browser tests are skipped outside CI" >&2; fi; }

demo: setup
	$(VENV)/bin/wgflow reproduce --quick --jobs 2

# Lint, format and type check (ruff and mypy, configured in pyproject.toml), before the tests.
lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

# The docs site (Sphinx, docs/conf.py): warnings are errors; -E re-reads every page, so a changed docstring
# is seen. Nothing is executed or downloaded at build time (the notebooks are executed by the tests).
$(DOCS_STAMP): $(STAMP) pyproject.toml
	$(PY) -m pip install -q -e ".[docs]"
	@touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	$(PY) -m sphinx -W --keep-going -E -q -b html docs docs/_build/html
	@echo "docs: open docs/_build/html/index.html"

test: setup browser lint docs
	$(PY) -m pytest -q

test-fast: setup
	$(PY) -m pytest -q -m "not slow and not browser"

bench: setup
	$(PY) benchmarks/bench_core.py
	$(PY) benchmarks/bench_transport.py
	$(PY) benchmarks/bench_distributed.py
	$(PY) benchmarks/bench_observer.py
	$(PY) benchmarks/bench_cli.py
	$(PY) benchmarks/bench_ensemble.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache docs/_build docs/api docs/experiments
