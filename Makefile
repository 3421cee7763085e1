# Two commands on a fresh machine:  make demo   and   make test
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench scenarios clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/allocator run scenarios/england-la --out out/england-la

test: $(STAMP)
	$(PY) -m pytest -q allocator tests

bench: $(STAMP)
	$(PY) benchmarks/run.py

# Rebuild the bundled scenarios from ../shared/data (not needed to use them).
scenarios: $(STAMP)
	$(PY) scripts/build_scenarios.py --shared ../shared/data

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis
