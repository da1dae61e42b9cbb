//! Present so that cargo honours the `[build-dependencies]` of the pin.
fn main() {}
