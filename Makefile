# Two commands on a fresh machine:  make demo   and   make test
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test app bench bench-quick bench-sweep scenarios clean chromium

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/allocator run scenarios/england-la --out out/england-la

# The web app on england-la in your browser (the 'app' extra: Streamlit; the test extra has it too).
app: $(STAMP)
	$(PY) -m pip install --quiet -e '.[app]'
	$(VENV)/bin/allocator app england-la

# One test (tests/test_html.py's browser check of the HTML report) needs Chromium. When it is
# missing and we are root with apt, install Debian's package and say so; otherwise that test skips.
chromium:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "make test: installing Debian's chromium (apt-get) for the browser test of the HTML report"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	    || echo "make test: chromium could not be installed: the browser test will be skipped"; \
	else echo "make test: chromium not found (and not root with apt): the browser test will be skipped"; fi

# Every test and doctest, on every core (pytest-xdist).
test: $(STAMP) chromium
	$(PY) -m pytest -q -n auto

bench: $(STAMP)
	$(PY) benchmarks/run.py

# Every rule combination at 300 and 1,000 areas against raw HiGHS on the same arrays (< 3 min):
# run it before a change lands; `benchmarks/registry.py` without --quick adds 4,000 and 32,844 areas.
bench-quick: $(STAMP)
	$(PY) benchmarks/registry.py --quick

# 1,000-point budget sweep of england-la: local workers, cold re-solves, the CLI, Dask (~6 min)
bench-sweep: $(STAMP)
	$(PY) benchmarks/sweep.py

# Rebuild the bundled scenarios from ../shared/data (not needed to use them).
scenarios: $(STAMP)
	$(PY) -m allocator.build --shared ../shared/data

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis .import_linter_cache
