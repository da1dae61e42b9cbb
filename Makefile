# gaze: the two entry points are `make run` and `make test` (see README.md).
SHELL := /bin/bash
CARGO ?= cargo
VIDEO ?= testdata/webcam/webcam_cap12_t18-28s_640x480_25fps.mp4
## The OpenVINO C library that scripts/setup.sh installs into .venv (PyPI `openvino`); gaze-core
## loads it at run time and falls back to OpenCV DNN without it. Set GAZE_OPENVINO_LIB yourself
## to use another installation.
OV_ENV = GAZE_OPENVINO_LIB="$${GAZE_OPENVINO_LIB:-$$(scripts/openvino-lib.sh)}"

.PHONY: run test publish-check deps deps-test lint docs test-rust test-web test-schemathesis loadtest test-python test-c bench-python fuzz install-cli bench-cli faults soak eval-activity train-activity wheel dist-c cluster loadtest-cluster test-cluster

## Installs what is needed, then runs the main job: gaze-server with its own local
## redis-server (AOF, data in ./data/redis) and the web UI at http://127.0.0.1:8000.
## Extra server flags: make run SERVER_ARGS="--admin-user alice"  (see gaze-server --help).
SERVER_ARGS ?=
run: deps
	$(OV_ENV) $(CARGO) run --release -p gaze-server --bin gaze-server -- --bind 127.0.0.1:8000 --data-dir data/redis --open $(SERVER_ARGS)

## Scale-out locally: a 3-master Redis Cluster, 3 gaze-server instances and HAProxy in
## front (deploy/haproxy.cfg); prints the URL (http://127.0.0.1:8080), Ctrl-C stops all.
## More instances / flags: make cluster CLUSTER_INSTANCES=4 SERVER_ARGS="--admin-user alice"
CLUSTER_INSTANCES ?= 3
cluster: deps
	$(CARGO) build --release -p gaze-server --bin gaze-server
	GAZE_CLUSTER_INSTANCES=$(CLUSTER_INSTANCES) GAZE_CLUSTER_ARGS="$(SERVER_ARGS)" scripts/cluster.sh

## gaze-loadtest through HAProxy against 1, 2 and 3 instances over one Redis Cluster, same
## run (not part of `make test`); prints each level's row, the CPU each process used, the
## instances' CPU-ms per frame and the engine each loaded (OpenVINO from .venv, as in `run`).
## Levels: make loadtest-cluster LOADTEST_CLIENTS=10,20,30 (see the script for the others).
loadtest-cluster: deps
	$(CARGO) build --release -p gaze-server --bins
	$(OV_ENV) scripts/loadtest-cluster.sh

## Installs what is needed, then runs every check and test.
test: deps-test lint docs test-rust test-web test-schemathesis test-python test-c publish-check
## A whole run builds each crate once: incremental caches would only cost disk (and time).
test: export CARGO_INCREMENTAL := 0

deps:
	scripts/setup.sh base

deps-test:
	scripts/setup.sh test

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## API docs of every workspace crate, warnings are errors (broken links, bad code blocks).
## After clippy, the dependencies' metadata is already built; this documents our crates only.
docs:
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps

## One feature set for every test stage: each cargo call below selects the whole workspace
## (`--workspace`, with `--test NAME` / `--no-run` to narrow what runs), so they all resolve
## the same features and profile as `cargo test --workspace` and reuse its artefacts
## (target/debug/gaze-server included) instead of recompiling OpenCV and gaze-core.
## `cargo build -p X` or `cargo test -p X` would resolve other features and rebuild.
TEST_BUILD = $(CARGO) test --workspace --no-run

## The vision tests run twice: on OpenVINO (auto, with the .venv library) and on OpenCV DNN.
test-rust:
	$(OV_ENV) $(CARGO) test --workspace
	GAZE_TEST_ENGINE=opencv $(CARGO) test --workspace --test vision

