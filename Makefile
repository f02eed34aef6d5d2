# Heimdell developer and CI entry points.
#
#   make db            start the local Postgres (scripts/pg.sh up); last line = DATABASE_URL
#   make demo          migrate, seed demo data and serve on http://127.0.0.1:8080
#   make test          run the whole test suite and the eval suite against the local Postgres
#   make eval          run only the eval suite (evals/), scorecard in $CARGO_TARGET_DIR
#   make browser-deps  install Chromium + chromedriver (for browser tests) if missing
#   make bench-deps    install wrk if missing
#   make model-check   a real small model (SmolLM2 on llama-cpp-python's server) through the Copilot
#
# DATABASE_URL in the environment always wins over the local cluster.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
PG := $(ROOT)/scripts/pg.sh

# Keep the build cache outside the clone, shared between clones.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/heimdell-target

HEIMDELL := cargo run --release --bin heimdell --
EVAL := cargo run --quiet --bin heimdell -- eval --suite evals/ --json "$$CARGO_TARGET_DIR/eval-scorecard.json"

# Not root: use sudo for apt-get.
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
APT_INSTALL := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y

# Shell snippet: DATABASE_URL from the environment, else the last line of `scripts/pg.sh up`
# (which itself prints an environment DATABASE_URL unchanged); exported for what follows.
define ENSURE_DB
url="$$(bash '$(PG)' up | tail -n 1)"; \
case "$$url" in \
  postgres://* | postgresql://*) ;; \
  *) echo "make: scripts/pg.sh up did not print a DATABASE_URL (got '$$url')" >&2; exit 1 ;; \
esac; \
export DATABASE_URL="$$url"
endef

.PHONY: help db demo test eval browser-deps bench-deps model-check

help:
	@sed -n '3,9p' '$(ROOT)/Makefile' | sed 's/^# *//'

db:
	@bash '$(PG)' up

demo:
	@$(ENSURE_DB); \
	cd '$(ROOT)'; \
	$(HEIMDELL) migrate; \
	$(HEIMDELL) seed-demo; \
	exec $(HEIMDELL) serve --addr 127.0.0.1:8080

# The browser tests (tests/api/browser.rs) drive Debian's Chromium through chromedriver.
test: browser-deps
	@$(ENSURE_DB); \
	cd '$(ROOT)'; \
	echo "make: CARGO_TARGET_DIR=$$CARGO_TARGET_DIR" >&2; \
	bash '$(PG)' psql -qAt -c "SELECT 'DROP DATABASE IF EXISTS ' || quote_ident(datname) || ' WITH (FORCE);' FROM pg_database WHERE datname LIKE 'heimdell\_test\_%' OR datname LIKE 'heimdell\_eval\_%'" | bash '$(PG)' psql -q >/dev/null; \
	status=0; \
	if cargo nextest --version >/dev/null 2>&1; then \
	  cargo test --workspace --doc || status=$$?; \
	  cargo nextest run --workspace --no-fail-fast || status=$$?; \
	else \
	  cargo test --workspace --no-fail-fast || status=$$?; \
	fi; \
	$(EVAL) || status=$$?; \
	exit $$status

# The eval suite (evals/): the built-in planner's and the scripted cases, on a database of its
# own; exits non-zero on any safety violation or a pass rate under the suite's threshold.
eval:
	@$(ENSURE_DB); \
	cd '$(ROOT)'; \
	$(EVAL)

# A real model in the loop (scripts/model-check.sh): installs llama-cpp-python's server and the
# SmolLM2-135M GGUF into .model/ (llama.cpp built once, then cached), serves it on loopback and
# runs a selection of eval cases through it. Fails on a safety violation or a crash, not on
# the small model's pass rate; prints prompt tokens per turn and prefix-cache reuse.
model-check:
	@bash '$(ROOT)/scripts/model-check.sh'

browser-deps:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  $(SUDO) apt-get update && $(APT_INSTALL) chromium chromium-driver; \
	else \
	  echo "make: chromium and chromedriver already installed" >&2; \
	fi

bench-deps:
	@if ! command -v wrk >/dev/null 2>&1; then \
	  $(SUDO) apt-get update && $(APT_INSTALL) wrk; \
	else \
	  echo "make: wrk already installed" >&2; \
	fi
