"""gaze: webcam frames in, gaze and activity out.

A thin Python skin over the Rust library gaze-core (MediaPipe BlazeFace and Iris models are
embedded; nothing is downloaded). See ``Tracker`` for the per-frame API, ``Calibration`` for
screen mapping, ``ActivityClassifier`` / ``classify_trace`` for reading / browsing / watching,
and ``Session`` for session accounting.
"""

from ._gaze import *  # noqa: F401,F403
from ._gaze import __version__  # noqa: F401
