"""The build without the vision half (`maturin build --no-default-features`): activity,
sessions and reports from gaze samples, with no OpenCV linked.

scripts/test-wheel.sh builds that variant, installs it into a scratch folder ahead of the
normal wheel on ``sys.path`` and runs this file with ``GAZE_EXPECT_NO_VISION=1``. In the
normal (vision) run the same tests check the flag says the Tracker is there.
"""

import os
from pathlib import Path

import numpy as np
import pytest

import gaze

EXPECT_NO_VISION = os.environ.get("GAZE_EXPECT_NO_VISION") == "1"


def test_vision_flag_matches_the_build():
    assert gaze._gaze._has_vision is (not EXPECT_NO_VISION)
    assert hasattr(gaze, "Tracker") is (not EXPECT_NO_VISION)


@pytest.mark.skipif(not EXPECT_NO_VISION, reason="only for the no-vision build")
def test_no_opencv_is_linked():
    ext = Path(gaze._gaze.__file__)
    # The shared object's dynamic section names every library it needs.
    needed = ext.read_bytes()
    assert b"libopencv" not in needed, "the no-vision extension names an OpenCV library"
    assert b"libgaze" not in needed


def reading_samples(seconds=20.0, hz=30.0):
    """Synthetic reading: left-to-right steps along lines, return sweeps, line feeds."""
    t = np.arange(0, seconds * 1000.0, 1000.0 / hz)
    fix = (t // 250).astype(int)
    x = 300.0 + (fix % 10) * 120.0
    y = 200.0 + ((fix // 10) % 20) * 40.0
    return t, x, y


def test_classify_trace_and_session_without_pixels():
    t, x, y = reading_samples()
    segs = gaze.classify_trace(t, x, y, screen=(1920, 1080))
    assert segs and segs[0]["start_ms"] == t[0]
    assert {s["activity"] for s in segs} <= {"reading", "browsing", "watching", "other", "none"}

    s = gaze.Session("no-vision", screen=(1920, 1080))
    for ti, xi, yi in zip(t, x, y):
        s.push_sample(float(ti), float(xi), float(yi))
    report = s.finish()
    assert report["session_id"] == "no-vision"
    assert report["duration"] == pytest.approx((t[-1] - t[0]) / 1000.0, abs=0.2)
    assert report["focus_time"] > 0.5 * report["duration"]

    back = gaze.Session.restore_json(s.snapshot_json())
    assert back.session_id == "no-vision"


def test_errors_are_still_typed_without_pixels():
    with pytest.raises(ValueError):
        gaze.Session.restore_json("{}")
    with pytest.raises(ValueError):
        gaze.Calibration.from_json("not json")
    with pytest.raises(TypeError, match="unexpected keyword"):
        gaze.Session("x", nope=1)
