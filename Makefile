# hotdesk: `make run` serves, `make test` tests. Both create .venv and install into it as needed.
PYTHON ?= python3
VENV ?= .venv
BIND ?= $(or $(HOTDESK_BIND),0.0.0.0:8080)
# Set: the console and API get their own listener (say 127.0.0.1:8081) and BIND serves phones only.
ADMIN_BIND ?= $(HOTDESK_ADMIN_BIND)
WORKERS ?= 4
BIN = $(VENV)/bin

.PHONY: run test test-deps lint install install-test install-lint bench clean

# deploy/gunicorn.conf.py: the worker that keeps slow clients off its threads, no access log,
# no query strings in the error log.
GUNICORN = $(BIN)/gunicorn -c deploy/gunicorn.conf.py

run: $(VENV)/.installed
	$(BIN)/hotdesk init-db
ifeq ($(ADMIN_BIND),)
	exec $(GUNICORN) --bind $(BIND) --workers $(WORKERS) wsgi:app
else
	$(GUNICORN) --bind $(ADMIN_BIND) --workers 2 'hotdesk.app:create_app(faces="admin")' & admin=$$!; \
	trap 'kill $$admin 2>/dev/null' EXIT; \
	$(GUNICORN) --bind $(BIND) --workers $(WORKERS) 'hotdesk.app:create_app(faces="phones")'
endif

test: test-deps $(VENV)/.installed-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# What CI checks before the tests (.ci/run), and .pre-commit-config.yaml before a commit: formatting,
# ruff's rules (ruff.toml), types (mypy, pyproject.toml) and the import arrows (import-linter, pyproject.toml).
lint: $(VENV)/.installed-lint
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# sipp, nginx, openssl, Chromium, linphonec, kamailio (tests/tools.py): apt-get installs what is
# missing when root or sudo without a password allows, never prompting; else the tests needing them
# skip, listed at the end.
# TEST_DEPS=no: leave the machine alone.
TEST_DEPS ?= yes
test-deps:
ifneq ($(TEST_DEPS),no)
	@$(PYTHON) -m tests.tools
endif

# bench/README.md says what it measures; BENCH_ARGS="--phones 1000 --sizes 100,1000" for a quick run.
bench: $(VENV)/.installed
	$(BIN)/python -m bench $(BENCH_ARGS)

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test
install-lint: $(VENV)/.installed-lint

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

$(VENV)/.installed-lint: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[lint]'
	touch $@

clean:
	rm -rf $(VENV) *.egg-info
