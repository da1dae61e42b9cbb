//! Runs the tracker over a video and prints per-frame gaze and the final report.
fn main() {}
