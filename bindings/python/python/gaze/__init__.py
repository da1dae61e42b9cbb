"""gaze: webcam frames in, gaze and activity out.

A thin Python skin over the Rust library gaze-core (MediaPipe BlazeFace and Iris models are
embedded; nothing is downloaded). See ``Tracker`` for the per-frame API, ``Calibration`` for
screen mapping, ``ActivityClassifier`` / ``classify_trace`` for reading / browsing / watching,
and ``Session`` for session accounting.
"""

import os as _os


def _point_at_openvino() -> None:
    """Points gaze-core at the OpenVINO runtime of the installed ``openvino`` package (its
    ``openvino/libs/libopenvino_c.so*``) through ``GAZE_OPENVINO_LIB``, unless that variable is
    already set. Without the package the core falls back to OpenCV DNN."""
    if _os.environ.get("GAZE_OPENVINO_LIB"):
        return
    try:
        from importlib.util import find_spec

        spec = find_spec("openvino")
    except (ImportError, ValueError):
        return
    for base in (spec.submodule_search_locations or []) if spec else []:
        libs = _os.path.join(base, "libs")
        try:
            names = _os.listdir(libs)
        except OSError:
            continue
        if any(n.startswith("libopenvino_c.so") for n in names):
            _os.environ["GAZE_OPENVINO_LIB"] = libs
            return


_point_at_openvino()

from ._gaze import *  # noqa: F401,F403,E402
from ._gaze import __version__  # noqa: F401,E402
