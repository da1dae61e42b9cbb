"""Wrong types, dtypes, shapes, formats and layouts raise clear errors, never crash."""

import math

import numpy as np
import pytest

import gaze


@pytest.fixture(scope="module")
def tracker():
    return gaze.Tracker()


@pytest.mark.parametrize("value", [None, [1, 2, 3], b"\x00" * 30, "frame", 3.5, {"a": 1}])
def test_non_arrays_are_type_errors(tracker, value):
    with pytest.raises(TypeError, match="numpy.ndarray"):
        tracker.process(value, timestamp_ms=0.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint16, np.int8, np.int32, np.bool_, np.complex64])
def test_wrong_dtype_is_a_type_error(tracker, dtype):
    with pytest.raises(TypeError, match="uint8"):
        tracker.process(np.zeros((48, 64, 3), dtype), timestamp_ms=0.0)


@pytest.mark.parametrize("shape", [(10,), (4, 5, 2), (4, 5, 5), (2, 3, 4, 3), (), (1, 1, 1, 1)])
def test_wrong_shape_is_a_value_error(tracker, shape):
    with pytest.raises(ValueError, match="shape"):
        tracker.process(np.zeros(shape, np.uint8), timestamp_ms=0.0)


@pytest.mark.parametrize("shape", [(0, 0, 3), (0, 10, 3), (10, 0, 3), (0, 5), (5, 0), (0, 0, 4)])
def test_empty_frames_are_value_errors(tracker, shape):
    with pytest.raises(ValueError, match="empty"):
        tracker.process(np.zeros(shape, np.uint8), timestamp_ms=0.0)


def test_too_large_frame_is_a_value_error(tracker):
    with pytest.raises(ValueError, match="maximum"):
        tracker.process(np.zeros((1, 20000), np.uint8), timestamp_ms=0.0)


@pytest.mark.parametrize(
    "shape,fmt",
    [((8, 8, 3), "gray"), ((8, 8, 3), "rgba"), ((8, 8), "bgr"), ((8, 8, 4), "rgb"), ((8, 8, 1), "bgra")],
)
def test_format_channel_mismatch_is_a_value_error(tracker, shape, fmt):
    with pytest.raises(ValueError, match="channel"):
        tracker.process(np.zeros(shape, np.uint8), timestamp_ms=0.0, format=fmt)


def test_unknown_format_is_a_value_error(tracker):
    with pytest.raises(ValueError, match="pixel format"):
        tracker.process(np.zeros((8, 8, 3), np.uint8), timestamp_ms=0.0, format="yuv")


@pytest.mark.parametrize("ts", [math.nan, math.inf, -math.inf])
def test_non_finite_timestamp_is_a_value_error(tracker, ts):
    with pytest.raises(ValueError, match="timestamp"):
        tracker.process(np.zeros((8, 8, 3), np.uint8), timestamp_ms=ts)


def test_wrong_argument_types(tracker):
    with pytest.raises(TypeError):
        tracker.process(np.zeros((8, 8, 3), np.uint8), timestamp_ms="now")
    with pytest.raises(TypeError):
        tracker.process(np.zeros((8, 8, 3), np.uint8), format=3)


def test_tiny_frames_give_no_face(tracker):
    for shape in [(1, 1), (1, 1, 3), (2, 3, 4), (1, 640, 3), (480, 1, 3)]:
        r = tracker.process(np.zeros(shape, np.uint8), timestamp_ms=0.0)
        assert r.face is None


def test_broadcast_and_zero_stride_views(tracker):
    row = np.arange(64 * 3, dtype=np.uint8).reshape(1, 64, 3)
    b = np.broadcast_to(row, (48, 64, 3))
    assert b.strides[0] == 0
    assert tracker.process(b, timestamp_ms=0.0).face is None
    px = np.broadcast_to(np.uint8(7), (20, 30))
    assert tracker.process(px, timestamp_ms=0.0).face is None


def test_config_errors():
    with pytest.raises(TypeError, match="unexpected keyword argument 'min_face_scor'"):
        gaze.Tracker(min_face_scor=0.5)
    with pytest.raises(ValueError, match="min_face_score"):
        gaze.Tracker(min_face_score=7.0)
    with pytest.raises(ValueError):
        gaze.Tracker(min_face_score="high")
    with pytest.raises(ValueError, match="finite"):
        gaze.Tracker(min_face_score=math.nan)
    with pytest.raises(TypeError, match="blink.nope"):
        gaze.Tracker(blink={"nope": 1})
    with pytest.raises(TypeError):
        gaze.Tracker(blink=object())


def test_random_inputs_never_crash():
    """Random shapes, dtypes, strides and formats: a result or ValueError/TypeError only."""
    rng = np.random.default_rng(1234)
    t = gaze.Tracker()
    dtypes = [np.uint8] * 6 + [np.float32, np.int16, np.bool_]
    formats = [None, None, "gray", "bgr", "rgb", "bgra", "rgba", "bogus"]
    outcomes = {"ok": 0, "ValueError": 0, "TypeError": 0}
    for i in range(300):
        ndim = int(rng.integers(0, 5))
        shape = tuple(int(rng.integers(0, 40)) for _ in range(ndim))
        if ndim == 3 and rng.random() < 0.7:
            shape = shape[:2] + (int(rng.choice([1, 3, 4])),)
        a = (rng.random(shape) * 255).astype(rng.choice(dtypes))
        if a.ndim >= 2 and rng.random() < 0.5:
            steps = tuple(int(rng.choice([1, 1, 2, -1])) for _ in range(a.ndim))
            a = a[tuple(slice(None, None, s) for s in steps)]
        if a.ndim == 3 and rng.random() < 0.2:
            a = a.transpose(1, 0, 2)
        fmt = formats[int(rng.integers(0, len(formats)))]
        ts = float(rng.choice([0.0, i * 40.0, math.nan])) if rng.random() < 0.2 else i * 40.0
        try:
            r = t.process(a, timestamp_ms=ts, format=fmt)
            assert r.width == a.shape[1]
            outcomes["ok"] += 1
        except (ValueError, TypeError) as e:
            assert str(e)
            outcomes[type(e).__name__] += 1
    assert all(v > 0 for v in outcomes.values()), outcomes


def test_huge_broadcast_views_are_rejected_before_any_copy(tracker):
    # 100000 x 100000 x 3 (30 GB if copied) through a zero-stride view: rejected as too large.
    huge = np.broadcast_to(np.uint8(0), (100_000, 100_000, 3))
    with pytest.raises(ValueError, match="maximum"):
        tracker.process(huge, timestamp_ms=0.0)
    wide = np.broadcast_to(np.uint8(0), (2, 10**9))
    with pytest.raises(ValueError, match="maximum"):
        tracker.process(wide, timestamp_ms=0.0)
