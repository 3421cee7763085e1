# Two commands on a fresh machine:  make demo   and   make test
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench bench-sweep scenarios clean chromium

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/allocator run scenarios/england-la --out out/england-la

# The browser test needs Debian's Chromium; install it when we can (root with apt), else it skips.
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "chromium not installed: the browser test will be skipped"; }

test: $(STAMP) chromium
	$(PY) -m pytest -q allocator tests

bench: $(STAMP)
	$(PY) benchmarks/run.py

# 1,000-point budget sweep of england-la: local workers, cold re-solves, the CLI, Dask (~6 min)
bench-sweep: $(STAMP)
	$(PY) benchmarks/sweep.py

# Rebuild the bundled scenarios from ../shared/data (not needed to use them).
scenarios: $(STAMP)
	$(PY) scripts/build_scenarios.py --shared ../shared/data

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis
