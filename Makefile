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

.PHONY: help setup toolchain test unit lint typecheck pytest local bench soak format clean

help:
	@echo "make local   run the whole service on this machine (http://127.0.0.1:8080)"
	@echo "make test    set everything up, then ruff, mypy --strict and pytest"
	@echo "make unit    the fast lane: logic tests with no emulator, terraform or server (seconds)"
	@echo "make bench   benchmarks with figures (not part of the tests)"
	@echo "make soak    the long reliability variants (load for a minute, more fuzzing)"

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet "uv==$(UV_VERSION)"

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --python $(PYTHON) --quiet
	@touch $@

setup: $(VENV)/.synced toolchain

toolchain: $(VENV)/.synced
	$(BIN)/python -m tooling.toolchain

lint: $(VENV)/.synced
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.synced
	$(BIN)/mypy .

pytest: setup
	$(BIN)/pytest

test: setup lint typecheck pytest

# The fast lane: run it on every change. The whole suite (make test) before landing.
unit: $(VENV)/.synced
	$(BIN)/pytest tests/unit tests/cli -q -p no:cacheprovider -m "not emulator and not terraform and not local_server"

local: setup
	$(BIN)/python -m localmode

bench: setup
	$(BIN)/python -m benchmarks

# The long variants of tests/reliability: a minute of polling, eight times the fuzzing.
soak: setup
	SOAK=1 $(BIN)/pytest tests/reliability -p no:cacheprovider -s

format: $(VENV)/.synced
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) $(TOOLS) .toolchain cdk.out .mypy_cache .ruff_cache .pytest_cache

# --- installing into an AWS account (README: "Installing into an account") ----------------------
.PHONY: node-deps synth deploy destroy

CDK := node_modules/.bin/cdk
# jsii warns on every run that Node 20 is past its end of life; the CDK still works on it.
CDK_ENV := JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
# `make synth` never talks to AWS or to the CDK's own services: no credentials, notices or telemetry.
OFFLINE := env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN -u AWS_PROFILE \
	-u AWS_DEFAULT_PROFILE -u AWS_CONTAINER_CREDENTIALS_RELATIVE_URI -u AWS_CONTAINER_CREDENTIALS_FULL_URI \
	-u AWS_WEB_IDENTITY_TOKEN_FILE AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
	AWS_EC2_METADATA_DISABLED=true CDK_DISABLE_VERSION_CHECK=1 CDK_DISABLE_CLI_TELEMETRY=true

node-deps: node_modules/.installed

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

synth: $(VENV)/.synced node_modules/.installed
	$(OFFLINE) $(CDK_ENV) $(CDK) synth --no-notices --quiet

deploy: $(VENV)/.synced node_modules/.installed
	$(CDK_ENV) $(CDK) deploy --require-approval broadening $(CDK_ARGS)

destroy: $(VENV)/.synced node_modules/.installed
	$(CDK_ENV) $(CDK) destroy $(CDK_ARGS)
