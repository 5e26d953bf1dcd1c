# The one entry point of the project. Every target works on a fresh clone: each depends on what it needs
# (./.venv, ./node_modules: the Prism tests of pytest and contract use it) and creates it.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
# The supported Pythons (pyproject's requires-python and classifiers name the same): the full suite runs on the
# oldest, in .venv; the unit and integration tiers on each newer one, in .venv-X.Y, built from the same
# constraints. scripts/find_python.sh finds each interpreter, or fails naming the one that is missing.
OLDEST_PYTHON := 3.11
NEWER_PYTHONS := 3.12 3.13
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: help venv demo test lint lint-spec generate check-generated check-wheel docs pytest pytest-oldest-tiers pytest-oldest-rest pytest-newer pytest-all lock bench contract contract-deep drift soak mutate figures chromium screenshots

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(VENV_STAMP): pyproject.toml constraints.txt
	test -x $(PY) || { python=$$(scripts/find_python.sh $(OLDEST_PYTHON)) && "$$python" -m venv $(VENV); }
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

venv: $(VENV_STAMP) ## Create .venv with the project and its development tools

# The browser tests drive Debian's Chromium (Playwright's own browser download needs a network we do not
# assume). Nothing to do when `chromium` is on PATH; otherwise apt installs it (as root, about 2.5 minutes).
chromium: ## Install Debian's Chromium for the browser tests, unless it is on PATH already
	@command -v chromium >/dev/null || { \
	  echo "chromium is not on PATH: installing Debian's chromium for tests/browser"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

demo: $(VENV_STAMP) ## Start the emulator, send a real message through the wrapper and the CLI, stop
	$(PY) scripts/demo.py

test: lint-spec check-generated lint pytest-all drift check-wheel ## Everything CI checks
	@echo "make test: all checks passed"

lint-spec: $(VENV_STAMP) $(NODE_STAMP) ## openapi-spec-validator, Spectral (spectral:oas) and Redocly: zero problems
	scripts/lint_spec.sh

generate: $(VENV_STAMP) ## Regenerate generated/dms_rocketmq_api from openapi.yaml
	scripts/generate.sh

check-generated: $(VENV_STAMP) ## Fail when generated/ differs from what openapi.yaml generates
	scripts/check_generated.sh

lint: $(VENV_STAMP) ## ruff (lint and format) and mypy --strict on wrapper/ and emulator/
	ruff check .
	ruff format --check .
	mypy

pytest: $(VENV_STAMP) $(NODE_STAMP) chromium ## The pytest suite: unit, integration, contract, interop, reliability and browser tiers
	$(PY) -m pytest

# .venv-3.12/.installed and so on: a venv of that Python, the project and its tools at the pinned versions.
# Precious: made by a pattern rule, make would otherwise delete the stamp after each run and reinstall.
.PRECIOUS: .venv-%/.installed
.venv-%/.installed: pyproject.toml constraints.txt
	test -x .venv-$*/bin/python || { python=$$(scripts/find_python.sh $*) && "$$python" -m venv .venv-$*; }
	.venv-$*/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $@

# Its own venv's tools first on PATH (ruff for generation, the console scripts a test starts).
pytest-%: .venv-%/.installed $(NODE_STAMP)
	PATH=$(CURDIR)/.venv-$*/bin:$$PATH .venv-$*/bin/python -m pytest -q tests/unit tests/integration

# The newer Pythons' tiers run at the same time, each in its own process and venv, their output kept apart
# (--output-sync): much of a tier is waiting on servers and subprocesses, so two overlap well on two cores.
pytest-newer: ## The unit and integration tiers on each newer supported Python
	$(MAKE) --no-print-directory -j $(words $(NEWER_PYTHONS)) --output-sync=target $(addprefix pytest-,$(NEWER_PYTHONS))

# The full suite on the oldest Python in two halves that run at the same time: the unit and integration tiers,
# and every other tier (whatever testpaths holds besides those two, so a new tier is never left out).
pytest-oldest-tiers: $(VENV_STAMP) $(NODE_STAMP)
	$(PY) -m pytest -q tests/unit tests/integration

pytest-oldest-rest: $(VENV_STAMP) $(NODE_STAMP) chromium
	$(PY) -m pytest -q --ignore=tests/unit --ignore=tests/integration

# What `make test` runs: the full suite on the oldest Python (in its two halves) and the newer Pythons' tiers,
# all at once. The suite waits on servers and subprocesses most of the time (a load average near 1 on two
# cores when one run is alone), so four runs side by side take little longer than the longest; the full
# suite as one run was the longest by five minutes, with a core idle once the newer Pythons' tiers ended.
pytest-all: ## The full suite on the oldest Python and the unit and integration tiers on each newer one, side by side
	$(MAKE) --no-print-directory -j 4 --output-sync=target pytest-oldest-tiers pytest-oldest-rest $(addprefix pytest-,$(NEWER_PYTHONS))

contract: $(VENV_STAMP) $(NODE_STAMP) ## schemathesis contract suite (fixed seed): the emulator, or the instance DMS_CONTRACT_* names
	$(PY) -m pytest -o timeout=0 tests/contract

contract-deep: $(VENV_STAMP) $(NODE_STAMP) ## Longer contract run: 2000 examples, a new random seed each time (minutes)
	DMS_CONTRACT_MAX_EXAMPLES=$${DMS_CONTRACT_MAX_EXAMPLES:-2000} DMS_CONTRACT_SEED=$${DMS_CONTRACT_SEED:-random} \
	  $(PY) -m pytest -o timeout=0 tests/contract/test_send_message_contract.py

drift: $(VENV_STAMP) ## Replay the reference corpus (the API reference's documented answers) against the emulator; fails on a new divergence
	$(PY) -m dms_rocketmq_emulator drift tests/contract/corpus/reference.har --known tests/contract/known-differences.toml

check-wheel: $(VENV_STAMP) ## Build the wheel, install it in a new venv, import it, run both console scripts
	scripts/check_wheel.sh

screenshots: $(VENV_STAMP) chromium ## Retake the console's screenshots (browser tests) and copy them to docs/
	$(PY) -m pytest -q tests/browser/test_console.py -k screenshots
	cp build/screenshots/console-overview.png build/screenshots/console-query.png \
	  build/screenshots/console-detail.png docs/

docs: $(NODE_STAMP) ## Render build/api-reference.html from openapi.yaml (not committed)
	REDOCLY_TELEMETRY=off node_modules/.bin/redocly build-docs openapi.yaml --config redocly.yaml \
	  --output build/api-reference.html

bench: $(VENV_STAMP) ## Throughput vs Huawei's SDK and the raw limits, and the CLI on a million lines (minutes, see docs/performance.md; BENCH_ARGS=--quick: smoke run)
	$(PY) bench/run.py $(BENCH_ARGS)

soak: $(VENV_STAMP) ## Crash test (10 SIGKILL cycles), 64 senders for 30 s, 200 on 128 connections; scripts/results/
	mkdir -p scripts/results
	$(PY) scripts/crash_test.py --cycles $(or $(CRASH_CYCLES),10) --seconds 5 --json scripts/results/crash_test.json
	$(PY) scripts/soak.py --seconds $(or $(SOAK_SECONDS),30) --senders 64 --json scripts/results/soak.json
	$(PY) scripts/soak.py --seconds 8 --senders 200 --json scripts/results/soak_pool_overflow.json

figures: $(VENV_STAMP) ## Rewrite the figure tables in README.md and docs/ from the results files (bench, soak)
	$(PY) scripts/figures.py

mutate: $(VENV_STAMP) ## Mutation testing (mutmut) of signer, validation, retry, bulk, verifier, models, store; score in mutation/results.json (slow)
	$(PY) scripts/mutate.py $(MUTATE_ARGS)

lock: $(VENV_STAMP) ## Rewrite constraints.txt from what .venv has now (after changing pyproject.toml)
	{ echo "# Exact versions for .venv (make venv / make test). Refresh with: make lock"; \
	  $(PY) -m pip freeze --exclude-editable | grep -v -E '^(-e|dms-rocketmq)'; } > constraints.txt.new
	mv constraints.txt.new constraints.txt
