"""Shared fixtures: frames of the committed webcam clip (MIT, see testdata/README.md),
decoded with OpenCV (opencv-python-headless, no network needed)."""

from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[3]
CLIP = ROOT / "testdata" / "webcam" / "webcam_cap12_t18-28s_640x480_25fps.mp4"
FPS = 25.0


def decode_clip(limit=None):
    """BGR uint8 frames (H×W×3) of the test clip."""
    import cv2

    cap = cv2.VideoCapture(str(CLIP))
    frames = []
    try:
        while limit is None or len(frames) < limit:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(frame)
    finally:
        cap.release()
    if not frames:
        raise RuntimeError(f"could not decode {CLIP}")
    return frames


@pytest.fixture(scope="session")
def clip():
    """All 250 frames of the clip (BGR)."""
    return decode_clip()


@pytest.fixture(scope="session")
def frame(clip) -> np.ndarray:
    """One frame with a face."""
    return clip[50]


def timestamps(n, start=0.0):
    return [start + i * 1000.0 / FPS for i in range(n)]