## The multi-instance tests alone (3-master Redis Cluster, three instances, HAProxy; they
## also run in test-rust): kill -9 of an instance mid-session, fencing of a frozen owner,
## resume events, fleet-wide login limit; prints the resume times, accounting lost and
## fencing figures (30–60 s).
test-cluster:
	$(OV_ENV) $(CARGO) test --workspace --test cluster -- --nocapture

## Browser end-to-end test of the web UI (headless Chromium + playwright-core, ~15 s).
test-web:
	$(TEST_BUILD)
	$(OV_ENV); export GAZE_OPENVINO_LIB; cd gaze-server/tests/web && { [ -d node_modules/playwright-core ] || npm install --no-audit --no-fund --silent; } && node e2e.mjs

## API fuzzing: schemathesis against /openapi.json of the debug gaze-server with its own
## redis-server (~15 s at the default 30 examples per operation; ST_MAX_EXAMPLES=300 for more).
test-schemathesis:
	$(TEST_BUILD)
	$(OV_ENV) gaze-server/tests/schemathesis/run.sh

## The `gaze` command-line tool into ~/.cargo/bin (release build; see README "Command-line tool").
install-cli: deps
	$(CARGO) install --locked --path cli

## Per-stage timings on this machine (release build): make bench-cli VIDEO=my.mp4
bench-cli: deps
	$(OV_ENV) $(CARGO) run --release -p gaze-cli --bin gaze -- bench $(VIDEO)

## WebSocket load test (not part of `make test`): N concurrent clients at 15 fps against a
## release gaze-server started as its own process (own redis-server, temporary data folder);
## prints round trips, dropped frames and that server process's CPU per frame.
## Levels: make loadtest LOADTEST_CLIENTS=10,50,60. In-process server instead:
## cargo run --release -p gaze-server --bin gaze-loadtest -- --clients 1,10,25,50
LOADTEST_CLIENTS ?= 1,10,25,50
loadtest: deps
	$(CARGO) build --release -p gaze-server --bins
	$(OV_ENV) $${CARGO_TARGET_DIR:-target}/release/gaze-loadtest --server-bin $${CARGO_TARGET_DIR:-target}/release/gaze-server --clients $(LOADTEST_CLIENTS)

## Python package: builds the manylinux wheel (dev profile, shares target/ with cargo test),
## bundles OpenCV into it, installs it into .venv and runs its pytest suite and the FastAPI
## example's (real redis-server) with the system OpenCV hidden from the loader (~2 min).
test-python:
	scripts/test-wheel.sh

## Portable Python wheel + sdist into target/wheels (release; OpenCV and its dependencies
## inside, manylinux tag checked by auditwheel). make wheel WHEEL_PROFILE=dev for a quick one.
WHEEL_PROFILE ?= release
wheel: deps-test
	scripts/wheel.sh --profile $(WHEEL_PROFILE) --sdist

## C library: committed header check, track_image.c against the .so and the .a, valgrind;
## then the distribution tarball alone (pkg-config, system OpenCV hidden, valgrind).
test-c:
	scripts/run-test.sh header
	$(OV_ENV) bindings/c/tests/run_c_tests.sh
	bindings/c/tests/run_dist_tests.sh

## C distribution tarball: target/dist/gaze-c-<version>-linux-x86_64.tar.gz (release) with
## gaze.h, libgaze_c.so/.a, pkg-config files and the bundled OpenCV libraries.
DIST_PROFILE ?= release
dist-c: deps-test
	scripts/dist-c.sh --profile $(DIST_PROFILE)

## Python vs Rust per-frame time (release build; not part of `make test`).
## MediaPipe side by side: make bench-python BENCH_ARGS="--mediapipe-python /tmp/mp/venv/bin/python"
BENCH_ARGS ?=
bench-python:
	bindings/python/bench/run_bench.sh $(BENCH_ARGS)

