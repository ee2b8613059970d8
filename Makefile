# The commands the README names. `make run` and `make test` do all of their own set-up.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
FAKE_PORT ?= 8765
OIDC_PORT ?= 9000
# What `make run` passes its task worker: look for new tasks every 0.1 s (django-tasks-db's
# default is 1 s), so a bulk import starts sending promptly. bench/bulk_import.py reads this line.
WORKER_OPTIONS := --interval 0.1
# How many task workers `make run` starts: two, so that a bulk import sends from both (each
# claims its own chunks of the file; SEGADMIN_BULK_PARALLEL, 2 by default, is how many of them
# one import may use). bench/bulk_import.py reads this line too.
WORKERS := 2

.DEFAULT_GOAL := help
.PHONY: help run demo test lint format check fake oidc-provider install install-dev clean FORCE

help:
	@echo "make run    set everything up and serve the dashboard on http://$(HOST):$(PORT)"
	@echo "make demo   the same, sending to the local fake of Segment instead of Segment"
	@echo "make test   run the whole test suite"
	@echo "make lint   ruff, formatting, mypy, djLint, the layers (lint-imports) and migration checks"
	@echo "make fake   run only the local fake of Segment on port $(FAKE_PORT)"
	@echo "make oidc-provider   the tests' OpenID Connect provider on port $(OIDC_PORT), to try single sign-on"

# The virtualenv is rebuilt only when the requirements change.
$(VENV)/.installed: requirements.txt
	@test -x $(PY) || { interpreter=$$(scripts/find-python) && "$$interpreter" -m venv $(VENV); }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Writes .env on the first run; later runs only add a key an older .env lacks.
.env: FORCE
	@$(PY) scripts/make_env.py .env

FORCE:

install: $(VENV)/.installed node_modules/.installed
install-dev: $(VENV)/.installed-dev node_modules/.installed

run: install .env
	$(PY) manage.py migrate --no-input
	$(PY) manage.py ensure_admin --host $(HOST) --port $(PORT)
	@# django-tasks-db does not re-run the task of a worker that died: pick those imports up.
	$(PY) manage.py bulk_resume
	@# Queues the periodic jobs' runner (audit checkpoints...) unless it is queued already.
	$(PY) manage.py start_periodic_jobs
	@echo "Serving the dashboard on http://$(HOST):$(PORT)/ with $(WORKERS) task workers; Ctrl-C stops them all."
	@workers=""; for i in $$(seq $(WORKERS)); do \
		$(PY) manage.py db_worker $(WORKER_OPTIONS) & workers="$$workers $$!"; \
	done; \
	trap 'kill $$workers 2>/dev/null; wait $$workers 2>/dev/null' EXIT INT TERM; \
	$(PY) manage.py runserver $(HOST):$(PORT)

# The dashboard, sending to the local fake of Segment: try everything without a Segment account.
demo: install .env
	@$(PY) manage.py fake_segment --port $(FAKE_PORT) --seed-demo & fake=$$!; \
	trap 'kill $$fake 2>/dev/null' EXIT INT TERM; \
	SEGMENT_TRACKING_API_URL=http://127.0.0.1:$(FAKE_PORT) \
	SEGMENT_PUBLIC_API_URL=http://127.0.0.1:$(FAKE_PORT) \
	SEGMENT_PROFILES_API_URL=http://127.0.0.1:$(FAKE_PORT) \
	SEGADMIN_FAKE_SEGMENT_URL=http://127.0.0.1:$(FAKE_PORT) \
	$(MAKE) --no-print-directory run

fake: install .env
	$(PY) manage.py fake_segment --port $(FAKE_PORT)

# The tests' OpenID Connect provider (npm oidc-provider), to try single sign-on by hand.
oidc-provider: node_modules/.installed
	node tests/oidc/provider.mjs --port $(OIDC_PORT)

# The suite runs in one process per core (pytest-xdist), at most TEST_WORKERS_MAX of them, each
# with its own test database; TEST_WORKERS=0 runs it in this process (for pdb, or one test).
TEST_WORKERS ?= auto
TEST_WORKERS_MAX ?= 4
test: install-dev
	$(PY) -m pytest -n $(TEST_WORKERS) --maxprocesses $(TEST_WORKERS_MAX) $(PYTEST_ARGS)

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	SEGADMIN_ENV_FILE=none DEBUG=true $(VENV)/bin/mypy
	$(VENV)/bin/djlint --lint templates
	$(VENV)/bin/lint-imports
	SEGADMIN_ENV_FILE=none DEBUG=true $(PY) manage.py makemigrations --check --dry-run

format: install-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) node_modules staticfiles .pytest_cache .ruff_cache .mypy_cache
