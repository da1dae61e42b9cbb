# gaze: the two entry points are `make run` and `make test` (see README.md).
SHELL := /bin/bash
CARGO ?= cargo
VIDEO ?= testdata/webcam/webcam_cap12_t18-28s_640x480_25fps.mp4

.PHONY: run test deps deps-test lint test-rust test-web loadtest

## Installs what is needed, then runs the main job: gaze-server with its own local
## redis-server (AOF, data in ./data/redis) and the web UI at http://127.0.0.1:8000.
## Extra server flags: make run SERVER_ARGS="--admin-user alice"  (see gaze-server --help).
SERVER_ARGS ?=
run: deps
	$(CARGO) run --release -p gaze-server --bin gaze-server -- --bind 127.0.0.1:8000 --data-dir data/redis $(SERVER_ARGS)

## Installs what is needed, then runs every check and test.
test: deps-test lint test-rust test-web

deps:
	scripts/setup.sh base

deps-test:
	scripts/setup.sh test

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test-rust:
	$(CARGO) test --workspace

## Browser end-to-end test of the web UI (headless Chromium + playwright-core, ~15 s).
test-web:
	$(CARGO) build -p gaze-server --bin gaze-server
	cd gaze-server/tests/web && { [ -d node_modules/playwright-core ] || npm install --no-audit --no-fund --silent; } && node e2e.mjs

## WebSocket load test (not part of `make test`): N concurrent clients at 15 fps.
loadtest:
	$(CARGO) run --release -p gaze-server --bin gaze-loadtest -- --clients 1,10,25,50
