"""Calibration fit / predict / JSON round trip and tracker.calibration."""

import json

import pytest

import gaze


def grid():
    feats, targets = [], []
    for gy in (-1.0, 0.0, 1.0):
        for gx in (-1.0, 0.0, 1.0):
            feats.append({
                "yaw_deg": 15.0 * gx, "pitch_deg": -10.0 + 8.0 * gy, "horizontal": 0.3 * gx,
                "vertical": -0.2 * gy, "head_yaw_deg": 0.0, "head_pitch_deg": 0.0,
            })
            targets.append((960.0 + 900.0 * gx, 540.0 - 500.0 * gy))
    return feats, targets


def test_fit_predict_round_trip():
    feats, targets = grid()
    cal = gaze.Calibration.fit(feats, targets, screen=(1920, 1080))
    assert cal.n_samples == 9 and cal.screen == (1920.0, 1080.0)
    assert cal.validation_error_px < 150
    x, y = cal.predict(feats[4])
    assert abs(x - 960) < 60 and abs(y - 540) < 60
    back = gaze.Calibration.from_json(cal.to_json())
    assert back == cal
    assert json.loads(cal.to_json())["n_samples"] == 9
    assert cal.to_dict()["screen_width"] == 1920.0


def test_fit_errors():
    feats, targets = grid()
    with pytest.raises(ValueError, match="at least"):
        gaze.Calibration.fit(feats[:3], targets[:3], screen=(1920, 1080))
    with pytest.raises(ValueError, match="targets"):
        gaze.Calibration.fit(feats, targets[:5], screen=(1920, 1080))
    with pytest.raises(ValueError, match="screen"):
        gaze.Calibration.fit(feats, targets, screen=(0, 1080))
    with pytest.raises(TypeError):
        gaze.Calibration.fit([1, 2, 3, 4, 5], targets[:5], screen=(1920, 1080))
    with pytest.raises(ValueError):
        gaze.Calibration.from_json("{not json")
    with pytest.raises(ValueError):
        gaze.Calibration.fit([{"yaw_deg": "x"}] * 5, targets[:5], screen=(1920, 1080))


def test_tracker_uses_the_calibration(clip):
    t = gaze.Tracker()
    results = [t.process(f, timestamp_ms=i * 40.0) for i, f in enumerate(clip[:12])]
    with_gaze = [r for r in results if r.gaze is not None][:9]
    assert len(with_gaze) == 9
    # Fit from real frame results (FrameResult accepted directly as a sample).
    _, targets = grid()
    cal = gaze.Calibration.fit(with_gaze, targets, screen=(1920, 1080))
    assert t.calibration is None
    t.calibration = cal
    assert t.calibration == cal
    r = t.process(clip[12], timestamp_ms=12 * 40.0)
    assert r.gaze.screen is not None and r.to_dict()["screen"] is not None
    t.calibration = None
    assert t.process(clip[13], timestamp_ms=13 * 40.0).gaze.screen is None
    no_face = t.process(clip[0][:10, :10], timestamp_ms=14 * 40.0)
    with pytest.raises(ValueError, match="no gaze"):
        cal.predict(no_face)
