"""End to end on the committed webcam clip: results, attributes, dict/JSON shape, formats
and layouts."""

import json

import numpy as np
import pytest

import gaze
from conftest import FPS


def run(tracker, frames, fmt=None, convert=None):
    out = []
    for i, f in enumerate(frames):
        if convert is not None:
            f = convert(f)
        out.append(tracker.process(f, timestamp_ms=i * 1000.0 / FPS, format=fmt))
    return out


def test_clip_has_a_face_and_gaze_in_nearly_every_frame(clip):
    results = run(gaze.Tracker(), clip)
    assert len(results) == 250
    with_face = [r for r in results if r.face is not None]
    assert len(with_face) >= 0.95 * len(results)
    for r in with_face:
        assert r.gaze is not None
        assert -1.5 <= r.gaze.horizontal <= 1.5 and -1.5 <= r.gaze.vertical <= 1.5
        assert 0.0 <= r.gaze.confidence <= 1.0
        assert r.gaze.direction in {"center", "left", "right", "up", "down", "closed", "away"}
    # Iris centres move smoothly: median frame-to-frame step well under the iris size.
    centers = np.array([r.left_eye.center for r in with_face])
    steps = np.linalg.norm(np.diff(centers, axis=0), axis=1)
    assert np.median(steps) < 5.0


def test_result_attributes_have_documented_types_and_shapes(frame):
    r = gaze.Tracker().process(frame, timestamp_ms=0.0)
    assert isinstance(r, gaze.FrameResult)
    assert (r.width, r.height, r.timestamp_ms) == (640, 480, 0.0)
    assert r.detected is True
    x, y, w, h = r.face.bbox
    assert 0 < w < 640 and 0 < h < 480
    assert r.face.keypoints.shape == (6, 2) and r.face.keypoints.dtype == np.float32
    for eye in (r.left_eye, r.right_eye):
        assert isinstance(eye, gaze.Eye)
        assert eye.center.shape == (2,) and eye.center.dtype == np.float32
        assert eye.corners.shape == (2, 2)
        assert eye.iris.shape == (5, 2)
        assert eye.landmarks.shape == (71, 2)
        assert eye.upper_lid.shape == (2,) and eye.lower_lid.shape == (2,)
        assert eye.radius > 0 and 0 < eye.openness < 1
    # Subject's left eye is on the image's right side in an unmirrored frame.
    assert r.left_eye.center[0] > r.right_eye.center[0]
    assert isinstance(r.head_pose, gaze.HeadPose)
    assert abs(r.head_pose.yaw_deg) < 60
    assert isinstance(r.blink, gaze.Blink) and r.blink.closed is False
    assert r.blink.event is None
    assert set(r.attention) == {"face_present", "eyes_closed", "head_away", "gaze_off_screen"}
    assert r.gaze.screen is None  # no calibration
    assert repr(r).startswith("FrameResult(")
    feats = r.features()
    assert set(feats) == {"yaw_deg", "pitch_deg", "horizontal", "vertical", "head_yaw_deg", "head_pitch_deg"}


def test_to_dict_is_the_server_message(frame):
    r = gaze.Tracker().process(frame, timestamp_ms=123.0)
    d = r.to_dict()
    assert set(d) == {"timestamp_ms", "gaze", "face", "direction", "blink", "head_pose", "screen", "confidence"}
    assert set(d["gaze"]) == {"horizontal", "vertical", "eyes", "yaw_deg", "pitch_deg"}
    assert set(d["gaze"]["eyes"]) == {"left", "right"}
    assert set(d["face"]) == {"x", "y", "w", "h"}
    assert d["timestamp_ms"] == 123.0
    assert d["gaze"]["eyes"]["left"]["x"] == pytest.approx(float(r.left_eye.center[0]), abs=1e-3)
    assert json.loads(r.to_json()) == d
    full = r.to_full_dict()
    assert len(full["left_eye"]["landmarks"]) == 71


def test_no_face_frame_is_a_normal_result():
    r = gaze.Tracker().process(np.zeros((480, 640, 3), np.uint8), timestamp_ms=0.0)
    assert r.face is None and r.gaze is None and r.left_eye is None and r.head_pose is None
    assert r.direction == "no_face"
    d = r.to_dict()
    assert d["gaze"] is None and d["face"] is None and d["direction"] == "no_face"
    assert r.features() is None


