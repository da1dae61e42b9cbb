//! numpy array → [`gaze_core::Frame`] without copying.
//!
//! A `uint8` array of shape H×W (gray), H×W×1, H×W×3 or H×W×4 whose pixels are packed within
//! each row (`strides[-1] == 1`, `strides[1] == channels`) and whose rows start every
//! `strides[0] >= W × channels` bytes is read in place: C-contiguous frames and row crops
//! such as `frame[10:200, 30:300]` are not copied. Any other layout (pixel steps such as
//! `frame[:, ::2]`, flipped views, broadcast arrays) is copied once into a packed buffer,
//! because a [`gaze_core::Frame`] only describes row strides.

use gaze_core::{Frame, GazeError, PixelFormat};
use numpy::{
    PyArrayDescrMethods, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArray,
    PyUntypedArrayMethods,
};
use pyo3::prelude::*;

use crate::error::BindingError;

/// Pixels borrowed from (or, for unsupported layouts, copied out of) a numpy array.
pub struct PixelView<'py> {
    array: PyReadonlyArrayDyn<'py, u8>,
    copy: Option<Vec<u8>>,
    len: usize,
    width: u32,
    height: u32,
    stride: usize,
    format: PixelFormat,
}

/// The plain parts of a [`PixelView`], which can cross into a thread without the GIL.
#[derive(Debug, Clone, Copy)]
pub struct PixelParts<'a> {
    /// Pixel bytes.
    pub data: &'a [u8],
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Bytes between row starts.
    pub stride: usize,
    /// Pixel layout.
    pub format: PixelFormat,
}

impl PixelParts<'_> {
    /// The gaze-core frame (validated by [`Frame::new`]).
    pub fn frame(&self, timestamp_ms: f64) -> Result<Frame<'_>, BindingError> {
        Ok(Frame::new(
            self.data,
            self.width,
            self.height,
            self.stride,
            self.format,
            timestamp_ms,
        )?)
    }
}

fn shape_text(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("({})", dims.join(", "))
}

fn side(n: usize) -> u32 {
    // Oversized sides become u32::MAX, which Frame::new rejects as too large.
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl<'py> PixelView<'py> {
    /// Checks type, dtype, shape and format, and borrows the pixels.
    pub fn new(obj: &Bound<'py, PyAny>, format: Option<&str>) -> Result<Self, BindingError> {
        let py = obj.py();
        let untyped = obj.cast::<PyUntypedArray>().map_err(|_| {
            let type_name = obj
                .get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_else(|_| "?".into());
            BindingError::type_error(format!(
                "frame must be a numpy.ndarray of dtype uint8, got {type_name}"
            ))
        })?;
        let dtype = untyped.dtype();
        if !dtype.is_equiv_to(&numpy::dtype::<u8>(py)) {
            return Err(BindingError::type_error(format!(
                "frame must have dtype uint8, got {dtype}; convert with frame.astype(numpy.uint8)"
            )));
        }
        let shape = untyped.shape().to_vec();
        let channels = match shape.len() {
            2 => 1,
            3 if matches!(shape[2], 1 | 3 | 4) => shape[2],
            _ => {
                return Err(BindingError::value_error(format!(
                    "frame must have shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got {}",
                    shape_text(&shape)
                )));
            }
        };
        let format = match format {
            None => match channels {
                1 => PixelFormat::Gray8,
                3 => PixelFormat::Bgr8,
                _ => PixelFormat::Bgra8,
            },
            Some(name) => {
                let f: PixelFormat = name.parse()?;
                if f.bytes_per_pixel() != channels {
                    return Err(BindingError::value_error(format!(
                        "format {name:?} needs {} channel(s), but the frame has shape {}",
                        f.bytes_per_pixel(),
                        shape_text(&shape)
                    )));
                }
                f
            }
        };
        let array = untyped
            .cast::<PyArrayDyn<u8>>()
            .map_err(|_| BindingError::type_error("frame must have dtype uint8"))?
            .try_readonly()
            .map_err(|e| BindingError::value_error(format!("frame is not readable: {e}")))?;
        let (height, width) = (shape[0], shape[1]);
        let (w32, h32) = (side(width), side(height));
        let row = width.saturating_mul(channels);
        // gaze-core's own size checks first (empty, too large), before any copy is made: an
        // empty buffer passes every check of `Frame::new` except the buffer size.
        match Frame::new(&[], w32, h32, row, format, 0.0) {
            Err(GazeError::BufferTooSmall { .. }) | Ok(_) => {}
            Err(e) => return Err(e.into()),
        }
        let strides = untyped.strides().to_vec();
        // A stride only matters for a dimension longer than 1.
        let fits = |dim: usize, want: isize| shape[dim] <= 1 || strides[dim] == want;
        let packed_pixels = fits(1, channels as isize) && (shape.len() == 2 || fits(2, 1));
        let row_stride = if height <= 1 {
            Some(row)
        } else {
            usize::try_from(strides[0]).ok().filter(|&s| s >= row)
        };
        match (packed_pixels, row_stride) {
            (true, Some(stride)) => {
                let len = stride
                    .checked_mul(height - 1)
                    .and_then(|v| v.checked_add(row))
                    .ok_or_else(|| BindingError::value_error("frame is too large"))?;
                Ok(PixelView {
                    array,
                    copy: None,
                    len,
                    width: w32,
                    height: h32,
                    stride,
                    format,
                })
            }
            _ => {
                let copy: Vec<u8> = array.as_array().iter().copied().collect();
                Ok(PixelView {
                    array,
                    len: copy.len(),
                    copy: Some(copy),
                    width: w32,
                    height: h32,
                    stride: row,
                    format,
                })
            }
        }
    }

    /// True when the pixels are read in place (no copy was made).
    pub fn is_borrowed(&self) -> bool {
        self.copy.is_none()
    }

    /// The pixel bytes and geometry.
    pub fn parts(&self) -> PixelParts<'_> {
        let data: &[u8] = match &self.copy {
            Some(v) => v,
            // SAFETY: `new` checked that the array is uint8 with positive row stride `stride`,
            // packed pixels, and `height` rows of `width * channels` bytes, so the element at
            // the last row's last byte lies at offset `len - 1` from the data pointer, inside
            // the array's buffer. The read-only borrow in `self.array` keeps the array alive
            // and excludes writable borrows from Rust for the lifetime of the slice.
            None => unsafe { std::slice::from_raw_parts(self.array.data() as *const u8, self.len) },
        };
        PixelParts {
            data,
            width: self.width,
            height: self.height,
            stride: self.stride,
            format: self.format,
        }
    }
}

/// Whether `frame` would be read in place (True) or copied once (False) by
/// `Tracker.process`; raises like `process` for unusable frames. For tests and diagnostics.
#[pyfunction]
#[pyo3(name = "_frame_is_borrowed", signature = (frame, format=None))]
pub fn frame_is_borrowed(frame: &Bound<'_, PyAny>, format: Option<&str>) -> PyResult<bool> {
    Ok(PixelView::new(frame, format)?.is_borrowed())
}
