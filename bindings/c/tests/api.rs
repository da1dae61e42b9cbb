//! The C API called from Rust: NULL pointers, bad sizes and formats give status codes and
//! messages; a panic inside the boundary becomes `GAZE_ERROR_PANIC`; results and JSON work.

use std::ffi::{CStr, CString, c_char};
use std::ptr;

use gaze_c::boundary::ffi_boundary;
use gaze_c::error::{Error, gaze_status};
use gaze_c::session::*;
use gaze_c::tracker::*;
use gaze_c::*;

fn last_error() -> String {
    // SAFETY: the library returns a valid NUL-terminated thread-local string.
    unsafe { CStr::from_ptr(gaze_last_error_message()) }
        .to_string_lossy()
        .into_owned()
}

fn take_string(s: *mut c_char) -> String {
    assert!(!s.is_null());
    // SAFETY: `s` came from the library and is freed right after copying.
    let out = unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned();
    unsafe { gaze_string_free(s) };
    out
}

fn new_tracker() -> *mut gaze_tracker {
    let mut t = ptr::null_mut();
    // SAFETY: valid out-pointer, NULL config.
    assert_eq!(
        unsafe { gaze_tracker_new(ptr::null(), &mut t) },
        gaze_status::GAZE_OK
    );
    assert!(!t.is_null());
    t
}

#[test]
fn null_pointers_give_null_pointer_status() {
    let px = vec![0u8; 30 * 20 * 3];
    let mut res = gaze_frame_result::default();
    // SAFETY: every pointer is either NULL on purpose or valid.
    unsafe {
        assert_eq!(
            gaze_tracker_process(
                ptr::null_mut(),
                px.as_ptr(),
                30,
                20,
                90,
                GAZE_FORMAT_BGR,
                0.0,
                &mut res
            ),
            gaze_status::GAZE_ERROR_NULL_POINTER
        );
        assert!(last_error().contains("tracker"), "{}", last_error());
        assert_eq!(
            gaze_tracker_new(ptr::null(), ptr::null_mut()),
            gaze_status::GAZE_ERROR_NULL_POINTER
        );
        let t = new_tracker();
        assert_eq!(
            gaze_tracker_process(t, ptr::null(), 30, 20, 90, GAZE_FORMAT_BGR, 0.0, &mut res),
            gaze_status::GAZE_ERROR_NULL_POINTER
        );
        assert!(last_error().contains("pixels"));
        assert_eq!(
            gaze_tracker_last_json(t, ptr::null_mut()),
            gaze_status::GAZE_ERROR_NULL_POINTER
        );
        assert_eq!(
            gaze_tracker_reset(ptr::null_mut()),
            gaze_status::GAZE_ERROR_NULL_POINTER
        );
        let mut s = ptr::null_mut();
        assert_eq!(
            gaze_session_new(ptr::null(), ptr::null(), &mut s),
            gaze_status::GAZE_ERROR_NULL_POINTER
        );
        assert_eq!(
            gaze_session_push(ptr::null_mut(), t),
            gaze_status::GAZE_ERROR_NULL_POINTER
        );
        let mut json = ptr::null_mut();
        assert_eq!(
            gaze_session_report_json(ptr::null(), &mut json),
            gaze_status::GAZE_ERROR_NULL_POINTER
        );
        // Frees accept NULL.
        gaze_tracker_free(ptr::null_mut());
        gaze_session_free(ptr::null_mut());
        gaze_string_free(ptr::null_mut());
        gaze_tracker_free(t);
    }
}

