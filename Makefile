# Set-up happens on demand: `make test` and `make demo` create .venv and install the package.
# TORCH pins the CPU wheel that lies on this project's machines; users with a GPU may set
# TORCH="torch" (or any CUDA build) — the package itself only asks for torch>=2.2.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin

.PHONY: setup test lint format demo bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $@

lint: setup
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/ruff format --check src tests benchmarks tools

format: setup
	$(BIN)/ruff check --fix src tests benchmarks tools
	$(BIN)/ruff format src tests benchmarks tools

test: lint
	$(BIN)/pytest -q

# The main job: synthetic data → cache → LOSO training → results → one prediction.
demo: setup
	$(BIN)/mol demo --out demo-out

bench: setup
	$(BIN)/mol bench --batch 4

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache demo-out
