# flyte-lineage: the two commands a user needs are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.8
STAMP := $(VENV)/.installed

.PHONY: venv test lint unit demo airflow bench clean

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements-dev.txt
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

lint: venv
	$(BIN)/ruff check plugins dags tests bench include
	$(BIN)/ruff format --check plugins dags tests bench include
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/hadolint Dockerfile

test: lint flytekit-venv
	$(BIN)/python -m pytest

demo: venv
	$(BIN)/python -m include.demo

airflow: venv
	$(BIN)/python -m include.airflow_ui

bench: venv
	$(BIN)/python -m bench.decode
	$(BIN)/python -m bench.drain
	$(BIN)/python -m bench.pipeline

clean:
	rm -rf $(VENV) $(FK_VENV) .local .demo .pytest_cache .mypy_cache .ruff_cache

# Test-only venv with the real flytekit, which writes the fixtures of tests/flytekit_fixtures/ (its botocore pin
# differs from the runtime one, so it never shares the runtime venv).
FK_VENV := .venv-flytekit
FK_STAMP := $(FK_VENV)/.installed
.PHONY: flytekit-venv

flytekit-venv: $(FK_STAMP)

$(FK_STAMP): requirements-flytekit.txt | $(STAMP)
	test -x $(FK_VENV)/bin/python || $(BIN)/uv venv --quiet --python $(PYTHON) $(FK_VENV)
	$(BIN)/uv pip install --quiet --python $(FK_VENV)/bin/python -r requirements-flytekit.txt
	touch $(FK_STAMP)
