#!/usr/bin/env python3
"""Merges the JSON summaries of `activity_protocol eval` runs made on parts of the data
(`--datasets`) and prints the pooled time-level scores per scheme and condition.

    python gaze-activity/training/merge_eval.py target/eval-activity/main_*.json
"""

import json
import sys
from collections import defaultdict

CLASSES = ["reading", "browsing", "watching"]


def scores(m):
    out = {}
    f1s = []
    for c in range(3):
        t = sum(m[c])
        if t == 0:
            continue
        p_den = sum(m[r][c] for r in range(3))
        p = m[c][c] / p_den if p_den else 0.0
        r = m[c][c] / t
        f = 2 * p * r / (p + r) if p + r else 0.0
        f1s.append(f)
        out[CLASSES[c]] = (f, p, r, t)
    return (sum(f1s) / len(f1s) if f1s else float("nan")), out


def main():
    pooled = defaultdict(lambda: [[0.0] * 5 for _ in range(3)])
    per_ds = defaultdict(dict)
    unc = defaultdict(float)
    wq = {}
    for path in sys.argv[1:]:
        with open(path) as f:
            s = json.load(f)
        for key, v in s.items():
            for ds, d in v["datasets"].items():
                m = d["confusion_s"]
                tot = sum(map(sum, m))
                unc[key] += d["uncertain_share"] * tot
                for r in range(3):
                    for c in range(5):
                        pooled[key][r][c] += m[r][c]
                per_ds[key][ds] = d
            if v.get("webcam_readers_reading_recall") is not None:
                wq[key] = v["webcam_readers_reading_recall"]
    for key in sorted(pooled):
        m = pooled[key]
        mf, per = scores(m)
        tot = sum(map(sum, m))
        other = sum(m[r][3] for r in range(3)) / tot
        parts = " | ".join(
            f"{c[:5]} F1 {f:.3f} P {p:.3f} R {r:.3f}" for c, (f, p, r, _) in per.items()
        )
        print(f"{key:<34} macro-F1 {mf:.3f} | {parts} | other {other:.3f} uncertain {unc[key] / tot:.3f} | {tot:.0f} s")
        if key in wq:
            print(f"{'':<34} webcam readers reading recall {wq[key]:.3f}")
        for ds, d in sorted(per_ds[key].items()):
            cl = " ".join(
                f"{x['class'][:5]} R {x['recall']:.3f}" for x in d["classes"] if x["recall"] is not None
            )
            print(f"{'':<6}{ds:<28} F1 {d['macro_f1']:.3f}  {cl}")


if __name__ == "__main__":
    main()
