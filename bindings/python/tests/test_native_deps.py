"""The source-build check of the in-tree backend (build_backend/gaze_native_deps.py): what it
finds on this machine (scripts/setup.sh installs everything), and what it reports where
OpenCV, libclang, clang or a C++ compiler are out of reach."""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "build_backend"))
import gaze_native_deps as nd  # noqa: E402


def test_libclang_file_names():
    for ok in ["libclang.so", "libclang.so.1", "libclang-14.so", "libclang-14.so.1",
               "libclang-14.0.6.so", "libclang-14.so.14.0.6"]:
        assert nd.is_libclang_name(ok), ok
    for bad in ["libclang-cpp.so.14", "libclangAST.a", "libclang.a", "libclang.so.x",
                "libclang-.so", "clang.so", "libclang-14.so.", "libclangBasic.so"]:
        assert not nd.is_libclang_name(bad), bad


def test_this_machine_has_everything():
    env = dict(os.environ)
    assert nd.check_all(env, nd.default_libclang_dirs(), nd.default_cmake_dirs(env)) == []
    ok, detail = nd.check_opencv(env, [])
    assert ok and detail.startswith("pkg-config opencv4 4."), detail
    nd.check_or_exit()  # does not raise


def test_opencv_missing_when_pkg_config_finds_nothing(tmp_path):
    env = {"PATH": os.environ["PATH"], "PKG_CONFIG_LIBDIR": str(tmp_path), "PKG_CONFIG_PATH": str(tmp_path)}
    ok, detail = nd.check_opencv(env, [tmp_path])
    assert not ok and "does not know opencv4" in detail
    msg = nd.message([("opencv", detail)])
    assert "sudo apt-get install pkg-config libopencv-dev" in msg
    assert "sudo dnf install pkgconf-pkg-config opencv-devel" in msg
    # An OpenCV 3 .pc is refused; a CMake config next to it is accepted.
    (tmp_path / "opencv4.pc").write_text("Name: opencv4\nDescription: t\nVersion: 3.4.16\nLibs: -lopencv_core\n")
    ok, detail = nd.check_opencv(env, [tmp_path])
    assert not ok and "gaze needs 4.x" in detail
    # A CMake config counts only with a cmake executable (the crate's CMake probe runs it).
    (tmp_path / "OpenCVConfig.cmake").write_text("")
    ok, detail = nd.check_opencv(env, [tmp_path])
    assert not ok and "cmake is not installed" in detail
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "cmake").write_text("#!/bin/sh\n")
    (bin_dir / "cmake").chmod(0o755)
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    assert nd.check_opencv(env, [tmp_path]) == (True, f"CMake config in {tmp_path}")


def test_override_variables_and_broken_pkg_config():
    assert nd.check_opencv({"PATH": "", "OPENCV_LINK_LIBS": "opencv_core"}, []) == (True, "configured by OPENCV_LINK_LIBS")
    ok, detail = nd.check_opencv({"PATH": "", "PKG_CONFIG": "/nonexistent/pkg-config"}, [])
    assert not ok and "could not run" in detail


def test_libclang_search(tmp_path):
    lib, other = tmp_path / "lib", tmp_path / "other"
    lib.mkdir()
    other.mkdir()
    ok, detail = nd.find_libclang({}, [lib, Path("/nonexistent")])
    assert not ok and str(lib) in detail
    (lib / "libclang-cpp.so.14").write_text("")  # not libclang itself
    assert not nd.find_libclang({}, [lib])[0]
    (lib / "libclang-14.so.1").write_text("")
    assert nd.find_libclang({}, [Path("/nonexistent"), lib]) == (True, str(lib / "libclang-14.so.1"))
    # LIBCLANG_PATH wins, as a folder or a file.
    assert not nd.find_libclang({"LIBCLANG_PATH": str(other)}, [lib])[0]
    (other / "libclang.so").write_text("")
    assert nd.find_libclang({"LIBCLANG_PATH": str(other)}, []) == (True, str(other / "libclang.so"))
    assert nd.find_libclang({"LIBCLANG_PATH": str(other / "libclang.so")}, []) == (True, str(other / "libclang.so"))


def test_programs_from_path_or_variable(tmp_path):
    env = {"PATH": str(tmp_path)}
    assert nd.find_program(env, "CLANG_PATH", ["clang", "clang-14"]) is None
    clang = tmp_path / "clang-14"
    clang.write_text("#!/bin/sh\n")
    clang.chmod(0o755)
    assert nd.find_program(env, "CLANG_PATH", ["clang", "clang-14"]) == str(clang)
    assert nd.find_program({**env, "CXX": "ccache clang-14"}, "CXX", ["c++"]) == "clang-14"
    assert nd.find_program({**env, "CXX": "/nonexistent/g++"}, "CXX", ["clang-14"]) is None


def test_nothing_found_names_every_package(tmp_path):
    env = {"PATH": str(tmp_path), "PKG_CONFIG": "/nonexistent/pkg-config"}
    missing = nd.check_all(env, [tmp_path], [])
    assert [k for k, _ in missing] == ["opencv", "libclang", "clang", "cxx"]
    msg = nd.message(missing)
    assert "sudo apt-get install pkg-config libopencv-dev libclang-dev clang g++" in msg
    assert "sudo dnf install pkgconf-pkg-config opencv-devel clang-devel clang gcc-c++" in msg
    with pytest.raises(SystemExit) as e:
        nd.check_or_exit({**env, "LIBCLANG_PATH": str(tmp_path)})
    assert "sudo apt-get install pkg-config libopencv-dev libclang-dev clang g++" in str(e.value)
    nd.check_or_exit({**env, "GAZE_SKIP_NATIVE_CHECK": "1"})  # skipped: no raise
