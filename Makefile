# Every target sets up what it needs on a fresh machine: uv, the virtual env, the terraform toolchain.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .cache/uv-tool
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))
export UV_PYTHON_DOWNLOADS := never
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help setup toolchain test lint typecheck pytest local bench format clean

help:
	@echo "make local   run the whole service on this machine (http://127.0.0.1:8080)"
	@echo "make test    set everything up, then ruff, mypy --strict and pytest"
	@echo "make bench   benchmarks with figures (not part of the tests)"

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet "uv==$(UV_VERSION)"

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --python $(PYTHON) --quiet
	@touch $@

setup: $(VENV)/.synced toolchain

toolchain: $(VENV)/.synced
	$(BIN)/python -m provisioner.toolchain

lint: $(VENV)/.synced
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.synced
	$(BIN)/mypy .

pytest: setup
	$(BIN)/pytest

test: setup lint typecheck pytest

local: setup
	$(BIN)/python -m provisioner.local

bench: setup
	$(BIN)/python -m benchmarks

format: $(VENV)/.synced
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) $(TOOLS) .toolchain cdk.out .mypy_cache .ruff_cache .pytest_cache
