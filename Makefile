# Two commands matter: `make demo` and `make test`. Both create .venv if it is
# missing, install PyTorch's CPU wheel (torch==2.13.0) when no torch is
# importable, install wgflow with its test extras, then run. `make docs` builds
# the HTML docs into docs/_build/html (`make test` builds them too). `make floors` checks the dependency
# floors (`make test` runs it too).
PYTHON ?= python3
TORCH  := 2.13.0
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.wgflow-installed
DOCS_STAMP := $(VENV)/.wgflow-docs-installed
FLOORS_VENV  := .venv-floors
FLOORS_STAMP := $(FLOORS_VENV)/.wgflow-floors-installed

.PHONY: demo test test-fast lint docs floors bench setup browser clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# Re-install only when the package metadata changes.
$(STAMP): $(PY) pyproject.toml
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q torch==$(TORCH)
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

# The floors check: a separate venv with every direct dependency at the lower bound pyproject.toml states
# (constraints/floors.txt, kept equal to pyproject by tests/test_packaging.py), then the core, transport,
# residual and statistics tests and the report's docstring rendering (not the slow ones) against them. All floors but torch's: torch 2.3 is not
# installable from the registries CI reaches as a CPU build (PyPI's 2.3 wheel is the CUDA one, with GBs of
# NVIDIA libraries), so the check uses torch $(TORCH), the CPU wheel `make setup` installs. About 3-4 min
# to install the first time (the venv is kept until the constraints or pyproject change), 3 min to test.
$(FLOORS_STAMP): constraints/floors.txt pyproject.toml
	rm -rf $(FLOORS_VENV)
	$(PYTHON) -m venv $(FLOORS_VENV)
	$(FLOORS_VENV)/bin/python -m pip install -q -c constraints/floors.txt torch==$(TORCH) -e . \
	  "pytest>=7" "pytest-timeout>=2" "hypothesis>=6"
	$(FLOORS_VENV)/bin/python -m pip list --format=freeze > $(FLOORS_VENV)/installed.txt
	@touch $(FLOORS_STAMP)

floors: $(FLOORS_STAMP)
	OMP_NUM_THREADS=1 $(FLOORS_VENV)/bin/python -m pytest -q -p no:cacheprovider -m "not slow" \
	  tests/measures tests/flows tests/objectives tests/transport tests/residual tests/test_stats.py \
	  tests/report/test_text.py

test: setup browser lint docs floors
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
	rm -rf $(VENV) $(FLOORS_VENV) build dist src/*.egg-info .pytest_cache docs/_build docs/api docs/experiments
