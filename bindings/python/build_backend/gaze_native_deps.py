"""Detection of the native tools a source build of gaze needs (OpenCV 4 development files,
libclang, clang, a C++ compiler), and the message naming the packages to install.

Used by the in-tree PEP 517 backend (gaze_build_backend.py) before maturin starts cargo: the
`opencv` crate's build script would otherwise fail with long, generic output. Tested by
bindings/python/tests/test_native_deps.py.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Callable, Mapping, Sequence

# Variables of the opencv crate that bypass its probes: then OpenCV was configured by hand.
OPENCV_OVERRIDES = ("OPENCV_LINK_LIBS", "OPENCV_LINK_PATHS", "OPENCV_INCLUDE_PATHS", "OpenCV_DIR")

# What: (description, Debian/Ubuntu package, Fedora package, how to point the build at it).
KINDS = {
    "opencv": ("OpenCV 4 development files (headers and pkg-config file `opencv4`)",
               "libopencv-dev", "opencv-devel",
               "or point the opencv crate at an OpenCV build: OPENCV_LINK_LIBS, "
               "OPENCV_LINK_PATHS, OPENCV_INCLUDE_PATHS (or OpenCV_DIR for CMake)"),
    "libclang": ("libclang (the opencv crate generates its Rust bindings with it)",
                 "libclang-dev", "clang-devel",
                 "or set LIBCLANG_PATH to the directory that holds libclang.so"),
    "clang": ("the clang compiler (asked for the system include paths)", "clang", "clang",
              "or set CLANG_PATH to the clang executable"),
    "cxx": ("a C++ compiler (the opencv crate compiles C++ glue code)", "g++", "gcc-c++",
            "or set CXX to the compiler"),
}

_LIBCLANG = re.compile(r"^libclang(-[0-9][0-9.]*)?\.so(\.[0-9][0-9.]*)?$")


def is_libclang_name(name: str) -> bool:
    """libclang.so, libclang.so.1, libclang-14.so, libclang-14.0.6.so, libclang-14.so.14.0.6."""
    if not _LIBCLANG.match(name):
        return False
    return not name.endswith(".")


def check_opencv(env: Mapping[str, str], cmake_dirs: Sequence[Path]) -> tuple[bool, str]:
    for var in OPENCV_OVERRIDES:
        if env.get(var):
            return True, f"configured by {var}"
    pkg_config = env.get("PKG_CONFIG") or "pkg-config"
    run_env = {k: v for k, v in os.environ.items() if k not in ("PKG_CONFIG_PATH", "PKG_CONFIG_LIBDIR")}
    run_env.update({k: env[k] for k in ("PKG_CONFIG_PATH", "PKG_CONFIG_LIBDIR", "PATH") if k in env})
    try:
        out = subprocess.run([pkg_config, "--modversion", "opencv4"], capture_output=True,
                             text=True, env=run_env)
        if out.returncode == 0:
            version = out.stdout.strip()
            if version.split(".")[0].isdigit() and int(version.split(".")[0]) >= 4:
                return True, f"pkg-config opencv4 {version}"
            detail = f"pkg-config finds opencv4 {version}, gaze needs 4.x"
        else:
            detail = "pkg-config does not know opencv4"
    except OSError as e:
        detail = f"pkg-config could not run ({e})"
    # The opencv crate's CMake probe runs `cmake`; a config file alone is not enough.
    cmake = shutil.which("cmake", path=env.get("PATH", ""))
    for d in cmake_dirs:
        if (Path(d) / "OpenCVConfig.cmake").is_file():
            if cmake:
                return True, f"CMake config in {d}"
            return False, f"{detail}; {d}/OpenCVConfig.cmake exists but cmake is not installed"
    return False, f"{detail}, and no OpenCVConfig.cmake was found"


def default_cmake_dirs(env: Mapping[str, str]) -> list[Path]:
    dirs = [Path(env["OpenCV_DIR"])] if env.get("OpenCV_DIR") else []
    for base in ("/usr/lib", "/usr/lib64", "/usr/local/lib", "/usr/local/lib64", "/usr/share"):
        dirs.append(Path(base) / "cmake/opencv4")
        for triple in ("x86_64-linux-gnu", "aarch64-linux-gnu"):
            dirs.append(Path(base) / triple / "cmake/opencv4")
    return dirs


def find_libclang(env: Mapping[str, str], dirs: Sequence[Path]) -> tuple[bool, str]:
    def has_lib(d: Path):
        try:
            return next((d / n for n in sorted(os.listdir(d)) if is_libclang_name(n)), None)
        except OSError:
            return None

    if env.get("LIBCLANG_PATH"):
        p = Path(env["LIBCLANG_PATH"])
        found = p if p.is_file() else has_lib(p)
        return (True, str(found)) if found else (False, f"LIBCLANG_PATH={p} holds no libclang*.so*")
    for d in dirs:
        found = has_lib(Path(d))
        if found:
            return True, str(found)
    return False, "no libclang*.so* in " + (", ".join(map(str, dirs)) or "(no directories)")


def default_libclang_dirs() -> list[Path]:
    dirs: list[Path] = []
    llvm_config = shutil.which("llvm-config")
    if llvm_config:
        out = subprocess.run([llvm_config, "--libdir"], capture_output=True, text=True)
        if out.returncode == 0:
            dirs.append(Path(out.stdout.strip()))
    for base in ("/usr/lib", "/usr/local/lib", "/usr/lib64", "/usr/local/lib64"):
        try:
            llvm = sorted((Path(base) / n / "lib" for n in os.listdir(base) if n.startswith("llvm")), reverse=True)
        except OSError:
            llvm = []
        dirs += llvm + [Path(base)] + [Path(base) / t for t in ("x86_64-linux-gnu", "aarch64-linux-gnu")]
    return dirs


def find_program(env: Mapping[str, str], var: str, names: Sequence[str]) -> str | None:
    path = env.get("PATH", "")
    if env.get(var):
        # CXX may carry a launcher ("ccache g++"): any word that is a program counts.
        return next((w for w in env[var].split() if Path(w).is_file() or shutil.which(w, path=path)), None)
    return next((shutil.which(n, path=path) for n in names if shutil.which(n, path=path)), None)


def check_all(env: Mapping[str, str], libclang_dirs: Sequence[Path], cmake_dirs: Sequence[Path]) -> list[tuple[str, str]]:
    """(kind, detail) for each missing tool; empty when the build can go on."""
    missing = []
    ok, detail = check_opencv(env, cmake_dirs)
    if not ok:
        missing.append(("opencv", detail))
    ok, detail = find_libclang(env, libclang_dirs)
    if not ok:
        missing.append(("libclang", detail))
    clangs = ["clang"] + [f"clang-{v}" for v in range(22, 10, -1)]
    if not find_program(env, "CLANG_PATH", clangs):
        missing.append(("clang", "no clang or clang-<N> in PATH"))
    if not find_program(env, "CXX", ["c++", "g++", "clang++"]):
        missing.append(("cxx", "no c++, g++ or clang++ in PATH (and CXX unset)"))
    return missing


def message(missing: Sequence[tuple[str, str]]) -> str:
    lines = ["gaze: building the Python extension from source needs native tools that were not found:"]
    for kind, detail in missing:
        what, deb, fed, hint = KINDS[kind]
        lines += [f"  - {what}: {detail}",
                  f"      Debian/Ubuntu: sudo apt-get install {deb}",
                  f"      Fedora:        sudo dnf install {fed}",
                  f"      {hint}"]
    debs = " ".join(KINDS[k][1] for k, _ in missing)
    feds = " ".join(KINDS[k][2] for k, _ in missing)
    lines += ["All at once:",
              f"  Debian/Ubuntu: sudo apt-get install pkg-config {debs}",
              f"  Fedora:        sudo dnf install pkgconf-pkg-config {feds}",
              "A prebuilt (manylinux) gaze wheel needs none of these.",
              "Set GAZE_SKIP_NATIVE_CHECK=1 to skip this check."]
    return "\n".join(lines)


def check_or_exit(env: Mapping[str, str] | None = None, out: Callable[[str], None] | None = None) -> None:
    """Raises SystemExit with the message when something is missing (the backend's entry)."""
    env = dict(os.environ if env is None else env)
    if env.get("GAZE_SKIP_NATIVE_CHECK"):
        return
    missing = check_all(env, default_libclang_dirs(), default_cmake_dirs(env))
    if missing:
        raise SystemExit(message(missing))
