# `make run`: set up .venv and run the main job (genlab demo).  `make test`: set up and run the tests.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# OpenMP threads sleep instead of spinning when they wait: with more busy threads than the 2 cores
# (DDP tests, parallel jobs) spinning made small kernels 10-100x slower (benchmarks/loader.py).
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: run test test-all lint docs setup bench clean browser

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	# torch first and alone: the CPU build on disk (any other spec pulls a multi-GB CUDA build)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -c constraints.txt -e '.[data,dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/genlab demo

# the tests run in as many processes as the machine has cores, at most 4 (pytest-xdist; each test sets torch to 1 thread)
test: $(STAMP) browser
	$(BIN)/python -m pytest -m "not slow" -q -p no:cacheprovider -n auto --maxprocesses 4

# tests/test_browser.py opens report.html and the gallery in Debian's headless chromium: installed here when it is
# missing and we are root with apt (CI's clean Debian machine: ~30-60 s), else the test is skipped (this says why)
CHROMIUM_APT := chromium chromium-driver
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  echo "installing $(CHROMIUM_APT) for tests/test_browser.py (apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(CHROMIUM_APT) >/dev/null \
	  || echo "warning: apt-get could not install $(CHROMIUM_APT): tests/test_browser.py will be skipped"; \
	else echo "note: no /usr/bin/chromium or /usr/bin/chromedriver: tests/test_browser.py will be skipped" \
	  "(install them: sudo apt-get install $(CHROMIUM_APT))"; fi

test-all: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks docs

# docs/equations.md from docs/equations.d/*.md (tests/test_equations_doc.py fails when it is stale)
docs: $(STAMP)
	$(BIN)/python docs/build_equations.py

bench: $(STAMP)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[bench]'

clean:
	rm -rf $(VENV) runs .pytest_cache
