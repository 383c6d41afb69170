# The two commands of the README's quickstart. Each one creates .venv when missing and
# installs what it needs, so they work on a fresh clone with nothing but Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test

.PHONY: run chat test lint bench clean system-deps

# Debian packages some tests and tools use, installed once when missing (CI runs as root).
# chromium: the real browser tests/console drives (Playwright with executable_path).
# espeak-ng and sox: the voice tests' speech and conversion (issue 13).
SYSTEM_DEPS := graphviz:dot chromium:chromium espeak-ng:espeak-ng sox:sox
system-deps:
	@for pair in $(SYSTEM_DEPS); do pkg=$${pair%%:*}; cmd=$${pair##*:}; \
	  command -v $$cmd >/dev/null 2>&1 || { echo "installing $$pkg"; \
	    (apt-get install -y -q $$pkg >/dev/null 2>&1 || \
	     (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q $$pkg >/dev/null 2>&1)) || \
	    echo "warning: could not install $$pkg; tests needing $$cmd will skip"; }; \
	done

# XState, the reference tests/xstate runs statecharts against (issue 18): the versions pinned
# in tests/xstate/ref/v4 and ref/v5 (package.json, package-lock.json), installed with npm ci
# into their node_modules when missing or older than the lock, with the machine's Node.js.
# Nothing downloads while the tests run. Without Node.js those tests skip, except on CI.
XSTATE_REF := tests/xstate/ref
XSTATE_STAMPS := $(XSTATE_REF)/v4/node_modules/.installed $(XSTATE_REF)/v5/node_modules/.installed
.PHONY: xstate-ref
xstate-ref:
	@if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then \
	  $(MAKE) --no-print-directory $(XSTATE_STAMPS); \
	elif [ "$$CI" = true ]; then \
	  echo "error: Node.js (node, npm) is needed to run XState for tests/xstate"; exit 1; \
	else echo "warning: Node.js not found; the tests against XState (tests/xstate) will skip"; fi

$(XSTATE_REF)/%/node_modules/.installed: $(XSTATE_REF)/%/package.json $(XSTATE_REF)/%/package-lock.json
	cd $(XSTATE_REF)/$* && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[server]'
	touch $@

# The test extra pulls in the client, server, postgres and redis extras (pyproject.toml).
$(STAMP_TEST): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@ $(STAMP_RUN)

# The server on 127.0.0.1:8000 with every example model that validates (the others are
# logged and skipped), sessions and API keys in .dialoghub/server.db; a demo API key is made
# on first start (kept in .dialoghub/demo-key) and printed with a curl line to try.
# `make run PLUGINS=examples/weather/plugins.py` lets the server run those commands itself.
run: $(STAMP_RUN)
	mkdir -p .dialoghub
	$(BIN)/dialoghub serve --store sqlite:///.dialoghub/server.db --models 'examples/*/' \
		--host 127.0.0.1 --port 8000 --demo-key-file .dialoghub/demo-key \
		--agent $(or $(AGENT),examples/agent/rules.py) --workspace .dialoghub/workspace \
		$(if $(PLUGINS),--plugins $(PLUGINS))

# The weather assistant in the terminal (MODEL=... PLUGINS=... for another; /help inside).
MODEL ?= examples/weather/weather.yaml
chat: $(STAMP_RUN)
	$(BIN)/dialoghub chat $(MODEL) $(if $(PLUGINS),--plugins $(PLUGINS),$(if $(filter \
		examples/weather/weather.yaml,$(MODEL)),--plugins examples/weather/plugins.py))

# tests/xstate: 1000 generated machines x 50 events against XState (200 in a bare pytest run)
test: export DIALOGHUB_XSTATE_EXAMPLES ?= 1000

# The import contracts ([tool.importlinter] in pyproject.toml: the layers, what may import
# what) run after the suite, before the linters.
test: $(STAMP_TEST) system-deps xstate-ref
	$(BIN)/python -m pytest -q
	$(BIN)/lint-imports --no-cache --no-logo
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/mypy

bench: $(STAMP_TEST)
	$(BIN)/pip install -q -e '.[test,bench]'
	$(BIN)/python -m benchmarks.turns

# Mutation testing of the pure core (docs/testing.md; not part of `make test`): mutmut runs in
# a copy of the tree under build/mutation/ (so the checkout gets no mutants/ directory and
# edits made meanwhile do not mix in), MUTATION_JOBS workers at a time, then the score per
# module is printed. MUTANTS narrows it to some mutants: MUTANTS='dialoghub.model.conditions*'.
# Results are kept there: a second run only re-runs the mutants of functions that changed.
MUTATION_JOBS ?= 2
MUTANTS ?=
.PHONY: mutation mutants
mutation: $(STAMP_TEST)
	$(BIN)/pip install -q -e '.[test,mutation]'
	mkdir -p build/mutation
	cp -a src tests examples docs benchmarks README.md pyproject.toml build/mutation/
	cd build/mutation && ../../$(BIN)/mutmut run --max-children $(MUTATION_JOBS) $(MUTANTS) >mutmut.log 2>&1 \
	  || { tail -40 mutmut.log; exit 1; }
	cd build/mutation && ../../$(BIN)/python -m tests.mutation.scores --survivors
mutants: mutation

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