#[test]
fn bad_geometry_and_format_give_error_codes() {
    let px = vec![0u8; 30 * 20 * 3];
    let mut res = gaze_frame_result::default();
    let t = new_tracker();
    let cases: [(u32, u32, usize, u32, f64, gaze_status); 7] = [
        (
            0,
            20,
            90,
            GAZE_FORMAT_BGR,
            0.0,
            gaze_status::GAZE_ERROR_INVALID_FRAME,
        ),
        (
            30,
            0,
            90,
            GAZE_FORMAT_BGR,
            0.0,
            gaze_status::GAZE_ERROR_INVALID_FRAME,
        ),
        (
            30,
            20,
            89,
            GAZE_FORMAT_BGR,
            0.0,
            gaze_status::GAZE_ERROR_INVALID_FRAME,
        ),
        (
            20_000,
            20,
            60_000,
            GAZE_FORMAT_BGR,
            0.0,
            gaze_status::GAZE_ERROR_INVALID_FRAME,
        ),
        (
            30,
            20,
            usize::MAX,
            GAZE_FORMAT_BGR,
            0.0,
            gaze_status::GAZE_ERROR_INVALID_FRAME,
        ),
        (
            30,
            20,
            90,
            17,
            0.0,
            gaze_status::GAZE_ERROR_INVALID_ARGUMENT,
        ),
        (
            30,
            20,
            90,
            GAZE_FORMAT_BGR,
            f64::NAN,
            gaze_status::GAZE_ERROR_INVALID_FRAME,
        ),
    ];
    for (w, h, stride, fmt, ts, want) in cases {
        // SAFETY: valid handle and buffer; the geometry is rejected before any read.
        let got = unsafe { gaze_tracker_process(t, px.as_ptr(), w, h, stride, fmt, ts, &mut res) };
        assert_eq!(got, want, "{w}x{h} stride {stride} format {fmt} ts {ts}");
        assert!(!last_error().is_empty());
    }
    let mut json = ptr::null_mut();
    // SAFETY: valid handle and out-pointer.
    assert_eq!(
        unsafe { gaze_tracker_last_json(t, &mut json) },
        gaze_status::GAZE_ERROR_NO_RESULT
    );
    // A blank frame is processed: no face is a result, not an error.
    // SAFETY: the buffer holds 20 rows of 90 bytes.
    assert_eq!(
        unsafe { gaze_tracker_process(t, px.as_ptr(), 30, 20, 90, GAZE_FORMAT_BGR, 5.0, &mut res) },
        gaze_status::GAZE_OK
    );
    assert!(!res.has_face && res.direction == gaze_direction::GAZE_DIRECTION_NO_FACE);
    assert_eq!((res.width, res.height, res.timestamp_ms), (30, 20, 5.0));
    // SAFETY: valid handle and out-pointer.
    assert_eq!(
        unsafe { gaze_tracker_last_json(t, &mut json) },
        gaze_status::GAZE_OK
    );
    let v: serde_json::Value = serde_json::from_str(&take_string(json)).expect("json");
    assert!(v["gaze"].is_null() && v["direction"] == "no_face");
    // A view with a row stride larger than the row (a crop) is accepted; `out` may be NULL.
    // SAFETY: 10 rows of stride 90 with 20 BGR pixels each fit in the buffer.
    assert_eq!(
        unsafe {
            gaze_tracker_process(
                t,
                px.as_ptr(),
                20,
                10,
                90,
                GAZE_FORMAT_BGR,
                6.0,
                ptr::null_mut(),
            )
        },
        gaze_status::GAZE_OK
    );
    // SAFETY: handle from gaze_tracker_new.
    unsafe { gaze_tracker_free(t) };
}

#[test]
fn config_and_calibration_errors() {
    let bad = CString::new("{\"min_face_score\": 3}").expect("cstring");
    let junk = CString::new("{not json").expect("cstring");
    let mut t = ptr::null_mut();
    // SAFETY: valid strings and out-pointers.
    unsafe {
        assert_eq!(
            gaze_tracker_new(bad.as_ptr(), &mut t),
            gaze_status::GAZE_ERROR_CONFIG
        );
        assert!(last_error().contains("min_face_score"), "{}", last_error());
        assert_eq!(
            gaze_tracker_new(junk.as_ptr(), &mut t),
            gaze_status::GAZE_ERROR_CONFIG
        );
        assert!(t.is_null());
        let t = new_tracker();
        assert_eq!(
            gaze_tracker_set_calibration(t, junk.as_ptr()),
            gaze_status::GAZE_ERROR_CONFIG
        );
        assert_eq!(
            gaze_tracker_set_calibration(t, ptr::null()),
            gaze_status::GAZE_OK
        );
        let invalid_utf8 = [0xffu8, 0xfe, 0];
        assert_eq!(
            gaze_tracker_set_calibration(t, invalid_utf8.as_ptr().cast()),
            gaze_status::GAZE_ERROR_INVALID_ARGUMENT
        );
        let mut s = ptr::null_mut();
        let id = CString::new("s1").expect("cstring");
        let bad_activity = CString::new("{\"max_gap_ms\": -5}").expect("cstring");
        assert_ne!(
            gaze_session_new(id.as_ptr(), bad_activity.as_ptr(), &mut s),
            gaze_status::GAZE_OK
        );
        assert!(s.is_null());
        gaze_tracker_free(t);
    }
}

