#!/usr/bin/env python3
"""Per-frame time of gaze.Tracker.process through Python on the committed webcam clip, and
(optionally, in the same process) legacy MediaPipe FaceMesh on the same frames.

Prints one JSON object: median / mean ms per frame for each side and mode. Run it through
run_bench.sh, which builds a release wheel, pins one core and adds the Rust figures.

    python bench_tracker.py [--repeat 3] [--mediapipe] [--video PATH]
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

import gaze

ROOT = Path(__file__).resolve().parents[3]
VIDEO = ROOT / "testdata" / "webcam" / "webcam_cap12_t18-28s_640x480_25fps.mp4"


def decode(path):
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(np.ascontiguousarray(f))
    cap.release()
    if not frames:
        sys.exit(f"no frames decoded from {path}")
    return frames


def summary(times):
    return {
        "frames": len(times),
        "median_ms": statistics.median(times),
        "mean_ms": statistics.fmean(times),
        "p90_ms": float(np.percentile(times, 90)),
    }


def time_gaze(frames, every_frame, repeat, reset_each_pass, warmup=20):
    """Per-call times of Tracker.process over `repeat` passes of the clip.

    reset_each_pass=False: one tracker, timestamps keep increasing (like the criterion bench).
    reset_each_pass=True: reset before each pass, timestamps n * 40 (like examples/frame_times).
    """
    tracker = gaze.Tracker(detect_every_frame=every_frame)
    for i in range(warmup):
        tracker.process(frames[i % len(frames)], timestamp_ms=-1e6 + i * 40.0)
    tracker.reset()
    times = []
    t_ms = 0.0
    for _ in range(repeat):
        if reset_each_pass:
            tracker.reset()
            t_ms = 0.0
        for f in frames:
            t0 = time.perf_counter()
            tracker.process(f, timestamp_ms=t_ms)
            times.append((time.perf_counter() - t0) * 1000.0)
            t_ms += 40.0
    return times


def binding_cost_us(frame, n=20000):
    """Everything the binding adds around the core call except wrapping the result: type,
    dtype and shape checks, the numpy borrow, the GIL release and gaze-core's frame
    validation, measured on a call that fails right there (NaN timestamp) so no tracking
    work is done. Upper bound: it also pays for raising the ValueError."""
    import math
    import timeit

    tracker = gaze.Tracker()

    def call():
        try:
            tracker.process(frame, timestamp_ms=math.nan)
        except ValueError:
            pass

    return min(timeit.repeat(call, number=n, repeat=5)) / n * 1e6


def time_mediapipe(frames, static, repeat):
    import mediapipe as mp

    times = []
    for _ in range(repeat):
        mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=static, max_num_faces=1, refine_landmarks=True
        )
        for f in frames:
            rgb = cv2.cvtColor(f, cv2.COLOR_BGR2RGB)
            t0 = time.perf_counter()
            mesh.process(rgb)
            times.append((time.perf_counter() - t0) * 1000.0)
        mesh.close()
    return times


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--video", default=str(VIDEO))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--mediapipe", action="store_true", help="also time MediaPipe FaceMesh")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    gaze.set_num_threads(1)  # like the Rust benches (opencv::core::set_num_threads(1))
    frames = decode(args.video)
    out = {
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "gaze": gaze.__version__,
        "gaze_module": os.path.dirname(gaze.__file__),
        "video": args.video,
        "repeat": args.repeat,
    }
    out["binding_cost_us"] = binding_cost_us(frames[0])
    for mode, every in (("tracking", False), ("detect_every_frame", True)):
        out[f"gaze_{mode}"] = summary(time_gaze(frames, every, args.repeat, reset_each_pass=False))
        out[f"gaze_{mode}_reset"] = summary(time_gaze(frames, every, args.repeat, reset_each_pass=True))
        if args.mediapipe:
            import mediapipe as mp

            out["mediapipe"] = mp.__version__
            out[f"mediapipe_{mode}"] = summary(time_mediapipe(frames, every, args.repeat))
            out[f"ratio_{mode}"] = out[f"gaze_{mode}"]["median_ms"] / out[f"mediapipe_{mode}"]["median_ms"]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
