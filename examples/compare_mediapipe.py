#!/usr/bin/env python3
"""Side-by-side with legacy MediaPipe FaceMesh (refine_landmarks) on the same frames.

Not run in CI. Needs a venv with `mediapipe==0.10.21` and `numpy<2` (MediaPipe's wheel pins
them), e.g.:

    python3 -m venv /tmp/mp && /tmp/mp/bin/pip install mediapipe==0.10.21 'numpy<2'
    cargo build --release -p gaze-examples --bin frame_times
    taskset -c 0 /tmp/mp/bin/python examples/compare_mediapipe.py [VIDEO] [--repeat 3]

Both sides run single-threaded on the same decoded frames. Prints both medians (tracking mode
and detect-every-frame mode), their ratio, and the median distance between our iris centres and
MediaPipe's (landmarks 468 = subject's right iris, 473 = subject's left iris).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import cv2
import mediapipe as mp
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_VIDEO = os.path.join(ROOT, "testdata/webcam/webcam_cap12_t18-28s_640x480_25fps.mp4")


def ours(video, every_frame, repeat, reuse):
    exe = os.path.join(ROOT, "target/release/frame_times")
    cmd = [exe, video, "--repeat", str(repeat)] + (["--every-frame"] if every_frame else [])
    if reuse is not None:
        cmd += ["--reuse", str(reuse)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rows = [json.loads(l) for l in out.splitlines() if l.strip()]
    return rows


def mediapipe_run(frames, static, repeat):
    cv2.setNumThreads(1)
    times, iris = [], []
    for _ in range(repeat):
        mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=static, max_num_faces=1, refine_landmarks=True
        )
        iris = []
        for f in frames:
            rgb = cv2.cvtColor(f, cv2.COLOR_BGR2RGB)
            t0 = time.perf_counter()
            res = mesh.process(rgb)
            times.append((time.perf_counter() - t0) * 1000.0)
            if res.multi_face_landmarks:
                lm = res.multi_face_landmarks[0].landmark
                h, w = f.shape[:2]
                # MediaPipe normalises by the image size; our pixel centres are 0-based.
                p = lambda i: (lm[i].x * w - 0.5, lm[i].y * h - 0.5)
                iris.append((p(468), p(473)))
            else:
                iris.append(None)
        mesh.close()
    return times, iris


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("video", nargs="?", default=DEFAULT_VIDEO)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--reuse", type=float, default=None,
                    help="TrackerConfig.reuse_max_diff for our side (default: the library default)")
    args = ap.parse_args()
    cap = cv2.VideoCapture(args.video)
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    print(f"{len(frames)} frames from {args.video}")
    rows = []
    iris_med = iris_p90 = float("nan")
    for every in (False, True):
        # Interleave the two sides pass by pass so both see the same machine load.
        ours_t, mp_t, last, mp_iris = [], [], [], []
        for _ in range(args.repeat):
            r = ours(args.video, every, 1, args.reuse)
            ours_t += [x["ms"] for x in r]
            last = r
            t, mp_iris = mediapipe_run(frames, every, 1)
            mp_t += t
        mo, mm = statistics.median(ours_t), statistics.median(mp_t)
        mean_o, mean_m = statistics.mean(ours_t), statistics.mean(mp_t)
        name = "detect every frame" if every else "tracking"
        rows.append((name, mo, mm, mean_o, mean_m))
        if not every:
            d = []
            for ro, m in zip(last, mp_iris):
                if m is None or ro["right_iris"] is None or ro["left_iris"] is None:
                    continue
                d.append(np.hypot(*np.subtract(ro["right_iris"], m[0])))
                d.append(np.hypot(*np.subtract(ro["left_iris"], m[1])))
            if d:
                iris_med = statistics.median(d)
                iris_p90 = float(np.percentile(d, 90))
    print(f"{'mode':<20} {'gaze median':>12} {'mediapipe median':>17} {'ratio':>6} {'gaze mean':>10} {'mediapipe mean':>15} {'ratio':>6}")
    for name, mo, mm, ao, am in rows:
        print(f"{name:<20} {mo:12.3f} {mm:17.3f} {mo / mm:6.2f} {ao:10.3f} {am:15.3f} {ao / am:6.2f}")
    print(f"iris centre distance to MediaPipe 468/473: median {iris_med:.3f} px, p90 {iris_p90:.3f} px")


if __name__ == "__main__":
    sys.exit(main())
