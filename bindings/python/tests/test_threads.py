"""The GIL is released while a frame is processed; trackers work from several threads."""

import threading
import time

import numpy as np
import pytest

import gaze


def test_per_thread_trackers_match_sequential_results(clip):
    frames = clip[:30]

    def run(out):
        t = gaze.Tracker()
        out.extend(t.process(f, timestamp_ms=i * 40.0).to_dict() for i, f in enumerate(frames))

    expected = []
    run(expected)
    outs = [[] for _ in range(3)]
    threads = [threading.Thread(target=run, args=(o,)) for o in outs]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for o in outs:
        assert o == expected


def test_one_tracker_shared_by_threads_is_safe(clip):
    t = gaze.Tracker()
    errors, results = [], []
    lock = threading.Lock()

    def work(k):
        try:
            for i in range(10):
                r = t.process(clip[k * 10 + i], timestamp_ms=time.monotonic() * 1000.0)
                with lock:
                    results.append(r)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors and len(results) == 40


def test_gil_is_released_during_process(clip):
    """Another Python thread keeps running while process() works on a large frame: with the
    GIL held, no bytecode of the other thread could run in the middle of the call."""
    big = np.ascontiguousarray(np.tile(clip[50], (4, 4, 1)))  # 2560x1920
    tracker = gaze.Tracker(detect_every_frame=True)
    stamps = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            stamps.append(time.perf_counter())

    th = threading.Thread(target=ticker)
    th.start()
    calls = []
    try:
        for i in range(8):
            t0 = time.perf_counter()
            tracker.process(big, timestamp_ms=i * 40.0)
            calls.append((t0, time.perf_counter()))
    finally:
        stop.set()
        th.join()
    ts = np.array(stamps)
    overlapped = 0
    for a, b in calls:
        lo, hi = a + 0.25 * (b - a), b - 0.25 * (b - a)
        overlapped += bool(np.any((ts > lo) & (ts < hi)))
    assert overlapped >= 4, (overlapped, [b - a for a, b in calls])


def test_set_num_threads(frame):
    gaze.set_num_threads(1)
    assert gaze.Tracker().process(frame, timestamp_ms=0.0).face is not None
    gaze.set_num_threads(0)
    with pytest.raises((OverflowError, TypeError)):
        gaze.set_num_threads(-1)
