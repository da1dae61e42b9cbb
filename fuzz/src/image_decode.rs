//! `image_decode`: [`gaze_server::live::decode_image`] (JPEG / PNG, size limits checked
//! before decoding pixels) on arbitrary bytes, then the decoded image as a [`Frame`].
//!
//! Input: `[limits u8][image bytes…]`; limits picks `max_side` and `max_bytes` (the server
//! defaults, or small ones).

use gaze_core::{Frame, PixelFormat};
use gaze_server::live::{FrameLimits, decode_image};

use crate::Reader;

/// The server defaults: 1 MiB, 1920 pixels.
pub const DEFAULT_LIMITS: FrameLimits = FrameLimits {
    max_bytes: 1024 * 1024,
    max_side: 1920,
};

const SIDES: [u32; 4] = [DEFAULT_LIMITS.max_side, 64, 1, 640];
const BYTES: [usize; 4] = [DEFAULT_LIMITS.max_bytes, 4096, 64, usize::MAX];

/// Runs one input.
pub fn run(data: &[u8]) {
    let mut r = Reader::new(data);
    let sel = usize::from(r.u8());
    let limits = FrameLimits {
        max_side: SIDES[sel % 4],
        max_bytes: BYTES[(sel / 4) % 4],
    };
    let bytes = r.rest();
    let Ok(img) = decode_image(bytes, limits) else {
        return;
    };
    let (w, h) = img.dimensions();
    assert!(bytes.len() <= limits.max_bytes);
    assert!(w <= limits.max_side && h <= limits.max_side, "{w}x{h}");
    assert_eq!(img.as_raw().len() as u64, u64::from(w) * u64::from(h) * 3);
    let frame = Frame::packed(img.as_raw(), w, h, PixelFormat::Rgb8, 0.0);
    assert_eq!(frame.is_ok(), w > 0 && h > 0);
}
