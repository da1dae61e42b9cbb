//! libFuzzer entry point; the logic is [`gaze_fuzz::report_json::run`] (replayed by `cargo test`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gaze_fuzz::report_json::run(data));
