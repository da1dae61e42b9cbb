"""Frames whose pixels are packed within rows are read in place; other layouts are copied."""

import numpy as np
import pytest

import gaze
from gaze import _gaze


@pytest.mark.parametrize(
    "make,borrowed",
    [
        (lambda b: b, True),
        (lambda b: b[10:400, 20:600], True),  # row crop: padded rows
        (lambda b: b[5:6], True),  # one row
        (lambda b: b[:, 7:8], True),  # one column
        (lambda b: np.asfortranarray(b), False),
        (lambda b: b[:, ::2], False),  # pixel steps
        (lambda b: b[::2], True),  # every other row: just a larger row stride
        (lambda b: b[::-1], False),  # negative row stride
        (lambda b: b[:, :, ::-1], False),  # bgr -> rgb view: negative channel stride
        (lambda b: np.broadcast_to(b[:1], b.shape), False),  # zero row stride
    ],
)
def test_which_layouts_are_read_in_place(make, borrowed):
    base = np.zeros((480, 640, 3), np.uint8)
    assert _gaze._frame_is_borrowed(make(base)) is borrowed
    gray = np.zeros((480, 640), np.uint8)
    assert _gaze._frame_is_borrowed(gray[3:100, 5:50]) is True
    assert _gaze._frame_is_borrowed(np.zeros((480, 640, 4), np.uint8)[1:, 1:]) is True


def test_is_borrowed_raises_like_process():
    with pytest.raises(TypeError):
        _gaze._frame_is_borrowed(np.zeros((4, 4, 3), np.float32))
    assert gaze.Tracker  # the package re-exports only public names
    assert not hasattr(gaze, "_frame_is_borrowed")
