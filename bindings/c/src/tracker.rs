//! `gaze_tracker`: an opaque handle around [`gaze_core::Tracker`] plus its latest result.

use std::ffi::c_char;

use gaze_core::{
    Calibration, Engine, EngineChoice, Frame, FrameMessage, FrameResult, GazeError, PixelFormat,
    Tracker, TrackerConfig,
};

use crate::boundary::{arg_mut, arg_opt_str, arg_ref, ffi_boundary, into_c_string, ok, write_out};
use crate::error::{Error, gaze_status};
use crate::result::gaze_frame_result;

/// One byte per pixel, luminance.
pub const GAZE_FORMAT_GRAY: u32 = 0;
/// Blue, green, red (OpenCV's default).
pub const GAZE_FORMAT_BGR: u32 = 1;
/// Red, green, blue.
pub const GAZE_FORMAT_RGB: u32 = 2;
/// Blue, green, red, alpha.
pub const GAZE_FORMAT_BGRA: u32 = 3;
/// Red, green, blue, alpha.
pub const GAZE_FORMAT_RGBA: u32 = 4;

/// Inference engine choice: OpenVINO when its library loads (`GAZE_OPENVINO_LIB`, then the
/// library path), else OpenCV DNN.
pub const GAZE_ENGINE_AUTO: u32 = 0;
/// OpenVINO (runtime-loaded `libopenvino_c`); `GAZE_ERROR_ENGINE` when it cannot be loaded.
pub const GAZE_ENGINE_OPENVINO: u32 = 1;
/// OpenCV DNN (always available).
pub const GAZE_ENGINE_OPENCV: u32 = 2;

fn engine_choice(code: u32) -> Result<EngineChoice, Error> {
    Ok(match code {
        GAZE_ENGINE_AUTO => EngineChoice::Auto,
        GAZE_ENGINE_OPENVINO => EngineChoice::OpenVino,
        GAZE_ENGINE_OPENCV => EngineChoice::OpenCv,
        other => {
            return Err(Error::InvalidArgument(format!(
                "unknown engine {other} (expected GAZE_ENGINE_AUTO, _OPENVINO or _OPENCV)"
            )));
        }
    })
}

fn pixel_format(code: u32) -> Result<PixelFormat, Error> {
    Ok(match code {
        GAZE_FORMAT_GRAY => PixelFormat::Gray8,
        GAZE_FORMAT_BGR => PixelFormat::Bgr8,
        GAZE_FORMAT_RGB => PixelFormat::Rgb8,
        GAZE_FORMAT_BGRA => PixelFormat::Bgra8,
        GAZE_FORMAT_RGBA => PixelFormat::Rgba8,
        other => {
            return Err(Error::InvalidArgument(format!(
                "unknown pixel format {other} (expected GAZE_FORMAT_GRAY..GAZE_FORMAT_RGBA)"
            )));
        }
    })
}

/// A tracker for one video stream. Not thread-safe: use one handle per thread, or lock.
#[allow(non_camel_case_types)]
pub struct gaze_tracker {
    pub(crate) tracker: Tracker,
    pub(crate) last: Option<FrameResult>,
}

/// Creates a tracker with the embedded models. `config_json` is a (partial) `TrackerConfig`
/// as JSON, or NULL for the defaults (engine: `"inference": {"engine": "auto"}`). On success
/// `*out` owns the handle; free it with `gaze_tracker_free`.
///
/// # Safety
/// `config_json` is NULL or a NUL-terminated string; `out` is valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gaze_tracker_new(
    config_json: *const c_char,
    out: *mut *mut gaze_tracker,
) -> gaze_status {
    // SAFETY: the same contract.
    unsafe { new_tracker(config_json, None, out) }
}

/// Like `gaze_tracker_new`, with the inference engine `engine` (`GAZE_ENGINE_*`) replacing the
/// config's choice. `GAZE_ENGINE_OPENVINO` fails with `GAZE_ERROR_ENGINE` when `libopenvino_c`
/// cannot be loaded; `GAZE_ENGINE_AUTO` then falls back to OpenCV DNN.
///
/// # Safety
/// `config_json` is NULL or a NUL-terminated string; `out` is valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gaze_tracker_new_with_engine(
    config_json: *const c_char,
    engine: u32,
    out: *mut *mut gaze_tracker,
) -> gaze_status {
    // SAFETY: the same contract.
    unsafe { new_tracker(config_json, Some(engine), out) }
}

/// # Safety
/// See `gaze_tracker_new`.
unsafe fn new_tracker(
    config_json: *const c_char,
    engine: Option<u32>,
    out: *mut *mut gaze_tracker,
) -> gaze_status {
    ffi_boundary(|| {
        if out.is_null() {
            return Err(Error::Null("out"));
        }
        // SAFETY: per the caller's contract.
        let mut config: TrackerConfig = match unsafe { arg_opt_str(config_json, "config_json") }? {
            Some(json) => serde_json::from_str(json).map_err(GazeError::from)?,
            None => TrackerConfig::default(),
        };
        if let Some(code) = engine {
            config.inference.engine = engine_choice(code)?;
        }
        let tracker = Tracker::new(config)?;
        let handle = Box::into_raw(Box::new(gaze_tracker {
            tracker,
            last: None,
        }));
        // SAFETY: `out` is non-NULL and writable per the contract.
        unsafe { write_out(out, "out", handle) }?;
        ok()
    })
}

