# rollcal — `make demo` serves the demo, `make test` runs the tests on SQLite and PostgreSQL.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-sqlite test-postgresql lint format install clean bench

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev,prod]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/rollcal demo

test: test-sqlite test-postgresql

test-sqlite: $(STAMP)
	ROLLCAL_TEST_DATABASE=sqlite $(BIN)/pytest -q

test-postgresql: $(STAMP)
	ROLLCAL_TEST_DATABASE=postgresql $(BIN)/pytest -q

# Figures, not assertions: each script prints its measurements beside a baseline of the same run.
bench: $(STAMP)
	$(BIN)/python benchmarks/agreement.py
	$(BIN)/python benchmarks/pages.py
	$(BIN)/python benchmarks/board.py
	$(BIN)/python benchmarks/reports.py
	$(BIN)/python benchmarks/calibration.py
	$(BIN)/python benchmarks/diagnosis.py --quick
	$(BIN)/python benchmarks/inputs.py
	$(BIN)/python benchmarks/drift.py
	$(BIN)/python benchmarks/models.py
	$(BIN)/python benchmarks/scorecards.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) build *.egg-info