def test_default_timestamp_is_wall_clock_ms(frame):
    import time

    before = time.time() * 1000.0
    r = gaze.Tracker().process(frame)
    assert before - 1.0 <= r.timestamp_ms <= time.time() * 1000.0 + 1.0


@pytest.mark.parametrize(
    "fmt,convert",
    [
        ("rgb", lambda f: np.ascontiguousarray(f[:, :, ::-1])),
        ("bgra", lambda f: np.dstack([f, np.full(f.shape[:2], 255, np.uint8)])),
        ("rgba", lambda f: np.dstack([f[:, :, ::-1], np.full(f.shape[:2], 255, np.uint8)])),
        ("gray", lambda f: np.ascontiguousarray(f.mean(axis=2).astype(np.uint8))),
        (None, lambda f: np.ascontiguousarray(f.mean(axis=2).astype(np.uint8))[:, :, None]),
        (None, lambda f: np.dstack([f, np.full(f.shape[:2], 255, np.uint8)])),  # bgra inferred
    ],
)
def test_every_pixel_format_finds_the_face(clip, fmt, convert):
    results = run(gaze.Tracker(), clip[:20], fmt=fmt, convert=convert)
    assert sum(r.face is not None for r in results) >= 18


def test_rgb_and_bgr_give_the_same_result(clip):
    a = run(gaze.Tracker(), clip[:10])
    b = run(gaze.Tracker(), clip[:10], fmt="rgb", convert=lambda f: np.ascontiguousarray(f[:, :, ::-1]))
    for x, y in zip(a, b):
        assert x.to_dict() == y.to_dict()


def test_row_strided_crop_view_matches_a_contiguous_copy(clip):
    """A view into a larger buffer (rows with padding) is read in place and gives exactly
    the result of the packed frame."""
    frames = clip[:15]
    padded = [np.zeros((500, 700, 3), np.uint8) for _ in frames]
    views = []
    for p, f in zip(padded, frames):
        p[7:487, 13:653] = f
        views.append(p[7:487, 13:653])
    assert not views[0].flags.c_contiguous
    a = run(gaze.Tracker(), frames)
    b = run(gaze.Tracker(), views)
    for x, y in zip(a, b):
        assert x.to_dict() == y.to_dict()


@pytest.mark.parametrize(
    "make",
    [
        lambda f: f[::-1, :][::-1, :],  # double flip: positive strides again
        lambda f: np.asfortranarray(f),
        lambda f: f[:, ::-1][:, ::-1],
        lambda f: np.ascontiguousarray(f.transpose(1, 0, 2)).transpose(1, 0, 2),  # pixel steps
        lambda f: np.repeat(f, 2, axis=1)[:, ::2],  # every other pixel
        lambda f: np.repeat(f, 2, axis=0)[::2],  # every other row
    ],
)
def test_other_layouts_give_the_same_result(clip, make):
    frames = clip[:5]
    a = run(gaze.Tracker(), frames)
    b = run(gaze.Tracker(), frames, convert=make)
    for x, y in zip(a, b):
        assert x.to_dict() == y.to_dict()


def test_read_only_and_flipped_arrays_are_accepted(frame):
    ro = frame.copy()
    ro.flags.writeable = False
    assert gaze.Tracker().process(ro, timestamp_ms=0.0).face is not None
    flipped = frame[::-1]
    r = gaze.Tracker().process(flipped, timestamp_ms=0.0)
    assert r.height == 480


def test_reset_and_config(frame):
    t = gaze.Tracker(detect_every_frame=True, blink={"open_ratio": 0.8})
    assert t.config["detect_every_frame"] is True
    assert t.config["blink"]["open_ratio"] == pytest.approx(0.8)
    # Nested settings keep their other defaults.
    assert t.config["blink"]["close_ratio"] == pytest.approx(gaze.Tracker.default_config()["blink"]["close_ratio"])
    r1 = t.process(frame, timestamp_ms=0.0)
    t.reset()
    r2 = t.process(frame, timestamp_ms=0.0)
    assert r1.to_dict() == r2.to_dict()
    assert gaze.Tracker(smoothing=None).config["smoothing"] is None
