"""Type stubs for gaze (the native module gaze._gaze, re-exported by the package)."""

from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str

FeatureDict = Dict[str, float]
Report = Dict[str, Any]
Segment = Dict[str, Any]

class Face:
    """The tracked face: box, six keypoints, detector score."""

    @property
    def bbox(self) -> Tuple[float, float, float, float]:
        """Face box (x, y, w, h) in pixels."""
    @property
    def keypoints(self) -> npt.NDArray[np.float32]:
        """(6, 2): subject's right eye, left eye, nose tip, mouth, right ear, left ear."""
    @property
    def score(self) -> float:
        """Detector confidence in 0..1."""
    def to_dict(self) -> Dict[str, Any]: ...

class Eye:
    """One eye (the subject's)."""

    @property
    def center(self) -> npt.NDArray[np.float32]:
        """Iris centre, (2,) pixels."""
    @property
    def radius(self) -> float:
        """Iris radius in pixels."""
    @property
    def iris(self) -> npt.NDArray[np.float32]:
        """Iris centre and four edge points, (5, 2)."""
    @property
    def corners(self) -> npt.NDArray[np.float32]:
        """(2, 2): row 0 outer corner (toward the ear), row 1 inner corner."""
    @property
    def upper_lid(self) -> npt.NDArray[np.float32]: ...
    @property
    def lower_lid(self) -> npt.NDArray[np.float32]: ...
    @property
    def openness(self) -> float:
        """Eye aspect ratio (≈0.25–0.35 open, < 0.12 closed)."""
    @property
    def landmarks(self) -> npt.NDArray[np.float32]:
        """The 71 eye-contour and brow points, (71, 2)."""
    def to_dict(self) -> Dict[str, Any]: ...

class HeadPose:
    """Head orientation in degrees."""

    @property
    def yaw_deg(self) -> float: ...
    @property
    def pitch_deg(self) -> float: ...
    @property
    def roll_deg(self) -> float: ...

class Gaze:
    """Fused gaze estimate."""

    @property
    def horizontal(self) -> float:
        """−1 (image left) … 1 (image right)."""
    @property
    def vertical(self) -> float:
        """−1 (up) … 1 (down)."""
    @property
    def yaw_deg(self) -> float: ...
    @property
    def pitch_deg(self) -> float: ...
    @property
    def direction(self) -> str:
        """center, left, right, up, down, closed, no_face or away."""
    @property
    def screen(self) -> Optional[Tuple[float, float]]:
        """Screen point in pixels when the tracker has a calibration."""
    @property
    def confidence(self) -> float: ...

class Blink:
    """Blink state after a frame."""

    @property
    def closed(self) -> bool: ...
    @property
    def closed_ms(self) -> float: ...
    @property
    def count(self) -> int: ...
    @property
    def event(self) -> Optional[Dict[str, float]]:
        """{"start_ms", "end_ms", "duration_ms"} of a blink that ended on this frame."""

class FrameResult:
    """Everything known about one frame."""

    @property
    def timestamp_ms(self) -> float: ...
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...
    @property
    def face(self) -> Optional[Face]: ...
    @property
    def left_eye(self) -> Optional[Eye]:
        """The subject's left eye (image right in an unmirrored frame)."""
    @property
    def right_eye(self) -> Optional[Eye]: ...
    @property
    def head_pose(self) -> Optional[HeadPose]: ...
    @property
    def gaze(self) -> Optional[Gaze]: ...
    @property
    def direction(self) -> str: ...
    @property
    def blink(self) -> Blink: ...
    @property
    def attention(self) -> Dict[str, bool]: ...
    @property
    def detected(self) -> bool: ...
    def features(self) -> Optional[FeatureDict]:
        """Calibration features of this frame, or None without gaze."""
    def to_dict(self) -> Dict[str, Any]:
        """The server's per-frame WebSocket message."""
    def to_json(self) -> str: ...
    def to_full_dict(self) -> Dict[str, Any]: ...

