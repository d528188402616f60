# make demo  - set everything up, then train, pack, save and serve the iris classifier
# make test  - set everything up (Python packages, and Debian's Chromium for the browser
#              test), then run the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup system-deps demo test lint bench clean

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

test: setup system-deps
	$(BIN)/ruff check bentonb tests bench
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check bentonb tests bench

clean:
	rm -rf $(VENV) .pytest_cache