#[test]
fn session_report_json_has_the_original_field_names() {
    let px = vec![0u8; 64 * 48];
    let t = new_tracker();
    let id = CString::new("c-session").expect("cstring");
    let mut s = ptr::null_mut();
    // SAFETY: valid handles, buffers and out-pointers throughout.
    unsafe {
        assert_eq!(
            gaze_session_new(id.as_ptr(), ptr::null(), &mut s),
            gaze_status::GAZE_OK
        );
        assert_eq!(gaze_session_push(s, t), gaze_status::GAZE_ERROR_NO_RESULT);
        for i in 0..5 {
            let st = gaze_tracker_process(
                t,
                px.as_ptr(),
                64,
                48,
                64,
                GAZE_FORMAT_GRAY,
                i as f64 * 40.0,
                ptr::null_mut(),
            );
            assert_eq!(st, gaze_status::GAZE_OK);
            assert_eq!(gaze_session_push(s, t), gaze_status::GAZE_OK);
        }
        let mut json = ptr::null_mut();
        assert_eq!(gaze_session_report_json(s, &mut json), gaze_status::GAZE_OK);
        let running: serde_json::Value = serde_json::from_str(&take_string(json)).expect("json");
        assert_eq!(gaze_session_finish_json(s, &mut json), gaze_status::GAZE_OK);
        let fin: serde_json::Value = serde_json::from_str(&take_string(json)).expect("json");
        for v in [&running, &fin] {
            assert_eq!(v["session_id"], "c-session");
            for key in [
                "focus_time",
                "distraction_time",
                "session_report",
                "started_at",
                "ended_at",
                "duration",
                "timeline",
            ] {
                assert!(v.get(key).is_some(), "{key} missing in {v}");
            }
        }
        assert!(
            (fin["duration"].as_f64().unwrap_or(-1.0) - 0.16).abs() < 1e-9,
            "{fin}"
        );
        gaze_session_free(s);
        gaze_tracker_free(t);
    }
}

#[test]
fn panics_are_caught_at_the_boundary() {
    let status: gaze_status = ffi_boundary(|| -> Result<gaze_status, Error> { panic!("boom") });
    assert_eq!(status, gaze_status::GAZE_ERROR_PANIC);
    assert!(last_error().contains("boom"));
    let p: *const u8 = ffi_boundary(|| -> Result<*const u8, Error> { panic!("again") });
    assert!(p.is_null());
}

#[test]
fn status_messages_and_version() {
    // SAFETY: both return static NUL-terminated strings.
    unsafe {
        assert_eq!(CStr::from_ptr(gaze_status_message(0)).to_str(), Ok("ok"));
        assert!(
            CStr::from_ptr(gaze_status_message(3))
                .to_bytes()
                .starts_with(b"invalid frame")
        );
        assert_eq!(
            CStr::from_ptr(gaze_status_message(999)).to_str(),
            Ok("unknown status code")
        );
        assert_eq!(
            CStr::from_ptr(gaze_version()).to_str(),
            Ok(env!("CARGO_PKG_VERSION"))
        );
    }
}

#[test]
fn set_num_threads_accepts_counts() {
    assert_eq!(gaze_set_num_threads(1), gaze_status::GAZE_OK);
    assert_eq!(gaze_set_num_threads(0), gaze_status::GAZE_OK);
    assert_eq!(
        gaze_set_num_threads(u32::MAX),
        gaze_status::GAZE_ERROR_CONFIG
    );
}

#[test]
fn last_error_is_thread_local() {
    let px = [0u8; 3];
    let t = new_tracker();
    // SAFETY: valid handle; the format code is rejected.
    unsafe { gaze_tracker_process(t, px.as_ptr(), 1, 1, 3, 42, 0.0, ptr::null_mut()) };
    let here = last_error();
    assert!(here.contains("42"));
    let other = std::thread::spawn(last_error).join().expect("thread");
    assert_eq!(other, "");
    // SAFETY: handle from gaze_tracker_new.
    unsafe { gaze_tracker_free(t) };
}
