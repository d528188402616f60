# make demo       - set everything up, then train, pack, save and serve the iris classifier
# make test       - set everything up (Python packages, and the Debian packages the
#                   container and browser tests drive), lint, then run the whole test suite
# make test-fast  - lint, then every test not marked slow (no containers, browser or
#                   notebook runs): the inner loop, a few minutes
# make lint       - ruff, and the import contracts of .importlinter (lint-imports)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup system-deps demo test test-fast lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e ".[test]" 2>&1 | grep -v "^WARNING: Location" || true
	KERAS_BACKEND=torch $(BIN)/python -c "import bentonb, sklearn, torch, spacy, xgboost, keras"
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/python -m bentonb.demo

system-deps:
	bash scripts/install-system-deps.sh

# Bytecode compiled once up front: the suite starts many servers, and with
# PYTHONDONTWRITEBYTECODE set each would compile bentonb again.
test: setup system-deps lint
	$(BIN)/python -m compileall -q bentonb
	$(BIN)/python -m pytest

test-fast: setup lint
	$(BIN)/python -m compileall -q bentonb
	$(BIN)/python -m pytest -m "not slow"

lint: setup
	$(BIN)/ruff check bentonb tests bench
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache
