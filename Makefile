# One entry point per job. `make serve` and `make test` are the README's two commands.
#
# Everything installs into the project's own virtual environment, .venv: Debian's and
# Ubuntu's python3 refuse pip installs into the system interpreter (PEP 668). The venv is
# made from BASE_PYTHON, and every recipe runs with its bin/ first on PATH, so the service,
# the tests and the benchmarks all run on that interpreter. Its build matters: Debian's
# python3 (built with PGO and LTO) runs the service about 13% faster than a plain source
# build (bench/RESULTS.md); `make BASE_PYTHON=/usr/bin/python3 serve` picks it explicitly.
BASE_PYTHON ?= python3
VENV ?= .venv
PYTHON := $(VENV)/bin/python
PIP := $(PYTHON) -m pip
STAMP := $(VENV)/.installed
export PATH := $(abspath $(VENV))/bin:$(PATH)
export VIRTUAL_ENV := $(abspath $(VENV))

.PHONY: setup accel serve test lint check bench bench-accel bench-latency bench-load bench-topology eval clean extension

$(PYTHON):
	@$(BASE_PYTHON) -m venv $(VENV) || { echo "make: could not create $(VENV) with \
	$(BASE_PYTHON): is it installed (BASE_PYTHON=... picks another)? On Debian or Ubuntu its \
	venv module is the python3-venv package" >&2; rm -rf $(VENV); exit 1; }

$(STAMP): pyproject.toml | $(PYTHON)
	$(PIP) install --quiet --disable-pip-version-check --upgrade pip
	$(PIP) install --quiet --disable-pip-version-check -e '.[test,bench,accel]'
	@touch $(STAMP)

setup: $(STAMP)

## Compile the engine with mypyc (needs cc and the Python headers); a no-op while fresh.
## An edited engine module runs as Python until this runs again (service/docvouch/accel.py).
accel: $(STAMP)
	$(PYTHON) -m docvouch accel build

## Set up, build the default corpus on first run, and serve on 127.0.0.1:8765
## (the engine compiled when a C compiler is there, as Python otherwise)
serve: $(STAMP)
	$(PYTHON) -m docvouch accel build --if-possible
	$(PYTHON) -m docvouch serve

## Everything the tests need (system packages and the C toolchain included), the compiled
## engine (so the suite tests what `make serve` runs), then lint and the whole suite
test: $(STAMP)
	./scripts/install-test-deps
	$(MAKE) accel
	$(MAKE) check

lint:
	ruff check service tests bench deploy

check: lint
	node --test tests/extension/
	$(PYTHON) -m pytest -q

## Store zips of the browser extension: dist/docvouch-chrome.zip, dist/docvouch-firefox.zip
extension:
	$(PYTHON) extension/scripts/package.py

## Verdict quality on the labelled set (dev split for tuning, test split reported)
eval: $(STAMP)
	$(PYTHON) bench/eval.py

## Benchmarks: figures go into bench/RESULTS.md (public data read from ../shared/data; each
## part says "skipped" when its data is absent). About 10 minutes on 2 cores.
bench: $(STAMP)
	$(PYTHON) bench/eval.py --split test
	$(PYTHON) bench/public.py --write bench/RESULTS.md

bench-latency: $(STAMP)
	taskset -c 1 $(PYTHON) bench/latency.py --runs 100

bench-topology: $(STAMP)
	$(PYTHON) bench/topology.py --sizing --repeat 3 --write bench/RESULTS.md

bench-accel: accel
	$(PYTHON) bench/accel_speed.py

bench-load: accel
	$(PYTHON) bench/load.py --write bench/RESULTS.md

clean:
	rm -rf .make build dist *.egg-info .pytest_cache .ruff_cache service/docvouch/_accel*
