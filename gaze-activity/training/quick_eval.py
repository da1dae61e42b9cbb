#!/usr/bin/env python3
"""Fast approximation of `activity_protocol eval` on a feature dump, for iterating on the
training recipe (minutes instead of half an hour). The Rust evaluation stays the reference.

    python gaze-activity/training/quick_eval.py rows.csv [--loso] [--drop f1,f2] [--smooth S]

Held-out rows of each fold are scored with LightGBM directly: `native` rows as they are and
the first webcam-degraded copy (`aug0`) as the webcam condition. Per recording, the
per-second probabilities are smoothed (exponential, time constant `--tau` seconds, like the
streaming classifier's score smoothing) and the label is the best class when its smoothed
probability reaches 0.5, else `other` (a miss). Scores: pooled confusion over the held-out
folds (macro-F1 over reading / browsing / watching) and the dataset-balanced variant (every
dataset weighs the same within its class).
"""

import argparse
import sys
from collections import defaultdict

import numpy as np

import train_activity as ta

CL = ["read", "brow", "watc"]


def f1s(m):
    out = []
    for c in range(3):
        t = m[c].sum()
        if t == 0:
            out.append(float("nan"))
            continue
        p_den = m[:3, c].sum() if m.shape[0] > 3 else m[:, c].sum()
        p = m[c, c] / p_den if p_den else 0.0
        r = m[c, c] / t
        out.append(2 * p * r / (p + r) if p + r else 0.0)
    return out


def label_seconds(prob, rec, t, tau, min_score=0.5):
    """Smoothed labels per row (rows grouped by recording, in time order)."""
    lab = np.full(len(prob), 3)
    order = np.lexsort((t, rec))
    prev_rec, s, prev_t, cur = None, None, None, 3
    for i in order:
        if rec[i] != prev_rec:
            s = prob[i].copy()
            cur = 3
        else:
            a = 1.0 - np.exp(-(t[i] - prev_t) / tau) if tau > 0 else 1.0
            s = s + a * (prob[i] - s)
        prev_rec, prev_t = rec[i], t[i]
        b = int(np.argmax(s))
        cand = b if s[b] >= min_score else 3
        if cur == 3 or cand == cur:
            cur = cand
        else:
            curv = s[cur]
            if s[b] >= curv + 0.1 or (cand == 3 and curv < min_score - 0.1):
                cur = cand
        lab[i] = cur
    return lab


def report(name, rows, out=sys.stdout):
    """rows: list of (dataset, y, label) arrays per condition."""
    for cond, (ds, y, lab) in rows.items():
        m = np.zeros((3, 4))
        per = defaultdict(lambda: np.zeros((3, 4)))
        for d, yy, ll in zip(ds, y, lab):
            m[yy, ll] += 1
            per[d][yy, ll] += 1
        # dataset-balanced: every (dataset, class) cell scaled to the same total
        mb = np.zeros((3, 4))
        for d, pm in per.items():
            for c in range(3):
                tot = pm[c].sum()
                if tot:
                    mb[c] += pm[c] / tot * 1000.0
        f = f1s(m)
        fb = f1s(mb)
        print(
            f"{name:<14} {cond:<7} pooled macro {np.nanmean(f):.3f} ["
            + " ".join(f"{v:.2f}" for v in f)
            + f"]  balanced {np.nanmean(fb):.3f} ["
            + " ".join(f"{v:.2f}" for v in fb)
            + "]",
            file=out,
        )
        for d in sorted(per):
            pm = per[d]
            rs = " ".join(
                f"{CL[c]} R {pm[c, c] / pm[c].sum():.2f} (→r{pm[c,0]/pm[c].sum():.2f} b{pm[c,1]/pm[c].sum():.2f} w{pm[c,2]/pm[c].sum():.2f} o{pm[c,3]/pm[c].sum():.2f})"
                for c in range(3)
                if pm[c].sum()
            )
            print(f"{'':<24}{d:<28} {rs}", file=out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("rows")
    ap.add_argument("--loso", action="store_true", help="also leave-one-subject-out")
    ap.add_argument("--drop", default="", help="features to leave out (comma separated)")
    ap.add_argument("--tau", type=float, default=0.8, help="smoothing time constant (s)")
    ap.add_argument("--train-conds", default="", help="only these conds in training")
    ap.add_argument("--params", default="{}", help="LightGBM parameter overrides (JSON)")
    ap.add_argument("--rounds", type=int, default=ta.ROUNDS)
    ap.add_argument("--balance", choices=["sqrt", "equal"], default="sqrt",
                    help="dataset weight within a class: sqrt(rows) (shipped) or equal")
    ap.add_argument("--min-score", type=float, default=0.5)
    a = ap.parse_args()
    import json
    ta.PARAMS.update(json.loads(a.params))
    ta.ROUNDS = a.rounds
    if a.balance == "equal":
        ta.DATASET_BALANCE = "equal"
    names, x, y, ds, subj, rec, cond, t = ta.load(a.rows)
    drop = [n for n in a.drop.split(",") if n]
    keep_f = [i for i, n in enumerate(names) if n not in drop]
    x = x[:, keep_f]
    train_ok = ta.thin_mask(y, ds, t) & ~np.isin(ds, list(ta.EVAL_ONLY))
    if a.train_conds:
        train_ok &= np.isin(cond, a.train_conds.split(","))
    test_conds = {"native": cond == "native", "webcam": cond == "aug0"}

    def fold(train_m, test_m, acc):
        booster = ta.train(x[train_m], y[train_m], ds[train_m])
        for cn, cm in test_conds.items():
            m = test_m & cm
            if not m.any():
                continue
            p = ta.softmax(booster.predict(x[m], raw_score=True))
            lab = label_seconds(p, rec[m], t[m], a.tau, a.min_score)
            acc[cn][0].append(ds[m])
            acc[cn][1].append(y[m])
            acc[cn][2].append(lab)

    def finish(acc):
        return {c: tuple(np.concatenate(v) for v in vals) for c, vals in acc.items()}

    acc = defaultdict(lambda: ([], [], []))
    trained = sorted(set(ds[train_ok].tolist()))
    for d in trained:
        fold(train_ok & (ds != d), ds == d, acc)
    fold(train_ok, np.isin(ds, list(ta.EVAL_ONLY)), acc)
    report("lodo", finish(acc))
    if a.loso:
        acc = defaultdict(lambda: ([], [], []))
        for s in sorted(set(subj[np.isin(ds, ["srivastava_desktop", "webqamgaze"])].tolist())):
            fold(train_ok & (subj != s), subj == s, acc)
        report("loso", finish(acc))


if __name__ == "__main__":
    main()
