# The two commands of the README: `make run` (install, then the web app and the worker), `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test install install-test lint format

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test]"

run: install
	@test -f .env || (cp .env.example .env && echo "created .env from .env.example: edit it to set your name, zone and SMTP")
	$(BIN)/followup migrate
	$(BIN)/followup serve --with-worker

# Branch coverage of service/, subprocesses included; fails below the floor in pyproject.toml.
test: install-test
	$(BIN)/pytest -n 2 --cov --cov-report=term-missing:skip-covered

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy service

format: install-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
