"""Activity classifier, classify_trace (numpy in, segments out) and Session reports."""

import numpy as np
import pytest

import gaze

REPORT_KEYS = {
    "session_id", "focus_time", "distraction_time", "session_report", "started_at", "ended_at",
    "duration", "other_time", "no_data_time", "uncertain_time", "blink_count", "blink_rate_per_min",
    "fixation_count", "mean_fixation_ms", "timeline", "blink_onsets_ms",
}
# Present once the session has a gaze point (omitted otherwise).
HEATMAP_KEYS = {"plane", "x_min", "x_max", "y_min", "y_max", "cols", "rows", "cells", "outside"}


def reading_trace(seconds=12.0, hz=30.0):
    """Synthetic reading: left-to-right steps along lines, return sweeps, line feeds."""
    t = np.arange(0, seconds * 1000.0, 1000.0 / hz)
    x = np.empty_like(t)
    y = np.empty_like(t)
    for i, ti in enumerate(t):
        fix = int(ti // 250)  # 250 ms fixations
        word = fix % 10
        line = (fix // 10) % 20
        x[i] = 300 + word * 120
        y[i] = 200 + line * 40
    return t, x, y


def test_classify_trace_takes_numpy_and_returns_segments():
    t, x, y = reading_trace()
    segs = gaze.classify_trace(t, x, y, screen=(1920, 1080))
    assert isinstance(segs, list) and segs
    for s in segs:
        assert set(s) == {"start_ms", "end_ms", "activity", "attention"}
        assert s["end_ms"] >= s["start_ms"]
        assert s["activity"] in {"reading", "browsing", "watching", "other", "none"}
        assert s["attention"] in {"focused", "distracted", "no_data"}
    assert segs[0]["start_ms"] == t[0]
    # Lists and integer arrays work too; valid masks are honoured.
    segs2 = gaze.classify_trace(list(t), x.astype(np.int64), y, valid=np.ones(len(t), bool), screen=(1920, 1080))
    assert segs2 == segs
    invalid = gaze.classify_trace(t, x, y, valid=np.zeros(len(t), bool), screen=(1920, 1080))
    assert all(s["attention"] != "focused" for s in invalid)


def test_classify_trace_errors():
    with pytest.raises(ValueError, match="same length"):
        gaze.classify_trace(np.arange(5.0), np.arange(4.0), np.arange(5.0))
    with pytest.raises(TypeError, match="unexpected keyword"):
        gaze.classify_trace(np.arange(5.0), np.arange(5.0), np.arange(5.0), bogus=1)
    with pytest.raises(ValueError):
        gaze.classify_trace(np.arange(5.0), np.arange(5.0), np.arange(5.0), max_gap_ms=-1.0)
    assert gaze.classify_trace(np.array([]), np.array([]), np.array([])) == []


def test_streaming_classifier_matches_batch():
    t, x, y = reading_trace()
    c = gaze.ActivityClassifier(screen=(1920, 1080))
    states = [c.push(ti, xi, yi) for ti, xi, yi in zip(t, x, y)]
    assert all(s["accepted"] for s in states)
    assert set(states[-1]) == {"t_ms", "accepted", "activity", "attention", "totals"}
    final = c.finish()
    assert final["timeline"] == gaze.classify_trace(t, x, y, screen=(1920, 1080))
    assert c.fixation_count > 10 and c.mean_fixation_ms > 0
    # Out-of-order samples are rejected, not fatal.
    assert c.push(0.0, 1.0, 1.0)["accepted"] is False and c.rejected == 1
    assert c.config["geometry"]["width_px"] == 1920


def test_session_over_the_clip(clip):
    t = gaze.Tracker()
    s = gaze.Session("clip-1", screen=(1920, 1080))
    assert s.session_id == "clip-1"
    last = None
    for i, f in enumerate(clip):
        last = s.push(t.process(f, timestamp_ms=1_700_000_000_000.0 + i * 40.0))
    assert last["accepted"] is True
    running = s.report()
    assert set(running) == REPORT_KEYS | {"gaze_heatmap"}
    rep = s.finish()
    assert set(rep) == REPORT_KEYS | {"gaze_heatmap"}
    heat = rep["gaze_heatmap"]
    assert set(heat) == HEATMAP_KEYS
    # Uncalibrated: the gaze-ratio plane; every held interval is in some cell or outside.
    assert heat["plane"] == "ratio" and len(heat["cells"]) == heat["cols"] * heat["rows"]
    assert 0 < sum(heat["cells"]) + heat["outside"] <= rep["duration"] + 1e-9
    assert len(rep["blink_onsets_ms"]) == rep["blink_count"]
    assert set(rep["session_report"]) == {"reading_time", "browsing_time", "watching_time"}
    assert rep["session_id"] == "clip-1"
    assert rep["duration"] == pytest.approx(249 * 0.040, abs=1e-6)
    total = rep["focus_time"] + rep["distraction_time"] + rep["no_data_time"]
    assert total == pytest.approx(rep["duration"], abs=1e-3)
    assert rep["started_at"] == 1_700_000_000_000.0
    # Snapshot / restore keeps the state.
    restored = gaze.Session.restore_json(s.snapshot_json())
    assert restored.report() == s.report()
    with pytest.raises(ValueError):
        gaze.Session.restore_json("{}")


def test_session_samples_and_errors():
    s = gaze.Session("x")
    st = s.push_sample(0.0, 100.0, 100.0)
    assert st["accepted"] and st["blink_count"] == 0
    with pytest.raises(TypeError):
        s.push("not a result")
    with pytest.raises(TypeError, match="unexpected keyword"):
        gaze.Session("x", nope=1)
