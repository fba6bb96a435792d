# The two commands a newcomer needs: `make demo` and `make test`. Both build .venv on first use.
# `make check` is the fast loop while working: lint, import contracts and every test that needs
# no broker or server, each property test at a quarter of its examples (tests/examples.py).
PYTHON ?= python3
# pytest processes (pytest-xdist). `make test`: one per CPU and one more, because most
# integration tests spend much of their time waiting on workers, brokers and clocks, and a third
# process on 2 CPUs keeps both busy. `make check` is CPU-bound: one per CPU. README.md has the
# times. WORKERS=0 (or CHECK_WORKERS=0) runs in one process.
WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))
CHECK_WORKERS ?= auto
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
	VENDORWATCH_EXAMPLES=quick $(BIN)/pytest -m "not integration" -n $(CHECK_WORKERS) $(PYTEST_ARGS)

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
