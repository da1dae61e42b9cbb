#!/usr/bin/env bash
# Builds libgaze_c (.so and .a), compiles examples/c/track_image.c against each with
# -std=c11 -Wall -Wextra -Werror, runs both on a frame of the committed webcam clip (PPM and
# raw BGR), and runs the shared build under valgrind (no leaks, no invalid accesses).
# The frame is extracted at test time with ffmpeg from the MIT-licensed clip (testdata/README.md).
set -euo pipefail
cd "$(dirname "$0")/../../.."
CARGO=${CARGO:-cargo}
VIDEO=testdata/webcam/webcam_cap12_t18-28s_640x480_25fps.mp4
target_dir=$($CARGO metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
# The libraries `cargo test --workspace` builds (make test-rust) are in target/debug/deps;
# `cargo build -p gaze-c` would resolve another feature set and compile OpenCV once more.
lib_dir="$target_dir/debug/deps"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

passed=0
failed=0
check() { # name, command...
  local name=$1
  shift
  if "$@" >"$tmp/out.log" 2>&1; then
    echo "ok   $name"
    passed=$((passed + 1))
  else
    echo "FAIL $name"
    sed 's/^/     | /' "$tmp/out.log" | tail -40
    failed=$((failed + 1))
  fi
}

$CARGO test -q --workspace --no-run
ffmpeg -v error -i "$VIDEO" -vf 'select=eq(n\,50)' -frames:v 1 "$tmp/frame.ppm"
ffmpeg -v error -i "$VIDEO" -vf 'select=eq(n\,50)' -frames:v 1 -pix_fmt gray "$tmp/frame.pgm"
ffmpeg -v error -i "$VIDEO" -vf 'select=eq(n\,50)' -frames:v 1 -f rawvideo -pix_fmt bgr24 "$tmp/frame.bgr"

CFLAGS=(-std=c11 -Wall -Wextra -Werror -pedantic -g -Ibindings/c/include)
check "compile against libgaze_c.so" \
  gcc "${CFLAGS[@]}" examples/c/track_image.c -L"$lib_dir" -lgaze_c -Wl,-rpath,"$lib_dir" -o "$tmp/track_shared"
# shellcheck disable=SC2046
check "compile against libgaze_c.a" \
  gcc "${CFLAGS[@]}" examples/c/track_image.c "$lib_dir/libgaze_c.a" \
  $(pkg-config --libs opencv4) -lstdc++ -lgcc_s -lutil -lrt -lpthread -lm -ldl -o "$tmp/track_static"

face_found() { # binary, args...: prints JSON, which must contain a gaze object and a face box
  "$@" >"$tmp/json.txt"
  python3 - "$tmp/json.txt" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
frame, report = json.loads(lines[0]), json.loads(lines[1])
assert frame["gaze"] is not None and frame["face"] is not None, frame
assert -1.5 <= frame["gaze"]["horizontal"] <= 1.5, frame
assert report["session_id"] == "c-example" and "focus_time" in report, report
PY
}
check "shared: PPM frame has a face and gaze" face_found "$tmp/track_shared" "$tmp/frame.ppm"
# Both engines: OpenVINO from GAZE_OPENVINO_LIB (the Makefile points it at .venv), OpenCV DNN.
engine_ran() { # engine: the example must report that engine and find the face
  GAZE_ENGINE=$1 face_found "$tmp/track_shared" "$tmp/frame.ppm" 2>"$tmp/engine.txt"
  grep -qx "engine: $1" "$tmp/engine.txt"
}
check "shared: GAZE_ENGINE=opencv runs OpenCV DNN" engine_ran opencv
if [ -n "${GAZE_OPENVINO_LIB:-}" ]; then
  check "shared: GAZE_ENGINE=openvino runs OpenVINO" engine_ran openvino
fi
check "shared: GAZE_ENGINE=openvino without the library fails (GAZE_ERROR_ENGINE)" \
  bash -c "! GAZE_OPENVINO_LIB=/nonexistent GAZE_ENGINE=openvino '$tmp/track_shared' '$tmp/frame.ppm'"
check "shared: auto without the library falls back to OpenCV DNN" \
  bash -c "GAZE_OPENVINO_LIB=/nonexistent '$tmp/track_shared' '$tmp/frame.ppm' 2>&1 >/dev/null | grep -qx 'engine: opencv'"
check "static: PPM frame has a face and gaze" face_found "$tmp/track_static" "$tmp/frame.ppm"
check "static: PGM (gray) frame has a face and gaze" face_found "$tmp/track_static" "$tmp/frame.pgm"
check "shared: raw BGR frame has a face and gaze" face_found "$tmp/track_shared" "$tmp/frame.bgr" 640 480 bgr
check "bad raw size is rejected" bash -c "! '$tmp/track_shared' '$tmp/frame.bgr' 640 481 bgr"
# Definite and indirect leaks fail; OpenCV's TBB worker threads leave "possibly lost" blocks at exit.
# Valgrind runs OpenCV DNN (GAZE_ENGINE=opencv): OpenVINO's JIT code is out of its scope.
export GAZE_ENGINE=opencv
VALGRIND=(valgrind -q --error-exitcode=3 --leak-check=full --show-leak-kinds=definite,indirect
  --errors-for-leak-kinds=definite,indirect)
check "valgrind: no leaks, no invalid reads (shared, PPM)" "${VALGRIND[@]}" "$tmp/track_shared" "$tmp/frame.ppm"
check "valgrind: no leaks, no invalid reads (static, raw BGR)" \
  "${VALGRIND[@]}" "$tmp/track_static" "$tmp/frame.bgr" 640 480 bgr

echo "c: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
