"""Inference engines from Python: the package points the core at the installed ``openvino``
package, ``Tracker(engine=...)`` chooses, and without OpenVINO everything runs on OpenCV DNN."""

import os
import subprocess
import sys
from importlib.util import find_spec

import numpy as np
import pytest

import gaze
from conftest import FPS

HAVE_OPENVINO = find_spec("openvino") is not None


def iris_centres(tracker, frames):
    out = []
    for i, f in enumerate(frames):
        r = tracker.process(f, timestamp_ms=i * 1000.0 / FPS)
        out.append(None if r.left_eye is None else r.left_eye.center)
    return out


@pytest.mark.skipif(not HAVE_OPENVINO, reason="the openvino package is not installed")
def test_auto_uses_the_installed_openvino_package():
    assert gaze.Tracker().engine == "openvino"
    assert gaze.Tracker(engine="openvino").engine == "openvino"
    assert "openvino" in os.environ.get("GAZE_OPENVINO_LIB", "")


def test_opencv_engine_and_engine_agreement(clip):
    cv = gaze.Tracker(engine="opencv")
    assert cv.engine == "opencv"
    assert cv.config["inference"]["engine"] == "opencv"
    # The same float networks on both engines give the same landmarks; `auto`'s default
    # int8 iris network on OpenVINO stays close to them.
    auto_float = gaze.Tracker(inference={"iris_int8": False})
    auto = gaze.Tracker()
    a = iris_centres(cv, clip[:40])
    b = iris_centres(auto_float, clip[:40])
    c = iris_centres(auto, clip[:40])
    assert sum(x is not None for x in a) >= 38
    gaps = []
    for x, y, z in zip(a, b, c):
        assert (x is None) == (y is None) == (z is None)
        if x is not None:
            assert abs(x[0] - y[0]) < 0.05 and abs(x[1] - y[1]) < 0.05
            gaps.append(float(np.hypot(x[0] - z[0], x[1] - z[1])))
    if auto.engine == "openvino":
        assert float(np.median(gaps)) < 0.3 and max(gaps) < 1.5, gaps


def test_bad_engine_names_and_paths_raise():
    with pytest.raises(ValueError, match="engine"):
        gaze.Tracker(engine="cuda")
    with pytest.raises(TypeError):
        gaze.Tracker(engine=3)
    cfg = {"engine": "openvino", "openvino_library": "/nonexistent/libopenvino_c.so"}
    with pytest.raises(RuntimeError, match="openvino"):
        gaze.Tracker(inference=cfg)


def test_without_openvino_everything_runs_on_opencv(tmp_path):
    # A fresh interpreter whose GAZE_OPENVINO_LIB names an empty folder: auto falls back, an
    # explicit "openvino" is an error.
    code = (
        "import gaze, numpy as np\n"
        "t = gaze.Tracker()\n"
        "assert t.engine == 'opencv', t.engine\n"
        "t.process(np.zeros((48, 64, 3), np.uint8), timestamp_ms=0.0)\n"
        "try:\n"
        "    gaze.Tracker(engine='openvino')\n"
        "except RuntimeError as e:\n"
        "    print('error:', e)\n"
        "else:\n"
        "    raise SystemExit('openvino should not load')\n"
    )
    env = dict(os.environ, GAZE_OPENVINO_LIB=str(tmp_path))
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr + out.stdout
    assert "error:" in out.stdout
