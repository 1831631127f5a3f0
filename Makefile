# One entry point per job. `make serve` and `make test` are the README's two commands.
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
STAMP := .make/installed

.PHONY: setup serve test lint check bench bench-latency bench-load bench-topology eval clean extension

$(STAMP): pyproject.toml
	$(PIP) install --quiet -e '.[test,bench]'
	@mkdir -p .make && touch $(STAMP)

setup: $(STAMP)

## Set up, build the default corpus on first run, and serve on 127.0.0.1:8765
serve: $(STAMP)
	$(PYTHON) -m docvouch serve

## Everything the tests need (system packages included), then lint and the whole suite
test: $(STAMP)
	./scripts/install-test-deps
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

bench-load: $(STAMP)
	$(PYTHON) bench/load.py --write bench/RESULTS.md

clean:
	rm -rf .make build dist *.egg-info .pytest_cache .ruff_cache
