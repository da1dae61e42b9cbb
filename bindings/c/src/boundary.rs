//! The one panic boundary every `extern "C"` function goes through, and the helpers that
//! turn raw C arguments into Rust references.
//!
//! [`ffi_boundary`] runs the body under `catch_unwind`; an `Err` or a panic is recorded as
//! the thread's last error and turned into the return type's error value by
//! [`BoundaryValue`] (a status code, a NULL pointer, or nothing).

use std::any::Any;
use std::ffi::{CStr, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::error::{Error, gaze_status, set_last_error};

/// What a return type becomes when its function fails or panics.
pub trait BoundaryValue: Sized {
    /// The value returned for `err`.
    fn from_error(err: &Error) -> Self;
}

impl BoundaryValue for gaze_status {
    fn from_error(err: &Error) -> Self {
        err.status()
    }
}

impl BoundaryValue for () {
    fn from_error(_: &Error) -> Self {}
}

impl<T> BoundaryValue for *const T {
    fn from_error(_: &Error) -> Self {
        std::ptr::null()
    }
}

fn panic_text(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_string()
    }
}

/// Runs `body`, catching panics; errors are recorded for `gaze_last_error_message()`.
pub fn ffi_boundary<R: BoundaryValue>(body: impl FnOnce() -> Result<R, Error>) -> R {
    let err = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => return value,
        Ok(Err(err)) => err,
        Err(payload) => Error::Panic(panic_text(payload.as_ref())),
    };
    set_last_error(&err.to_string());
    R::from_error(&err)
}

/// `ptr` as a shared reference, or [`Error::Null`] naming the argument.
///
/// # Safety
/// A non-NULL `ptr` must point to a valid, live `T` for `'a`.
pub unsafe fn arg_ref<'a, T>(ptr: *const T, name: &'static str) -> Result<&'a T, Error> {
    // SAFETY: guaranteed by the caller for non-NULL pointers.
    unsafe { ptr.as_ref() }.ok_or(Error::Null(name))
}

/// `ptr` as an exclusive reference, or [`Error::Null`] naming the argument.
///
/// # Safety
/// A non-NULL `ptr` must point to a valid, live `T` for `'a`, not aliased elsewhere.
pub unsafe fn arg_mut<'a, T>(ptr: *mut T, name: &'static str) -> Result<&'a mut T, Error> {
    // SAFETY: guaranteed by the caller for non-NULL pointers.
    unsafe { ptr.as_mut() }.ok_or(Error::Null(name))
}

/// A NUL-terminated UTF-8 string argument, or an error naming it.
///
/// # Safety
/// A non-NULL `ptr` must point to a NUL-terminated string live for `'a`.
pub unsafe fn arg_str<'a>(ptr: *const c_char, name: &'static str) -> Result<&'a str, Error> {
    if ptr.is_null() {
        return Err(Error::Null(name));
    }
    // SAFETY: non-NULL and NUL-terminated per the caller's contract.
    let c = unsafe { CStr::from_ptr(ptr) };
    c.to_str()
        .map_err(|_| Error::InvalidArgument(format!("argument `{name}` is not valid UTF-8")))
}

/// Like [`arg_str`] but NULL gives `None`.
///
/// # Safety
/// As for [`arg_str`].
pub unsafe fn arg_opt_str<'a>(
    ptr: *const c_char,
    name: &'static str,
) -> Result<Option<&'a str>, Error> {
    if ptr.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded contract.
        unsafe { arg_str(ptr, name) }.map(Some)
    }
}

/// Stores `value` through the out-pointer `out`.
///
/// # Safety
/// A non-NULL `out` must be valid for writes.
pub unsafe fn write_out<T>(out: *mut T, name: &'static str, value: T) -> Result<(), Error> {
    if out.is_null() {
        return Err(Error::Null(name));
    }
    // SAFETY: non-NULL and writable per the caller's contract.
    unsafe { out.write(value) };
    Ok(())
}

/// Hands a Rust string to C as a heap `char*` freed by `gaze_string_free`.
pub fn into_c_string(s: String) -> Result<*mut c_char, Error> {
    std::ffi::CString::new(s)
        .map(std::ffi::CString::into_raw)
        .map_err(|_| Error::InvalidArgument("string contains a NUL byte".into()))
}

/// Maps the status of a successful call.
pub fn ok() -> Result<gaze_status, Error> {
    Ok(gaze_status::GAZE_OK)
}
