# Two commands that work on a fresh machine with only Python 3.11 and pip:
#   make run    create .venv, install, evaluate the incidents in examples/
#   make test   create .venv with the dev extras, run the whole suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test check clean bench fuzz

# pip compiles what it installs one file at a time; compileall does it on every core (about 8 s less on
# two). Bytecode is written here once, so that no test process compiles a dependency on import.
$(BIN)/irmer: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-compile -e '.[dev]'
	$(BIN)/python -m compileall -q -j 0 $(VENV)/lib evaluator > /dev/null
	touch $@

run: $(BIN)/irmer
	$(BIN)/irmer check
	$(BIN)/irmer evaluate --format text examples/incidents.json

# pytest on every core (pytest-xdist); the tests that share a language server or an installed
# wheel stay on one worker (tests/conftest.py). The fuzz suite runs briefly here. `irmer check`,
# `irmer test`, `irmer lint` and `irmer fmt --check` on the shipped criteria are tests too
# (tests/test_gates.py): they run beside the rest, not before it.
PYTEST_WORKERS ?= -n auto --dist loadgroup

# Bytecode is written even where the environment says not to (PYTHONDONTWRITEBYTECODE empty is unset):
# the tests start `irmer` in subprocesses dozens of times, and each one compiling the package from source
# costs more than a second; pytest's rewritten test modules are kept the same way.
test: $(BIN)/irmer
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest $(PYTEST_WORKERS) --durations=15

# The fuzz suite with the long hypothesis profile (FUZZ_PROFILE=dev for the brief one).
FUZZ_PROFILE ?= fuzz

fuzz: $(BIN)/irmer
	PYTHONDONTWRITEBYTECODE= HYPOTHESIS_PROFILE=$(FUZZ_PROFILE) $(BIN)/python -m pytest tests/fuzz $(PYTEST_WORKERS) --durations=15 --timeout=3600

bench: $(BIN)/irmer
	$(BIN)/python bench/bench_engine.py
	$(BIN)/python bench/bench_columnar.py
	$(BIN)/python bench/bench_service.py
	$(BIN)/python bench/bench_audit.py
	$(BIN)/python bench/bench_spark_split.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
