# gaze: the two entry points are `make run` and `make test` (see README.md).
SHELL := /bin/bash
CARGO ?= cargo
VIDEO ?= testdata/webcam/webcam_cap12_t18-28s_640x480_25fps.mp4

.PHONY: run test deps deps-test lint test-rust

## Installs what is needed, then runs the main job.
run: deps
	$(CARGO) run --release -p gaze-examples --bin track -- $(VIDEO)

## Installs what is needed, then runs every check and test.
test: deps-test lint test-rust

deps:
	scripts/setup.sh base

deps-test:
	scripts/setup.sh test

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test-rust:
	$(CARGO) test --workspace