/// The engine that runs the tracker's networks: `GAZE_ENGINE_OPENVINO` or `GAZE_ENGINE_OPENCV`.
///
/// # Safety
/// `tracker` is a live handle; `out` is valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gaze_tracker_engine(
    tracker: *const gaze_tracker,
    out: *mut u32,
) -> gaze_status {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let handle = unsafe { arg_ref(tracker, "tracker") }?;
        let code = match handle.tracker.engine() {
            Engine::OpenVino => GAZE_ENGINE_OPENVINO,
            Engine::OpenCv => GAZE_ENGINE_OPENCV,
        };
        // SAFETY: per this function's contract.
        unsafe { write_out(out, "out", code) }?;
        ok()
    })
}

/// Frees a tracker. NULL is ignored.
///
/// # Safety
/// `tracker` is NULL or a handle from `gaze_tracker_new` not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gaze_tracker_free(tracker: *mut gaze_tracker) {
    ffi_boundary(|| {
        if !tracker.is_null() {
            // SAFETY: the handle came from Box::into_raw in gaze_tracker_new.
            drop(unsafe { Box::from_raw(tracker) });
        }
        Ok(())
    })
}

/// Processes one frame of `height` rows starting every `stride` bytes, each with `width`
/// pixels of `format` (`GAZE_FORMAT_*`). The pixels are read in place, not copied; the
/// buffer must hold `stride * (height - 1) + width * bytes_per_pixel` bytes. A frame without
/// a face is a success (`out->has_face == false`). `out` may be NULL when only the JSON
/// (`gaze_tracker_last_json`) is wanted.
///
/// # Safety
/// `tracker` is a live handle; `pixels` points to at least the bytes described above;
/// `out` is NULL or valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gaze_tracker_process(
    tracker: *mut gaze_tracker,
    pixels: *const u8,
    width: u32,
    height: u32,
    stride: usize,
    format: u32,
    timestamp_ms: f64,
    out: *mut gaze_frame_result,
) -> gaze_status {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let handle = unsafe { arg_mut(tracker, "tracker") }?;
        if pixels.is_null() {
            return Err(Error::Null("pixels"));
        }
        let format = pixel_format(format)?;
        // gaze-core validates the geometry; an empty slice passes every check but the
        // buffer size, whose error tells how many bytes the frame needs.
        let needed = match Frame::new(&[], width, height, stride, format, timestamp_ms) {
            Err(GazeError::BufferTooSmall { needed, .. }) => needed,
            Err(e) => return Err(e.into()),
            Ok(_) => 0,
        };
        // SAFETY: the caller guarantees `pixels` holds the `needed` bytes of this geometry.
        let data = unsafe { std::slice::from_raw_parts(pixels, needed) };
        let frame = Frame::new(data, width, height, stride, format, timestamp_ms)?;
        let result = handle.tracker.process(&frame)?;
        if !out.is_null() {
            // SAFETY: non-NULL `out` is writable per the contract.
            unsafe { out.write(gaze_frame_result::from(&result)) };
        }
        handle.last = Some(result);
        ok()
    })
}

/// The latest frame's result as the server's per-frame JSON message. On success `*out_json`
/// is a string to free with `gaze_string_free`.
///
/// # Safety
/// `tracker` is a live handle; `out_json` is valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gaze_tracker_last_json(
    tracker: *const gaze_tracker,
    out_json: *mut *mut c_char,
) -> gaze_status {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let handle = unsafe { arg_ref(tracker, "tracker") }?;
        if out_json.is_null() {
            return Err(Error::Null("out_json"));
        }
        let last = handle.last.as_ref().ok_or(Error::NoResult)?;
        let json = serde_json::to_string(&FrameMessage::from(last))?;
        let s = into_c_string(json)?;
        // SAFETY: checked non-NULL above; writable per the contract.
        unsafe { write_out(out_json, "out_json", s) }?;
        ok()
    })
}

/// Forgets the tracked face, smoothing and blink state.
///
/// # Safety
/// `tracker` is a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gaze_tracker_reset(tracker: *mut gaze_tracker) -> gaze_status {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let handle = unsafe { arg_mut(tracker, "tracker") }?;
        handle.tracker.reset();
        handle.last = None;
        ok()
    })
}

/// Sets the calibration (JSON from `Calibration::to_json`, e.g. stored by the server or the
/// Python package), or clears it when `calibration_json` is NULL.
///
/// # Safety
/// `tracker` is a live handle; `calibration_json` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gaze_tracker_set_calibration(
    tracker: *mut gaze_tracker,
    calibration_json: *const c_char,
) -> gaze_status {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let handle = unsafe { arg_mut(tracker, "tracker") }?;
        // SAFETY: per this function's contract.
        let calibration = match unsafe { arg_opt_str(calibration_json, "calibration_json") }? {
            Some(json) => Some(Calibration::from_json(json)?),
            None => None,
        };
        handle.tracker.set_calibration(calibration);
        ok()
    })
}
