//! Reference server for gaze (filled in by the server issue).
