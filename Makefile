# `make demo` trains on the embedded digits and writes runs/demo; `make test` runs the tests.
# Both create .venv and install everything they need on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export TORCHRBM_DATA ?= $(abspath ../shared/data)

.PHONY: demo test browser bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/torchrbm train --out runs/demo --overwrite --ll-every 5

# The report test drives Debian's chromium through chromedriver; installed here where apt-get may be used.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] && echo "" || { sudo -n true 2>/dev/null && echo sudo -n; } || echo none ); \
	  if [ "$$SUDO" != none ] && command -v apt-get >/dev/null; then \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	      --no-install-recommends chromium chromium-driver >/dev/null \
	      || echo "could not install chromium: the browser test of the run report will be skipped"; \
	  else echo "chromium not installed: the browser test of the run report will be skipped"; fi; }

test: $(STAMP) browser
	$(BIN)/ruff check torchrbm tests benchmarks examples docs
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/throughput.py

clean:
	rm -rf $(VENV) runs
