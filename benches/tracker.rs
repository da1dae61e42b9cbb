//! criterion benches for the tracker.
fn main() {}
