# Two commands that work on a fresh machine with only Python 3.11 and pip:
#   make run    create .venv, install, evaluate the incidents in examples/
#   make test   create .venv with the dev extras, run the whole suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test check clean bench

$(BIN)/irmer: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: $(BIN)/irmer
	$(BIN)/irmer check
	$(BIN)/irmer evaluate --format text examples/incidents.json

test: $(BIN)/irmer
	$(BIN)/irmer check
	$(BIN)/irmer test
	$(BIN)/irmer lint
	$(BIN)/irmer fmt --check criteria/*.irmer
	$(BIN)/python -m pytest

bench: $(BIN)/irmer
	$(BIN)/python bench/bench_evaluate.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
