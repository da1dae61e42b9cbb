#!/usr/bin/env bash
# Reproduces the two ONNX files in this folder from MediaPipe's PyPI wheel.
# Needs network access to PyPI only. Usage: gaze-core/models/convert.sh [venv-dir]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${1:-/tmp/gaze-model-venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet 'mediapipe==0.10.21' 'numpy<2' 'tflite2onnx==0.4.1'
site="$("$venv/bin/python" -c 'import mediapipe, os; print(os.path.dirname(mediapipe.__file__))')"
"$venv/bin/tflite2onnx" "$site/modules/face_detection/face_detection_short_range.tflite" \
  "$here/face_detection_short_range.onnx"
"$venv/bin/tflite2onnx" "$site/modules/iris_landmark/iris_landmark.tflite" \
  "$here/iris_landmark.onnx"
sha256sum "$here"/*.onnx
