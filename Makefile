# Two commands do all the set-up on a fresh machine:
#   make run   - install into .venv (if needed) and start the demo on http://127.0.0.1:8000
#   make test  - install with the dev extras (if needed) and run the whole test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Reinstall only when the package definition changes, so repeated runs start at once.
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
DEV_STAMP := $(VENV)/.installed-dev-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
PYTEST_ARGS ?= -n auto --dist loadgroup

.PHONY: run test test-fast lint bench screenshots install install-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	rm -f $(VENV)/.installed-[0-9]*
	touch $@

$(DEV_STAMP): $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@ $(STAMP)

install: $(STAMP)

install-dev: $(DEV_STAMP)

run: $(STAMP)
	$(BIN)/luister demo

test: $(DEV_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The same suite without the tests marked slow (over 5 s each: real processes, training).
test-fast: $(DEV_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS) -m "not slow"

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(DEV_STAMP)
	$(BIN)/python -m bench.ingest

# Screenshots of every desk screen in English and Dutch, into docs/screens/ (needs chromium).
screenshots: $(DEV_STAMP)
	$(BIN)/python -m scripts.desk_screenshots

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info luister-demo.db*
