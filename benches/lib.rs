//! Shared helpers for the criterion benchmarks: decoding the committed webcam clip.

use opencv::core::Mat;
use opencv::prelude::*;
use opencv::videoio;

/// Path of the committed webcam clip (640×480, 25 fps, 250 frames).
pub const CLIP: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../testdata/webcam/webcam_cap12_t18-28s_640x480_25fps.mp4"
);

/// A decoded BGR frame: packed pixels plus size.
pub struct DecodedFrame {
    /// Packed BGR bytes.
    pub data: Vec<u8>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// Decodes up to `max` frames of `path` into packed BGR buffers.
pub fn decode(path: &str, max: usize) -> opencv::Result<Vec<DecodedFrame>> {
    let mut cap = videoio::VideoCapture::from_file(path, videoio::CAP_ANY)?;
    let mut out = Vec::new();
    let mut img = Mat::default();
    while out.len() < max && cap.read(&mut img)? && !img.empty() {
        let packed = if img.is_continuous() {
            img.clone()
        } else {
            img.try_clone()?
        };
        out.push(DecodedFrame {
            data: packed.data_bytes()?.to_vec(),
            width: packed.cols() as u32,
            height: packed.rows() as u32,
        });
    }
    Ok(out)
}
