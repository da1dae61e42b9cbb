"""In-tree PEP 517 backend: maturin's, preceded by a check of the native build tools.

A source build (`pip install ./bindings/python`, or of the sdist) first runs
gaze_native_deps.check_or_exit(): when the OpenCV 4 development files, libclang, clang or a
C++ compiler are missing it stops with one message naming the Debian/Ubuntu and Fedora
packages, before cargo starts (the `opencv` crate's own build script would fail later with
generic probe output). Everything else is maturin's backend unchanged.
"""

from maturin import (  # noqa: F401  (re-exported PEP 517 hooks)
    build_sdist,
    get_requires_for_build_editable,
    get_requires_for_build_sdist,
    get_requires_for_build_wheel,
    prepare_metadata_for_build_editable,
    prepare_metadata_for_build_wheel,
)
import maturin

from gaze_native_deps import check_or_exit


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    check_or_exit()
    return maturin.build_wheel(wheel_directory, config_settings, metadata_directory)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    check_or_exit()
    return maturin.build_editable(wheel_directory, config_settings, metadata_directory)
