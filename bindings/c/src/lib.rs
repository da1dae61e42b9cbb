//! C bindings for gaze (filled in by the bindings issue).
