"""Row-strided frames are read in place: peak memory does not grow by a frame's size, while
a layout that must be copied (pixel steps) does. Measured in a fresh interpreter so the
peak RSS is not hidden by earlier tests."""

import json
import subprocess
import sys

SCRIPT = r"""
import json, resource
import numpy as np
import gaze

def peak_kb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

t = gaze.Tracker()
t.process(np.zeros((64, 64, 3), np.uint8), timestamp_ms=0.0)  # load models, warm up
base = np.ones((3000, 3000, 3), np.uint8)                      # 27 MB, pages touched
crop = base[100:2900, 50:2950]                                 # rows padded: read in place
before = peak_kb()
t.process(crop, timestamp_ms=1.0)
in_place = peak_kb() - before
stepped = np.ones((3000, 6000, 3), np.uint8)[:, ::2]          # every other pixel: copied
before = peak_kb()
t.process(stepped, timestamp_ms=2.0)
copied = peak_kb() - before
print(json.dumps({"in_place_kb": in_place, "copied_kb": copied}))
"""


def test_row_strided_view_is_not_copied():
    out = subprocess.run([sys.executable, "-c", SCRIPT], check=True, capture_output=True, text=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    frame_kb = 2800 * 2900 * 3 // 1024
    assert r["in_place_kb"] < frame_kb // 4, r
    assert r["copied_kb"] > frame_kb // 2, r
