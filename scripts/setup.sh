#!/usr/bin/env bash
# Installs what gaze needs on a fresh Debian (bookworm) machine. Idempotent: skips what is there.
# Usage: scripts/setup.sh [base|test]
#   base: Rust build deps (OpenCV, clang), redis-server, ffmpeg, haproxy, .venv with openvino (make run, make cluster)
#   test: base + chromium, valgrind, Python venv with test tools, npm   (make test)
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-base}"

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

pkgs=(libopencv-dev clang libclang-dev opencv-data redis-server redis-tools ffmpeg pkg-config python3-venv haproxy curl)
if [ "$what" = test ]; then
  pkgs+=(chromium chromium-driver valgrind gcc make poppler-utils)  # poppler-utils: pdftotext in gaze-report tests
  command -v npm >/dev/null || pkgs+=(nodejs npm)  # gaze-server web UI test (playwright-core)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi

if ! command -v cargo >/dev/null; then
  echo "setup: cargo not found; install Rust (https://rustup.rs) first" >&2
  exit 1
fi

# OpenVINO runtime (PyPI `openvino`, ships libopenvino_c) in a project-local venv: the fast
# inference engine. The Makefile points the server and the tests at it with GAZE_OPENVINO_LIB;
# without it gaze falls back to OpenCV DNN. scripts/openvino-lib.sh prints the library path.
if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
if [ ! -f .venv/.openvino-ok ] || [ scripts/requirements-openvino.txt -nt .venv/.openvino-ok ]; then
  echo "setup: installing openvino into .venv"
  .venv/bin/pip install -q -r scripts/requirements-openvino.txt
  touch .venv/.openvino-ok
fi

if [ "$what" = test ]; then
  # Python tools for the binding tests, in the same venv.
  if [ ! -f .venv/.deps-ok ] || [ scripts/requirements-test.txt -nt .venv/.deps-ok ]; then
    .venv/bin/pip install -q --upgrade pip
    .venv/bin/pip install -q -r scripts/requirements-test.txt
    touch .venv/.deps-ok
  fi
  # playwright-core (no browser download) for the web UI test.
  if [ -f gaze-server/tests/web/package.json ] && [ ! -d gaze-server/tests/web/node_modules ]; then
    (cd gaze-server/tests/web && npm install --no-audit --no-fund --silent)
  fi
fi
