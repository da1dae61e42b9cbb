//! libFuzzer entry point; the logic is [`gaze_fuzz::image_decode::run`] (replayed by `cargo test`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gaze_fuzz::image_decode::run(data));
