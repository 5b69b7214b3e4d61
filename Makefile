# The two commands of the Quick start: `make up` and `make test`. Both do all set-up first
# (deploy/host/setup.sh: Docker engine, Python environment, proxy, teaching image), idempotently.
SHELL := /bin/bash
VENV ?= .venv
PYTEST_ARGS ?=
# the suite runs in this many pytest-xdist workers, a test file to each (the integration and
# browser tiers mostly wait on containers and hubs; two workers halve the wall time on 2 cores)
TEST_WORKERS ?= 2
# the environment's programs first: Node.js, when set-up installed it there (ensure-node.sh)
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: up test setup setup-test lint format bench

up: setup
	$(VENV)/bin/launcher up $(if $(CONFIG),--config $(CONFIG))

# then, alone, the tests marked serial (they restart the Docker engine under everyone)
test: setup-test
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadfile -m "not serial" $(PYTEST_ARGS)
	$(VENV)/bin/pytest -m serial $(PYTEST_ARGS)

setup:
	bash deploy/host/setup.sh

setup-test:
	bash deploy/host/setup.sh --test

lint:
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format:
	$(VENV)/bin/ruff check --fix . && $(VENV)/bin/ruff format .

# Benchmarks are not part of `make test`; each prints its figures.
bench: setup-test
	$(VENV)/bin/python -m tests.bench.bench_allocator
