#!/usr/bin/env python3
"""Trains the activity model (gradient-boosted trees) from feature rows.

The rows come from the Rust feature code itself (the single implementation used at run
time): `activity_protocol dump <data> rows.csv --augment 2` writes one row per whole second
of every labelled recording, at its native rate and in webcam-degraded copies.

    python gaze-activity/training/train_activity.py rows.csv \
        --full gaze-activity/src/activity/activity_trees.json   # the shipped model
    python gaze-activity/training/train_activity.py rows.csv --folds models/   # evaluation folds

Fold models: `lodo__<dataset>.json` (trained without that dataset) and
`loso__<subject>.json` (trained without that srivastava_desktop subject), read by
`activity_protocol eval`.

Reproducible: fixed seeds, single-threaded deterministic LightGBM, pinned requirements
(gaze-activity/training/requirements.txt). Calibration: a temperature fitted on subjects held
out of an inner model (never on the evaluation fold).
"""

import argparse
import csv
import json
import math
import re
import sys
from collections import Counter, defaultdict

import lightgbm as lgb
import numpy as np

SEED = 12
CLASSES = ["reading", "browsing", "watching"]
PARAMS = {
    "objective": "multiclass",
    "num_class": 3,
    "learning_rate": 0.08,
    "num_leaves": 12,
    "max_depth": 4,
    "min_data_in_leaf": 200,
    "feature_fraction": 0.7,
    "bagging_fraction": 0.7,
    "bagging_freq": 1,
    "lambda_l2": 5.0,
    "seed": SEED,
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 1,
    "verbose": -1,
}
ROUNDS = 120
# Never trained on (evaluation only): DIEM is CC BY-NC-SA (a model derived from it would
# carry the non-commercial terms); VED100, the Tobii lecture set and GazeCom have no licence
# we could find. srivastava_desktop (licence unclear) is trained on with the project lead's
# permission; it is never committed. Everything else is open (see the data README).
EVAL_ONLY = {"diem", "ved100_eyetribe", "tobii_lecture_scrollbarvis", "gazecom"}
# Row thinning: dataset/class groups larger than this keep every k-th second (windows of
# neighbouring seconds overlap by 90 %).
THIN_ABOVE = 10000


def file_key(s):
    return re.sub(r"[^A-Za-z0-9_-]", "_", s)


def load(path):
    with open(path, newline="") as f:
        r = csv.reader(f)
        header = next(r)
        names = header[6:]
        meta, xs = [], []
        for row in r:
            extra = len(row) - len(header)
            if extra > 0:  # an unquoted comma in the subject id (older dumps)
                row = [row[0], ";".join(row[1 : 2 + extra])] + row[2 + extra :]
            meta.append((row[0], row[1], row[2], int(row[3]), row[4], float(row[5])))
            xs.append([float(v) for v in row[6:]])
    x = np.asarray(xs, dtype=np.float64)
    ds = np.array([m[0] for m in meta])
    subj = np.array([m[1] for m in meta])
    rec = np.array([m[2] for m in meta])
    y = np.array([m[3] for m in meta], dtype=np.int64)
    cond = np.array([m[4] for m in meta])
    t = np.array([m[5] for m in meta])
    return names, x, y, ds, subj, rec, cond, t


def thin_mask(y, ds, t):
    """Groups (dataset, class) above THIN_ABOVE rows keep every k-th second, k chosen to
    bring them near THIN_ABOVE."""
    counts = Counter(zip(ds.tolist(), y.tolist()))
    step = {k: max(1, math.ceil(n / THIN_ABOVE)) for k, n in counts.items()}
    return np.array(
        [int(tt) % step[(d, c)] == 0 for d, c, tt in zip(ds, y, t)], dtype=bool
    )


DATASET_BALANCE = "sqrt"


def weights(y, ds):
    """Each class weighs the same; within a class a dataset weighs sqrt(its rows)
    (`DATASET_BALANCE = "equal"`: every dataset the same)."""
    n = Counter(zip(ds.tolist(), y.tolist()))
    if DATASET_BALANCE == "equal":
        z = Counter(c for (_, c) in n)
        w = np.array([1.0 / n[(d, c)] / z[c] for d, c in zip(ds, y)])
        return w * (len(y) / w.sum())
    z = defaultdict(float)
    for (d, c), k in n.items():
        z[c] += math.sqrt(k)
    w = np.array([1.0 / math.sqrt(n[(d, c)]) / z[c] for d, c in zip(ds, y)])
    return w * (len(y) / w.sum())


def train(x, y, ds):
    data = lgb.Dataset(x, label=y, weight=weights(y, ds), free_raw_data=False)
    return lgb.train(PARAMS, data, num_boost_round=ROUNDS)


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(raw, y, w):
    best = (float("inf"), 1.0)
    for temp in np.arange(0.5, 4.0001, 0.05):
        p = softmax(raw / temp)
        nll = -np.sum(w * np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1.0))) / w.sum()
        if nll < best[0]:
            best = (nll, float(round(temp, 2)))
    return best[1]


def inner_split(subj):
    """Deterministic ~25 % of the subjects (by a hash of the id) for calibration."""
    def h(s):
        v = 2166136261
        for b in s.encode():
            v = ((v ^ b) * 16777619) & 0xFFFFFFFF
        return v

    return np.array([h(s) % 4 == 0 for s in subj], dtype=bool)


