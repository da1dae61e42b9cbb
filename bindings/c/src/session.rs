//! `gaze_session`: an opaque handle around [`gaze_core::Session`] (activity accounting).

use std::ffi::c_char;

use gaze_core::{ActivityConfig, GazeError, Session};

use crate::boundary::{
    arg_mut, arg_opt_str, arg_ref, arg_str, ffi_boundary, into_c_string, ok, write_out,
};
use crate::error::{Error, gaze_status};
use crate::tracker::gaze_tracker;

/// One session's accounting.
#[allow(non_camel_case_types)]
pub struct gaze_session {
    session: Session,
}

/// Creates a session. `config_json` is a (partial) `ActivityConfig` as JSON or NULL for the
/// defaults. Free the handle with `gaze_session_free`.
///
/// # Safety
/// `session_id` is a NUL-terminated string; `config_json` is NULL or one; `out` is valid
/// for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gaze_session_new(
    session_id: *const c_char,
    config_json: *const c_char,
    out: *mut *mut gaze_session,
) -> gaze_status {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let id = unsafe { arg_str(session_id, "session_id") }?;
        if out.is_null() {
            return Err(Error::Null("out"));
        }
        // SAFETY: per this function's contract.
        let config = match unsafe { arg_opt_str(config_json, "config_json") }? {
            Some(json) => {
                let c = ActivityConfig::from_json(json)?;
                c.validate()?;
                c
            }
            None => ActivityConfig::default(),
        };
        let handle = Box::into_raw(Box::new(gaze_session {
            session: Session::new(id, config),
        }));
        // SAFETY: non-NULL and writable per the contract.
        unsafe { write_out(out, "out", handle) }?;
        ok()
    })
}

/// Frees a session. NULL is ignored.
///
/// # Safety
/// `session` is NULL or a handle from `gaze_session_new` not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gaze_session_free(session: *mut gaze_session) {
    ffi_boundary(|| {
        if !session.is_null() {
            // SAFETY: the handle came from Box::into_raw in gaze_session_new.
            drop(unsafe { Box::from_raw(session) });
        }
        Ok(())
    })
}

/// Adds the tracker's latest frame result to the session.
///
/// # Safety
/// `session` and `tracker` are live handles.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gaze_session_push(
    session: *mut gaze_session,
    tracker: *const gaze_tracker,
) -> gaze_status {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let s = unsafe { arg_mut(session, "session") }?;
        // SAFETY: per this function's contract.
        let t = unsafe { arg_ref(tracker, "tracker") }?;
        let last = t.last.as_ref().ok_or(Error::NoResult)?;
        s.session.push_frame(last);
        ok()
    })
}

fn report_json(
    report: &gaze_core::SessionReport,
    out_json: *mut *mut c_char,
) -> Result<gaze_status, Error> {
    let json = serde_json::to_string(report).map_err(GazeError::from)?;
    let s = into_c_string(json)?;
    // SAFETY: callers check `out_json` for NULL before computing the report.
    unsafe { write_out(out_json, "out_json", s) }?;
    ok()
}

/// The running report (as if the session ended now) as JSON with the original API's field
/// names. Free `*out_json` with `gaze_string_free`.
///
/// # Safety
/// `session` is a live handle; `out_json` is valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gaze_session_report_json(
    session: *const gaze_session,
    out_json: *mut *mut c_char,
) -> gaze_status {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let s = unsafe { arg_ref(session, "session") }?;
        if out_json.is_null() {
            return Err(Error::Null("out_json"));
        }
        report_json(&s.session.report(), out_json)
    })
}

/// Ends the session and returns the final report as JSON. Free `*out_json` with
/// `gaze_string_free`.
///
/// # Safety
/// `session` is a live handle; `out_json` is valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gaze_session_finish_json(
    session: *mut gaze_session,
    out_json: *mut *mut c_char,
) -> gaze_status {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let s = unsafe { arg_mut(session, "session") }?;
        if out_json.is_null() {
            return Err(Error::Null("out_json"));
        }
        report_json(&s.session.finish(), out_json)
    })
}