class Calibration:
    """A fitted gaze → screen mapping."""

    @staticmethod
    def fit(
        samples: Sequence[Union[FrameResult, Mapping[str, float]]],
        targets: Sequence[Tuple[float, float]],
        screen: Tuple[float, float],
    ) -> "Calibration": ...
    def predict(self, features: Union[FrameResult, Mapping[str, float]]) -> Optional[Tuple[float, float]]: ...
    def to_json(self) -> str: ...
    @staticmethod
    def from_json(json: str) -> "Calibration": ...
    def to_dict(self) -> Dict[str, Any]: ...
    @property
    def screen(self) -> Tuple[float, float]: ...
    @property
    def n_samples(self) -> int: ...
    @property
    def validation_error_px(self) -> float: ...
    @property
    def training_error_px(self) -> float: ...

class Tracker:
    """Turns webcam frames into gaze.

    The GIL is released while a frame is processed. A tracker holds per-stream state, so use
    one per video stream (and per thread for parallel work); sharing one between threads is
    safe but serialises the calls and mixes the streams' tracking state.
    """

    def __init__(self, engine: Optional[str] = None, **config: Any) -> None:
        """``engine``: "auto" (default: OpenVINO when its library loads, else OpenCV DNN),
        "openvino" (RuntimeError when it cannot be loaded) or "opencv". Keyword arguments
        override TrackerConfig defaults (see default_config())."""
    @staticmethod
    def default_config() -> Dict[str, Any]: ...
    @property
    def config(self) -> Dict[str, Any]: ...
    @property
    def engine(self) -> str:
        """The engine that runs the networks: "openvino" or "opencv"."""
    def process(
        self,
        frame: npt.NDArray[np.uint8],
        timestamp_ms: Optional[float] = None,
        format: Optional[str] = None,
    ) -> FrameResult:
        """Processes one uint8 frame H×W (gray), H×W×1, H×W×3 (bgr/rgb) or H×W×4 (bgra/rgba).

        ``format`` defaults to gray / bgr / bgra by channel count; ``timestamp_ms`` to the
        wall clock. Frames whose rows are packed are read in place (C-contiguous arrays and
        row crops); other layouts are copied once. Raises TypeError for non-arrays and
        non-uint8 dtypes, ValueError for bad shapes, formats, sizes and timestamps.
        """
    calibration: Optional[Calibration]
    def reset(self) -> None: ...

def set_num_threads(threads: int) -> None:
    """OpenCV threads per network run, process-wide (0 = one per core)."""

class ActivityClassifier:
    """Streaming reading / browsing / watching and attention classifier."""

    def __init__(self, screen: Optional[Tuple[float, float]] = None, **config: Any) -> None: ...
    @staticmethod
    def default_config() -> Dict[str, Any]: ...
    @property
    def config(self) -> Dict[str, Any]: ...
    def push(
        self,
        t_ms: float,
        x: float,
        y: float,
        valid: bool = True,
        face_present: bool = True,
        eyes_closed: bool = False,
        head_away: bool = False,
        gaze_off_screen: bool = False,
    ) -> Dict[str, Any]: ...
    def push_result(self, result: FrameResult) -> Dict[str, Any]: ...
    def provisional(self) -> Dict[str, Any]: ...
    def finish(self) -> Dict[str, Any]: ...
    @property
    def fixation_count(self) -> int: ...
    @property
    def mean_fixation_ms(self) -> float: ...
    @property
    def rejected(self) -> int: ...

def classify_trace(
    t_ms: npt.ArrayLike,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    valid: Optional[npt.ArrayLike] = None,
    screen: Optional[Tuple[float, float]] = None,
    **config: Any,
) -> List[Segment]:
    """Segments {"start_ms", "end_ms", "activity", "attention"} of a whole trace."""

class Session:
    """One session's accounting; reports use the original API's field names."""

    def __init__(self, session_id: str, screen: Optional[Tuple[float, float]] = None, **config: Any) -> None: ...
    @property
    def session_id(self) -> str: ...
    @property
    def blink_count(self) -> int: ...
    def push(self, result: FrameResult) -> Dict[str, Any]: ...
    def push_sample(
        self,
        t_ms: float,
        x: float,
        y: float,
        valid: bool = True,
        face_present: bool = True,
        eyes_closed: bool = False,
        head_away: bool = False,
        gaze_off_screen: bool = False,
    ) -> Dict[str, Any]: ...
    def report(self) -> Report: ...
    def finish(self) -> Report: ...
    def snapshot_json(self) -> str: ...
    @staticmethod
    def restore_json(json: str) -> "Session": ...
