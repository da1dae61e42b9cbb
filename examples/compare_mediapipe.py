#!/usr/bin/env python3
"""Side-by-side with legacy MediaPipe FaceMesh (refine_landmarks) on the same frames.

Not run in CI. Needs a venv with `mediapipe==0.10.21` and `numpy<2` (MediaPipe's wheel pins
them), e.g.:

    python3 -m venv /tmp/mp && /tmp/mp/bin/pip install mediapipe==0.10.21 'numpy<2'
    cargo build --release -p gaze-examples --bin frame_times
    taskset -c 0 /tmp/mp/bin/python examples/compare_mediapipe.py [VIDEO] [--repeat 3]

Both sides run single-threaded on the same decoded frames, interleaved pass by pass. Prints
medians and means with their ratios for: tracking with crop reuse at its default and with reuse
off (vs MediaPipe's tracking mode), and detect-every-frame (vs MediaPipe's static mode); the
median distance between our iris centres and MediaPipe's (landmarks 468 = subject's right iris,
473 = subject's left iris); the engine gaze ran (`--engine`, default auto: OpenVINO through
GAZE_OPENVINO_LIB, e.g. `GAZE_OPENVINO_LIB=$(scripts/openvino-lib.sh)`); the load average.
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


def ours(video, every_frame, repeat, reuse, engine):
    exe = os.path.join(ROOT, "target/release/frame_times")
    cmd = [exe, video, "--repeat", str(repeat), "--engine", engine]
    cmd += ["--every-frame"] if every_frame else []
    if reuse is not None:
        cmd += ["--reuse", str(reuse)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    rows = [json.loads(l) for l in out.stdout.splitlines() if l.strip()]
    ran = [l.split()[-1] for l in out.stderr.splitlines() if l.startswith("frame_times: engine")]
    return rows, (ran[0] if ran else "?")


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


def iris_distances(ours_rows, mp_iris):
    d = []
    for ro, m in zip(ours_rows, mp_iris):
        if m is None or ro["right_iris"] is None or ro["left_iris"] is None:
            continue
        d.append(np.hypot(*np.subtract(ro["right_iris"], m[0])))
        d.append(np.hypot(*np.subtract(ro["left_iris"], m[1])))
    return d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("video", nargs="?", default=DEFAULT_VIDEO)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--reuse", type=float, default=None,
                    help="TrackerConfig.reuse_max_diff for the 'reuse default' rows (default: "
                         "the library default)")
    ap.add_argument("--engine", default="auto", choices=["auto", "openvino", "opencv"],
                    help="gaze's inference engine (auto: OpenVINO when GAZE_OPENVINO_LIB or the "
                         "library path has it)")
    args = ap.parse_args()
    cap = cv2.VideoCapture(args.video)
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    print(f"{len(frames)} frames from {args.video}")
    load = os.getloadavg()
    # Ours: (name, every_frame, reuse); each is compared with MediaPipe in the matching mode
    # (tracking vs static_image_mode). The passes are interleaved so that both sides see the
    # same machine load.
    modes = [
        ("tracking, reuse default", False, args.reuse),
        ("tracking, reuse off", False, 0.0),
        ("detect every frame", True, args.reuse),
    ]
    ours_t = {m[0]: [] for m in modes}
    mp_t = {False: [], True: []}
    last_rows, mp_iris, engine = {}, {}, "?"
    for _ in range(args.repeat):
        for name, every, reuse in modes:
            r, engine = ours(args.video, every, 1, reuse, args.engine)
            ours_t[name] += [x["ms"] for x in r]
            last_rows[name] = r
            if name != "tracking, reuse default":
                continue
            t, mp_iris[False] = mediapipe_run(frames, False, 1)
            mp_t[False] += t
        t, mp_iris[True] = mediapipe_run(frames, True, 1)
        mp_t[True] += t
    print(f"gaze engine: {engine}; load average before the run: "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"{'mode':<26} {'gaze median':>12} {'mediapipe median':>17} {'ratio':>6} "
          f"{'gaze mean':>10} {'mediapipe mean':>15} {'ratio':>6}")
    for name, every, _ in modes:
        o, m = ours_t[name], mp_t[every]
        mo, mm = statistics.median(o), statistics.median(m)
        ao, am = statistics.mean(o), statistics.mean(m)
        peer = "static" if every else "tracking"
        print(f"{name:<26} {mo:12.3f} {mm:17.3f} {mo / mm:6.2f} {ao:10.3f} {am:15.3f} "
              f"{ao / am:6.2f}   (MediaPipe {peer})")
    for name in ("tracking, reuse default", "tracking, reuse off"):
        d = iris_distances(last_rows[name], mp_iris[False])
        if d:
            print(f"iris centre distance to MediaPipe 468/473 ({name}): median "
                  f"{statistics.median(d):.3f} px, p90 {float(np.percentile(d, 90)):.3f} px")
    load = os.getloadavg()
    print(f"load average after the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    sys.exit(main())
