#!/usr/bin/env python3
"""Completes an auditwheel-repaired wheel: grafts the libraries that the manylinux policy
assumes present but that minimal systems lack.

auditwheel leaves libX11.so.6 (and the other X11/GL/GLib names of the manylinux policy)
outside the wheel. Debian's libopencv_core needs libGLX, which auditwheel bundles, and libGLX
needs libX11, which it does not: the wheel would fail to import on a headless or container
system without libX11 (e.g. the python:slim images). This script copies every library that an
ELF file in the wheel needs and that is neither inside the wheel nor part of BASE (glibc,
libstdc++, libgcc_s, zlib), with its own dependencies, into gaze.libs/ under a hashed name
(as auditwheel does), points the DT_NEEDED entries and run paths at the copies, and rewrites
RECORD. Usage: wheel_graft.py WHEEL (rewritten in place). Needs patchelf and pyelftools.
"""

import base64
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

from elftools.elf.elffile import ELFFile

BASE = {
    "libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libutil.so.1",
    "libresolv.so.2", "libstdc++.so.6", "libgcc_s.so.1", "ld-linux-x86-64.so.2", "libz.so.1",
}
LIBS = "gaze.libs"


def needed(path):
    with open(path, "rb") as f:
        head = f.read(4)
        if head != b"\x7fELF":
            return None
        f.seek(0)
        dyn = ELFFile(io.BytesIO(f.read())).get_section_by_name(".dynamic")
        return [t.needed for t in dyn.iter_tags() if t.entry.d_tag == "DT_NEEDED"] if dyn else []


def system_paths():
    """soname -> path, from the loader cache (x86-64 entries)."""
    out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=True).stdout
    paths = {}
    for line in out.splitlines()[1:]:
        name, _, rest = line.strip().partition(" (")
        if "x86-64" in rest and "=>" in rest:
            paths.setdefault(name, rest.split("=>", 1)[1].strip())
    return paths


def record_line(root, rel):
    data = open(os.path.join(root, rel), "rb").read()
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{rel},sha256={digest},{len(data)}"


def main(wheel):
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(wheel) as z:
            z.extractall(tmp)
            order = [n for n in z.namelist() if not n.endswith("/")]
        libdir = os.path.join(tmp, LIBS)
        os.makedirs(libdir, exist_ok=True)
        elves = {rel: needed(os.path.join(tmp, rel)) for rel in order}
        elves = {rel: n for rel, n in elves.items() if n is not None}
        # Names the wheel already carries: original soname -> file name in gaze.libs.
        inside = {os.path.basename(rel) for rel in order}
        syspaths = system_paths()
        grafted = {}  # soname -> new file name
        todo = [n for ns in elves.values() for n in ns]
        while todo:
            name = todo.pop()
            if name in BASE or name in inside or name in grafted:
                continue
            src = syspaths.get(name)
            if src is None:
                sys.exit(f"wheel_graft: {name} is needed but not in the loader cache")
            data = open(src, "rb").read()
            stem, _, ver = name.partition(".so")
            new = f"{stem}-{hashlib.sha256(data).hexdigest()[:8]}.so{ver}"
            dst = os.path.join(libdir, new)
            shutil.copyfile(src, dst)
            os.chmod(dst, 0o755)
            grafted[name] = new
            rel = f"{LIBS}/{new}"
            order.append(rel)
            elves[rel] = needed(dst)
            todo.extend(elves[rel])
        if not grafted:
            print("wheel_graft: nothing to graft", file=sys.stderr)
            return
        for rel, names in elves.items():
            path = os.path.join(tmp, rel)
            args = []
            for n in names:
                if n in grafted:
                    args += ["--replace-needed", n, grafted[n]]
            if args:
                subprocess.run(["patchelf", *args, path], check=True)
            if os.path.basename(rel) in grafted.values():
                subprocess.run(["patchelf", "--set-soname", os.path.basename(rel), "--set-rpath", "$ORIGIN", path], check=True)
        record = next(r for r in order if r.endswith(".dist-info/RECORD"))
        lines = [record_line(tmp, r) for r in order if r != record] + [f"{record},,"]
        with open(os.path.join(tmp, record), "w") as f:
            f.write("\n".join(lines) + "\n")
        out = wheel + ".tmp"
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            for rel in order:
                z.write(os.path.join(tmp, rel), rel)
        os.replace(out, wheel)
        print(f"wheel_graft: grafted {len(grafted)} libraries the manylinux policy leaves "
              f"to the system: {' '.join(sorted(grafted))}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1])
