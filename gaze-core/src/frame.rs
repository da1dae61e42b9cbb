//! A borrowed view of one image: pixels, size, stride, format, timestamp.

use crate::error::{GazeError, Result};
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// Largest width or height accepted by [`Frame::new`].
pub const MAX_SIDE: u32 = 16_384;

/// Memory layout of one pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PixelFormat {
    /// One byte of luminance.
    Gray8,
    /// Blue, green, red (OpenCV's default).
    Bgr8,
    /// Red, green, blue.
    Rgb8,
    /// Blue, green, red, alpha.
    Bgra8,
    /// Red, green, blue, alpha (browser canvases).
    Rgba8,
}

impl PixelFormat {
    /// Bytes one pixel occupies.
    pub fn bytes_per_pixel(self) -> usize {
        match self {
            PixelFormat::Gray8 => 1,
            PixelFormat::Bgr8 | PixelFormat::Rgb8 => 3,
            PixelFormat::Bgra8 | PixelFormat::Rgba8 => 4,
        }
    }
}

impl FromStr for PixelFormat {
    type Err = GazeError;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "gray" | "grey" | "gray8" | "l" => Ok(PixelFormat::Gray8),
            "bgr" | "bgr8" | "bgr24" => Ok(PixelFormat::Bgr8),
            "rgb" | "rgb8" | "rgb24" => Ok(PixelFormat::Rgb8),
            "bgra" | "bgra8" | "bgrx" => Ok(PixelFormat::Bgra8),
            "rgba" | "rgba8" | "rgbx" => Ok(PixelFormat::Rgba8),
            other => Err(GazeError::UnknownFormat(other.to_string())),
        }
    }
}

/// A borrowed, validated view of one image. Wrapping a numpy array or a C pointer makes no copy.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    data: &'a [u8],
    width: u32,
    height: u32,
    stride: usize,
    format: PixelFormat,
    timestamp_ms: f64,
}

impl<'a> Frame<'a> {
    /// Wraps `data` as a `width` x `height` image whose rows start every `stride` bytes.
    ///
    /// The last row only needs `width * bytes_per_pixel` bytes, so a cropped view of a larger
    /// image is accepted. Every inconsistency gives a typed error.
    pub fn new(
        data: &'a [u8],
        width: u32,
        height: u32,
        stride: usize,
        format: PixelFormat,
        timestamp_ms: f64,
    ) -> Result<Self> {
        if width == 0 || height == 0 {
            return Err(GazeError::EmptyFrame { width, height });
        }
        if width > MAX_SIDE || height > MAX_SIDE {
            return Err(GazeError::FrameTooLarge {
                width,
                height,
                max: MAX_SIDE,
            });
        }
        if !timestamp_ms.is_finite() {
            return Err(GazeError::BadTimestamp(timestamp_ms));
        }
        let bpp = format.bytes_per_pixel();
        let row = width as usize * bpp;
        if stride < row {
            return Err(GazeError::StrideTooSmall {
                stride,
                width,
                bytes_per_pixel: bpp,
            });
        }
        let needed = stride
            .checked_mul(height as usize - 1)
            .and_then(|v| v.checked_add(row))
            .ok_or(GazeError::FrameTooLarge {
                width,
                height,
                max: MAX_SIDE,
            })?;
        if data.len() < needed {
            return Err(GazeError::BufferTooSmall {
                needed,
                actual: data.len(),
                width,
                height,
                stride,
            });
        }
        Ok(Frame {
            data,
            width,
            height,
            stride,
            format,
            timestamp_ms,
        })
    }

    /// Wraps a tightly packed buffer (stride = width x bytes per pixel).
    pub fn packed(
        data: &'a [u8],
        width: u32,
        height: u32,
        format: PixelFormat,
        timestamp_ms: f64,
    ) -> Result<Self> {
        let stride = width as usize * format.bytes_per_pixel();
        Self::new(data, width, height, stride, format, timestamp_ms)
    }

    /// Pixel bytes (at least `stride * (height - 1) + width * bpp` of them).
    pub fn data(&self) -> &'a [u8] {
        self.data
    }
    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }
    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }
    /// Bytes from the start of one row to the next.
    pub fn stride(&self) -> usize {
        self.stride
    }
    /// Pixel layout.
    pub fn format(&self) -> PixelFormat {
        self.format
    }
    /// Capture time in milliseconds (any epoch; must increase for tracking to make sense).
    pub fn timestamp_ms(&self) -> f64 {
        self.timestamp_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bad_shape_is_a_typed_error() {
        let buf = vec![0u8; 100];
        assert!(matches!(
            Frame::new(&buf, 0, 10, 30, PixelFormat::Bgr8, 0.0),
            Err(GazeError::EmptyFrame { .. })
        ));
        assert!(matches!(
            Frame::new(&buf, 10, 10, 29, PixelFormat::Bgr8, 0.0),
            Err(GazeError::StrideTooSmall { .. })
        ));
        assert!(matches!(
            Frame::new(&buf, 10, 10, 30, PixelFormat::Bgr8, 0.0),
            Err(GazeError::BufferTooSmall { needed: 300, .. })
        ));
        assert!(matches!(
            Frame::new(&buf, 20_000, 1, 60_000, PixelFormat::Bgr8, 0.0),
            Err(GazeError::FrameTooLarge { .. })
        ));
        assert!(matches!(
            Frame::new(&buf, 5, 5, 5, PixelFormat::Gray8, f64::NAN),
            Err(GazeError::BadTimestamp(_))
        ));
        assert!(matches!(
            "yuv".parse::<PixelFormat>(),
            Err(GazeError::UnknownFormat(_))
        ));
    }

    #[test]
    fn last_row_may_be_short() {
        // 3 rows of 4 gray pixels inside rows of stride 10: 10 + 10 + 4 bytes suffice.
        let buf = vec![0u8; 24];
        let f = Frame::new(&buf, 4, 3, 10, PixelFormat::Gray8, 1.0).expect("valid view");
        assert_eq!((f.width(), f.height(), f.stride()), (4, 3, 10));
    }
}
