#!/usr/bin/env python3
"""Post-training int8 quantisation of iris_landmark.onnx with NNCF (ONNX backend).

Run through quantize_iris.sh, which makes the venv and the eye positions. Inputs:

  --eyes  JSON lines from examples/frame_times (float network, reuse off): per frame the
          tracker's iris centres `right_iris` / `left_iris` (image pixels), or null.
  --video the clip those lines came from.

Calibration crops are cut the way gaze-core's tracker cuts them (iris.rs `EyeRoi::pair` with
scale 1: a square as wide as the distance between the irises, rotated along the line between
them, the eye on the image's right mirrored, 64×64 RGB in [0, 1]), plus jittered copies
(±10 % of the crop in position, ±15 % in size, ±0.1 rad) so that the ranges also cover the
crops of frames where the tracker is catching up. The graph is moved to opset 13 first
(per-channel weight scales need it). Layers kept in float: the iris branch (after the trunk
splits into contour and iris heads; it runs on 4×4 features, so it costs little) and the
contour head — they carry the coordinates, and quantising them moved iris centres most.

Prints the float-vs-int8 iris-centre differences (image pixels) on the un-jittered crops.
"""
import argparse
import json
import math
import random

import cv2
import nncf
import numpy as np
import onnx
import onnxruntime as ort
from onnx import version_converter

SIDE = 64


def crop_matrix(cx, cy, size, angle, flip):
    """Image → crop affine map (iris.rs `EyeRoi::forward`)."""
    k = SIDE / size
    s, c = math.sin(angle), math.cos(angle)
    f = -1.0 if flip else 1.0
    a = np.array([[f * k * c, f * k * s], [-k * s, k * c]])
    half = (SIDE - 1) / 2.0
    t = half - a @ np.array([cx, cy])
    return np.hstack([a, t[:, None]])


def eye_crops(video, eyes, jitter_copies, seed):
    """(crops N×3×64×64 f32, image pixels per crop pixel N) for every tracked frame."""
    rng = random.Random(seed)
    cap = cv2.VideoCapture(video)
    crops, scale = [], []
    for row in eyes:
        ok, frame = cap.read()
        if not ok:
            break
        if row.get("right_iris") is None or row.get("left_iris") is None:
            continue
        a, b = row["right_iris"], row["left_iris"]
        if a[0] > b[0]:
            a, b = b, a
        size = math.dist(a, b)
        angle = math.atan2(b[1] - a[1], b[0] - a[0])
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        for (cx, cy), flip in ((a, False), (b, True)):
            variants = [(cx, cy, size, angle)]
            for _ in range(jitter_copies):
                variants.append((
                    cx + rng.uniform(-0.1, 0.1) * size,
                    cy + rng.uniform(-0.1, 0.1) * size,
                    size * rng.uniform(0.85, 1.15),
                    angle + rng.uniform(-0.1, 0.1),
                ))
            for x, y, s, an in variants:
                m = crop_matrix(x, y, s, an, flip)
                c = cv2.warpAffine(rgb, m, (SIDE, SIDE), flags=cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_REPLICATE)
                crops.append(c.transpose(2, 0, 1).astype(np.float32) / 255.0)
                scale.append(s / SIDE)
    return np.stack(crops), np.array(scale)


def float_nodes(graph):
    """Convolutions feeding only the iris output, plus the contour head."""
    producer = {o: n for n in graph.node for o in n.output}

    def ancestors(out):
        seen, stack = set(), [out]
        while stack:
            t = stack.pop()
            n = producer.get(t)
            if n is not None and n.name not in seen:
                seen.add(n.name)
                stack.extend(n.input)
        return seen

    iris = ancestors("output_iris")
    contour = ancestors("output_eyes_contours_and_brows")
    names = [n.name for n in graph.node if n.op_type == "Conv" and n.name in iris - contour]
    names += [n.name for n in graph.node if n.op_type == "Conv"
              and n.output[0] == "conv_eyes_contours_and_brows"]
    return names


def iris_centres(model_bytes, x):
    sess = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    # The graph's batch is 1.
    out = [sess.run(["output_iris"], {name: c[None]})[0] for c in x]
    return np.concatenate(out).reshape(len(x), 5, 3)[:, 0, :2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="float iris_landmark.onnx")
    ap.add_argument("--video", required=True)
    ap.add_argument("--eyes", required=True, help="frame_times JSON lines for --video")
    ap.add_argument("--out", required=True)
    ap.add_argument("--jitter-copies", type=int, default=1)
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args()
    eyes = [json.loads(l) for l in open(args.eyes) if l.strip()]
    # One pass of the clip (frame_times may have run several).
    eyes = [r for r in eyes if r.get("pass", 0) == 0]
    calib, _ = eye_crops(args.video, eyes, args.jitter_copies, args.seed)
    model = version_converter.convert_version(onnx.load(args.model), 13)
    onnx.checker.check_model(model)
    name = model.graph.input[0].name
    data = nncf.Dataset(list(calib), lambda x: {name: x[None]})
    q = nncf.quantize(
        model,
        data,
        subset_size=len(calib),
        ignored_scope=nncf.IgnoredScope(names=float_nodes(model.graph)),
    )
    onnx.checker.check_model(q)
    onnx.save(q, args.out)
    x, px = eye_crops(args.video, eyes, 0, args.seed)
    d = np.hypot(*(iris_centres(model.SerializeToString(), x)
                   - iris_centres(q.SerializeToString(), x)).T) * px
    print(f"{len(calib)} calibration crops; float vs int8 iris centres on {len(x)} eye crops "
          f"(image px): median {np.median(d):.3f}, p90 {np.percentile(d, 90):.3f}, "
          f"max {d.max():.3f}")


if __name__ == "__main__":
    main()
