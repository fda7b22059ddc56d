# Every target is safe to re-run: the venv is (re)built only when pyproject.toml or the
# lock file changes.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Exact versions with hashes of every dependency (`make lock` refreshes them from
# pyproject.toml's ranges); requirements.lock is the runtime subset Procfile platforms use.
LOCK := requirements-dev.lock
UV_COMPILE := $(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes --quiet

.PHONY: run test test-quick lint demo clean lock

$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# Re-resolve the newest versions pyproject.toml allows into both lock files.
# The runtime lock is resolved at the dev lock's versions, so both install the same thing.
lock: $(STAMP)
	$(BIN)/python -m pip install --quiet uv
	$(UV_COMPILE) --extra dev -o requirements-dev.lock
	$(UV_COMPILE) -c requirements-dev.lock -o requirements.lock

# Broker on 9092, WebHDFS on 9870, worker, clock and web (see docs/cli.md), run by
# devstack.run (honcho's manager): Ctrl-C stops the dev services last and waits up to
# DEV_STOP_GRACE_SECONDS. Unbuffered Python so each process's lines show as written.
run: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" PYTHONUNBUFFERED=1 $(BIN)/python -m devstack.run -f Procfile.dev

# Test files run in TEST_PROCESSES processes (pytest-xdist; each has its own dev
# services on free ports): a scenario mostly waits, so two share two cores well.
# TEST_PROCESSES=0 runs everything in this process.
TEST_PROCESSES ?= 2
XDIST := -n $(TEST_PROCESSES) --dist loadfile

test: $(STAMP)
	$(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS)

# Everything but the long scenario tests (marked `slow`): the quick loop while developing.
test-quick: $(STAMP)
	$(BIN)/python -m pytest $(XDIST) -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

demo: $(STAMP)
	$(BIN)/wordstream demo

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
