#!/usr/bin/env bash
# Makes iris_landmark_int8.onnx (the OpenVINO engine's default iris network) from
# iris_landmark.onnx: NNCF post-training quantisation, calibrated on the tracker's own eye
# crops of the committed webcam clip. Needs PyPI (NNCF, ONNX, ONNX Runtime, OpenCV) and a
# release build of examples/frame_times (float network on OpenCV DNN, crop reuse off) for the
# eye positions. Usage: gaze-core/models/quantize_iris.sh [venv-dir]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${1:-/tmp/gaze-quant-venv}"
clip="$root/testdata/webcam/webcam_cap12_t18-28s_640x480_25fps.mp4"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet 'nncf==3.4.0' 'onnx==1.23.2' 'onnxruntime==1.32.0' \
  'opencv-python-headless==5.1.0.95' 'numpy==2.4.6'
eyes="$(mktemp --suffix=.jsonl)"
trap 'rm -f "$eyes"' EXIT
(cd "$root" && cargo run -q --release -p gaze-examples --bin frame_times -- "$clip" \
  --engine opencv --reuse 0 >"$eyes")
"$venv/bin/python" "$here/quantize_iris.py" --model "$here/iris_landmark.onnx" \
  --video "$clip" --eyes "$eyes" --out "$here/iris_landmark_int8.onnx"
sha256sum "$here/iris_landmark_int8.onnx"
