# Two commands set up a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LINTED := sim tests benchmarks dashboards experiments workshop
# Browser tests drive Debian's chromium (Playwright's own browser download is never used).
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DASHBOARD_ARGS ?=

.PHONY: run test fuzz lint bench experiments dashboard clean

# The environment: versions pinned in constraints.txt (the set the tests passed with).
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium

## run: create the environment and compare the three strategies on the default scenario
run: $(STAMP)
	$(BIN)/buyingsim compare baseline --deals 5000 --seed 0

## test: create the environment (and chromium), lint, type-check and run the whole test suite
test: $(STAMP) $(CHROMIUM)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

## fuzz: the fuzz suites with many more examples, randomised (make test runs a few, derandomised)
FUZZ_EXAMPLES ?= 1000
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -q tests/test_fuzz_inputs.py tests/test_fuzz_sweep.py

lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)

## bench: engine throughput and peak memory, sweep throughput (figures quoted in the README)
bench: $(STAMP)
	$(BIN)/python benchmarks/engine.py --million
	$(BIN)/python benchmarks/sweep.py

## experiments: rerun every study under experiments/ and refresh the figures in their READMEs
experiments: $(STAMP)
	$(BIN)/python experiments/run.py all --fresh --update-readme
	$(BIN)/buyingsim validate --robustness 1,2,3 --out experiments/replication/output

## dashboard: serve the explorer and the compare page on http://127.0.0.1:8765 (works offline)
dashboard: $(STAMP)
	$(BIN)/buyingsim dashboard $(DASHBOARD_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
