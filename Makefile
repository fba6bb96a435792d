# The two commands a newcomer needs: `make demo` and `make test`. Both build .venv on first use.
# `make check` is the fast loop while working: lint, import contracts and every test that needs
# no broker or server.
PYTHON ?= python3
# pytest processes (pytest-xdist): one per CPU. Most integration tests wait on workers, brokers
# and clocks, so two processes on this project's 2 CPUs nearly halve `make test` (README.md).
# `make test WORKERS=0` runs in one process.
WORKERS ?= auto
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test check lint bench schemas clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,chart,feeds,embedded]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/vendorwatch demo $(ARGS)

check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/pytest -m "not integration" -n $(WORKERS) $(PYTEST_ARGS)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/pytest --durations=15 -n $(WORKERS) $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

schemas: $(STAMP)
	$(BIN)/vendorwatch schemas export schemas/json

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
