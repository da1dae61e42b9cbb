#!/usr/bin/env bash
# Prints the directory holding libopenvino_c.so.* of the project's .venv (empty when absent).
# The Makefile exports it as GAZE_OPENVINO_LIB for the server, the CLI and the tests.
cd "$(dirname "$0")/.."
for d in .venv/lib/python3*/site-packages/openvino/libs; do
  if compgen -G "$d/libopenvino_c.so*" >/dev/null; then
    echo "$(pwd)/$d"
    exit 0
  fi
done
