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

.PHONY: up test setup setup-test lint format bench i18n i18n-extract docs

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

# The documentation (docs/: Sphinx + MyST); any warning fails the build. Open
# docs/_build/html/index.html. Needs the environment of `make up` or `make test`.
docs:
	$(VENV)/bin/sphinx-build -W --keep-going -b html docs docs/_build/html

# Benchmarks are not part of `make test`; each prints its figures.
bench: setup-test
	$(VENV)/bin/python -m tests.bench.bench_allocator

# Translations: extract every marked sentence into launcher/locale/{hub,pages}.pot and update
# each language's catalog (launcher/locale/zh_CN/LC_MESSAGES/*.po); then translate the new
# entries (tests/unit/test_i18n.py lists the missing ones).
I18N_LANGS = zh_CN
BABEL = $(VENV)/bin/pybabel
BABEL_FLAGS = -k N_ --no-location --sort-output --project launcher
POT_DIR ?= launcher/locale
i18n-extract:
	$(BABEL) -q extract $(BABEL_FLAGS) -F babel-hub.cfg --ignore-dirs 'services .* _*' \
		-o $(POT_DIR)/hub.pot launcher
	$(BABEL) -q extract $(BABEL_FLAGS) -F babel-pages.cfg -o $(POT_DIR)/pages.pot \
		launcher/services

i18n: i18n-extract
	for lang in $(I18N_LANGS); do for domain in hub pages; do \
		if [ -f launcher/locale/$$lang/LC_MESSAGES/$$domain.po ]; then \
			$(BABEL) -q update --no-fuzzy-matching -D $$domain -l $$lang \
				-i launcher/locale/$$domain.pot -d launcher/locale; \
		else \
			$(BABEL) -q init -D $$domain -l $$lang -i launcher/locale/$$domain.pot -d launcher/locale; \
		fi; done; done
