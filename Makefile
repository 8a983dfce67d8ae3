# Each target creates .venv when missing and installs the project into it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export BETTING_HOME ?= $(CURDIR)/.betting_home
export DAGSTER_HOME ?= $(BETTING_HOME)/dagster
SANDBOX_PORT ?= 8765
DAGSTER_PORT ?= 3000
MLFLOW_PORT ?= 5000

.PHONY: demo test bench dev install clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/betting demo

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist worksteal --durations=30

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

dev: $(STAMP)
	$(BIN)/betting instance init
	$(BIN)/betting db upgrade
	@bash -c 'set -m; \
	  $(BIN)/betting sandbox serve --data betting_assets/data --port $(SANDBOX_PORT) --state $(BETTING_HOME)/sandbox.json & sandbox=$$!; \
	  MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false $(BIN)/mlflow ui --workers 1 --backend-store-uri sqlite:///$(BETTING_HOME)/mlflow.sqlite --port $(MLFLOW_PORT) & mlflow=$$!; \
	  trap "kill -- -$$sandbox -$$mlflow 2>/dev/null; wait $$sandbox $$mlflow 2>/dev/null" EXIT INT TERM; \
	  BETTING_ODDS_API_BASE_URL=http://127.0.0.1:$(SANDBOX_PORT) $(BIN)/dagster dev -w workspace.yaml -p $(DAGSTER_PORT)'

clean:
	rm -rf $(VENV) $(BETTING_HOME) .pytest_cache
