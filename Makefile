PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test test-fast demo lint format bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

# everything, as CI runs it
test: $(STAMP)
	$(BIN)/python -m pytest -q

# the fast loop: everything but the sampling-heavy tests (marked slow)
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

demo: $(STAMP)
	$(BIN)/bayesmixed primer --out report --draws 500

lint: $(STAMP)
	$(BIN)/ruff check bayesmixed tests benchmarks notebooks docs
	$(BIN)/ruff format --check bayesmixed tests benchmarks notebooks docs

format: $(STAMP)
	$(BIN)/ruff format bayesmixed tests benchmarks notebooks docs
	$(BIN)/ruff check --fix bayesmixed tests benchmarks notebooks docs

bench: $(STAMP)
	$(BIN)/python benchmarks/reml_speed.py

clean:
	rm -rf $(VENV) report