def flatten(tree_structure):
    feat, thr, left, right, val = [], [], [], [], []

    def visit(node):
        i = len(feat)
        feat.append(-1)
        thr.append(0.0)
        left.append(0)
        right.append(0)
        val.append(0.0)
        if "leaf_value" in node:
            val[i] = float(node["leaf_value"])
            return i
        if node.get("decision_type", "<=") != "<=":
            raise ValueError("unsupported decision type")
        feat[i] = int(node["split_feature"])
        thr[i] = float(node["threshold"])
        left[i] = visit(node["left_child"])
        right[i] = visit(node["right_child"])
        return i

    visit(tree_structure)
    return {"feature": feat, "threshold": thr, "left": left, "right": right, "value": val}


def raw_from_trees(trees, x):
    z = np.zeros((len(x), 3))
    for t in trees:
        f, th, l, r, v = (t[k] for k in ("feature", "threshold", "left", "right", "value"))
        for n in range(len(x)):
            i = 0
            while f[i] >= 0:
                i = l[i] if x[n, f[i]] <= th[i] else r[i]
            z[n, t["class"]] += v[i]
    return z


def build(names, x, y, ds, subj, label):
    """Inner model for the temperature, then the final model on all rows; returns JSON."""
    cal = inner_split(subj)
    # Calibration subjects must cover the classes; fall back to all rows otherwise.
    if len(set(y[cal].tolist())) == 3 and len(set(y[~cal].tolist())) == 3:
        inner = train(x[~cal], y[~cal], ds[~cal])
        temp = fit_temperature(
            inner.predict(x[cal], raw_score=True), y[cal], weights(y[cal], ds[cal])
        )
    else:
        temp = 1.0
    booster = train(x, y, ds)
    dump = booster.dump_model()
    trees = []
    for info in dump["tree_info"]:
        t = flatten(info["tree_structure"])
        t["class"] = info["tree_index"] % 3
        trees.append(t)
    # Check rows: a spread of training rows; the trees must reproduce LightGBM exactly.
    idx = np.linspace(0, len(x) - 1, 24).astype(int)
    lgb_raw = booster.predict(x[idx], raw_score=True)
    own_raw = raw_from_trees(trees, x[idx])
    init = (lgb_raw - own_raw).mean(axis=0)
    if np.abs(lgb_raw - own_raw - init).max() > 1e-9:
        raise SystemExit("flattened trees do not reproduce LightGBM")
    p = softmax(lgb_raw / temp)
    counts = Counter(zip(ds.tolist(), [CLASSES[c] for c in y.tolist()]))
    return {
        "format": "gaze-activity-trees-1",
        "features": names,
        "init": [float(v) for v in init],
        "temperature": temp,
        "trees": [
            {"class": t["class"], **{k: t[k] for k in ("feature", "threshold", "left", "right", "value")}}
            for t in trees
        ],
        "checks": [{"x": [float(v) for v in x[i]], "p": [float(v) for v in p[k]]} for k, i in enumerate(idx)],
        "meta": {
            "model": label,
            "trainer": "gaze-activity/training/train_activity.py",
            "lightgbm": lgb.__version__,
            "numpy": np.__version__,
            "params": PARAMS,
            "rounds": ROUNDS,
            "rows": int(len(y)),
            "rows_per_dataset_class": {f"{d}/{c}": n for (d, c), n in sorted(counts.items())},
        },
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("rows")
    ap.add_argument("--full", help="write the model trained on all rows here")
    ap.add_argument("--folds", help="write LODO / LOSO fold models into this folder")
    ap.add_argument(
        "--loso",
        default="srivastava_desktop,webqamgaze",
        help="datasets whose subjects get leave-one-subject-out models",
    )
    ap.add_argument("--no-lodo", action="store_true", help="only the LOSO fold models")
    a = ap.parse_args()
    names, x, y, ds, subj, rec, cond, t = load(a.rows)
    eval_only = sorted(set(ds.tolist()) & EVAL_ONLY)
    keep = thin_mask(y, ds, t) & ~np.isin(ds, list(EVAL_ONLY))
    x, y, ds, subj = x[keep], y[keep], ds[keep], subj[keep]
    print(f"{len(y)} rows after thinning; per class {Counter(y.tolist())}", file=sys.stderr)
    jobs = []
    if a.full:
        jobs.append((a.full, np.ones(len(y), dtype=bool), "all rows"))
    if a.folds:
        import os

        os.makedirs(a.folds, exist_ok=True)
        for d in sorted(set(ds.tolist())) if not a.no_lodo else []:
            jobs.append((os.path.join(a.folds, f"lodo__{file_key(d)}.json"), ds != d, f"without dataset {d}"))
        # Evaluation-only sets are never trained on: their held-out model is the full one.
        full = np.ones(len(y), dtype=bool)
        if not a.no_lodo:
            jobs.append(([os.path.join(a.folds, f"lodo__{file_key(d)}.json") for d in eval_only], full, "all training rows (dataset never trained on)"))
        for s in sorted(set(subj[np.isin(ds, a.loso.split(","))].tolist())):
            jobs.append((os.path.join(a.folds, f"loso__{file_key(s)}.json"), subj != s, f"without subject {s}"))
    for paths, m, label in jobs:
        paths = [paths] if isinstance(paths, str) else paths
        if not paths:
            continue
        model = build(names, x[m], y[m], ds[m], subj[m], label)
        model["meta"]["never_trained_on"] = eval_only
        for path in paths:
            with open(path, "w") as f:
                json.dump(model, f, separators=(",", ":"))
            print(f"{path}: {label}, {int(m.sum())} rows, T={model['temperature']}", file=sys.stderr)


if __name__ == "__main__":
    main()