## Bounded fuzzing (not part of `make test`): builds the cargo-fuzz targets (stable toolchain,
## installs cargo-fuzz if missing, build dir fuzz/target) and runs each for FUZZ_SECS seconds,
## printing executions, exec/s and crashes per target. One target: make fuzz FUZZ_TARGETS=frame
FUZZ_SECS ?= 60
FUZZ_TARGETS ?=
fuzz:
	FUZZ_SECS=$(FUZZ_SECS) fuzz/run.sh $(FUZZ_TARGETS)

## Fault injection (also part of `make test` via cargo test): gaze-server killed with SIGKILL
## and restarted, redis frozen (SIGSTOP) 10 s, redis stopped 10 s and restarted, one node of
## a 3-node Redis Cluster restarted — all during live WS sessions; prints the figures (~70 s).
faults:
	$(CARGO) test -p gaze-server --test faults --test checkpoint_gap -- --nocapture --test-threads 1

## Soak (not part of `make test`): 6 WS sessions at 10 fps + REST traffic for SOAK_SECS
## against the release gaze-server binary and its own redis-server; prints sessions,
## frames, requests by outcome, lost records and the server's RSS. Quick: make soak SOAK_SECS=60
SOAK_SECS ?= 600
SOAK_ARGS ?=
soak:
	$(CARGO) build --release -p gaze-server --bins
	$(OV_ENV) target/release/gaze-soak --secs $(SOAK_SECS) $(SOAK_ARGS)

## Activity model evaluation protocol (not part of `make test`; needs the shared data folder):
## features from the Rust code → leave-one-dataset-out / leave-one-subject-out fold models
## (gaze-activity/training/train_activity.py, LightGBM in .venv-train) → time-level scores at the
## native rate and degraded to webcam conditions, next to the earlier model (baseline), pooled
## and dataset-balanced, plus the label's delay after a change of activity (switch).
## make eval-activity DATA=/work/shared/testdata/activity   (≈ 3 min on 2 cores after the build;
## gaze-activity/training/quick_eval.py approximates it on rows.csv in ≈ 20 s)
DATA ?= /work/shared/testdata/activity
EVAL_OUT ?= target/eval-activity
TRAIN_PY ?= .venv-train/bin/python
$(TRAIN_PY):
	python3 -m venv .venv-train
	.venv-train/bin/pip install -q -r gaze-activity/training/requirements.txt
eval-activity: $(TRAIN_PY)
	mkdir -p $(EVAL_OUT)
	$(CARGO) run --release -p gaze-examples --bin activity_protocol -- dump $(DATA) $(EVAL_OUT)/rows.csv --augment 2
	$(TRAIN_PY) gaze-activity/training/train_activity.py $(EVAL_OUT)/rows.csv --folds $(EVAL_OUT)/models
	$(CARGO) run --release -p gaze-examples --bin activity_protocol -- eval $(DATA) --models $(EVAL_OUT)/models --schemes main,loso,switch --json $(EVAL_OUT)/summary.json | tee $(EVAL_OUT)/report.txt

## Retrains the shipped activity model (gaze-activity/src/activity/activity_trees.json) on all of
## the data folder's reading / browsing / watching recordings (same rows as eval-activity).
train-activity: $(TRAIN_PY)
	mkdir -p $(EVAL_OUT)
	[ -s $(EVAL_OUT)/rows.csv ] || $(CARGO) run --release -p gaze-examples --bin activity_protocol -- dump $(DATA) $(EVAL_OUT)/rows.csv --augment 2
	$(TRAIN_PY) gaze-activity/training/train_activity.py $(EVAL_OUT)/rows.csv --full gaze-activity/src/activity/activity_trees.json

## Packaging check of the library crates (gaze-activity, gaze-core, gaze-store, gaze-report):
## `cargo publish --dry-run` of all four in one call (cargo resolves their unpublished path
## dependencies among themselves), ~10 s. --no-verify: verification would rebuild them from
## the packaged sources with a per-package feature set, i.e. OpenCV and gaze-core again.
publish-check:
	$(CARGO) publish --dry-run --no-verify --allow-dirty -p gaze-activity -p gaze-core -p gaze-store -p gaze-report
