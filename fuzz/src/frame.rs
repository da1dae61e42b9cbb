//! `frame`: [`Frame::new`] / [`Frame::packed`] from arbitrary width, height, stride, format,
//! timestamp and bytes; frames that construct and are tiny then go through the tracker
//! (plain [`Tracker::process`] and [`Tracker::process_with_face`] with an arbitrary face,
//! NaN and infinite coordinates included).
//!
//! Input: `[mode u8][width..][height..][stride..][format u8][timestamp..][face 18 B][pixels…]`.

use std::sync::{Mutex, OnceLock};

use gaze_core::frame::MAX_SIDE;
use gaze_core::{
    BoundingBox, Face, FaceKeypoints, Frame, FrameMessage, PixelFormat, Point, Tracker,
    TrackerConfig,
};

use crate::Reader;

/// Frames up to this many pixels go through the tracker (keeps one execution in the
/// millisecond range).
pub const MAX_TRACKED_PIXELS: u64 = 96 * 96;

const FORMATS: [PixelFormat; 5] = [
    PixelFormat::Gray8,
    PixelFormat::Bgr8,
    PixelFormat::Rgb8,
    PixelFormat::Bgra8,
    PixelFormat::Rgba8,
];

/// One tracker for every execution (loading the models takes far longer than a frame).
fn tracker() -> &'static Mutex<Tracker> {
    static TRACKER: OnceLock<Mutex<Tracker>> = OnceLock::new();
    TRACKER.get_or_init(|| {
        // One OpenCV thread: reproducible runs, no thread pool per fuzzing process.
        let _ = gaze_core::set_num_threads(1);
        Mutex::new(
            Tracker::new(TrackerConfig::default()).expect("tracker with the embedded models"),
        )
    })
}

fn side(r: &mut Reader<'_>, wide: bool) -> u32 {
    if wide { r.u32() } else { u32::from(r.u8()) }
}

fn point(r: &mut Reader<'_>, w: f32, h: f32) -> Point {
    Point::new(r.f32_in(-0.5 * w, 1.5 * w), r.f32_in(-0.5 * h, 1.5 * h))
}

/// Runs one input.
pub fn run(data: &[u8]) {
    let mut r = Reader::new(data);
    let mode = r.u8();
    let wide = mode & 1 != 0;
    let width = side(&mut r, wide);
    let height = side(&mut r, wide);
    let format = FORMATS[usize::from(r.u8() % 5)];
    let bpp = format.bytes_per_pixel();
    let stride = match (mode >> 1) & 3 {
        0 => width as usize * bpp,
        1 => width as usize * bpp + usize::from(r.u8()),
        2 => (width as usize * bpp).saturating_sub(usize::from(r.u8() % 4)),
        _ => r.u64() as usize,
    };
    let timestamp_ms = match (mode >> 3) & 3 {
        0 => f64::from(r.u16()),
        1 => r.f64_bits(),
        _ => r.f64_in(-1e6, 1e6),
    };
    let with_face = mode & 0x20 != 0;
    let face_bytes = r.take(18);
    let pixels = r.rest();

    let built = Frame::new(pixels, width, height, stride, format, timestamp_ms);
    // Frame::new accepts exactly the consistent views.
    let row = u128::from(width) * bpp as u128;
    let needed = (stride as u128) * u128::from(height.saturating_sub(1)) + row;
    let consistent = width > 0
        && height > 0
        && width <= MAX_SIDE
        && height <= MAX_SIDE
        && timestamp_ms.is_finite()
        && stride as u128 >= row
        && needed <= pixels.len() as u128;
    assert_eq!(built.is_ok(), consistent, "{built:?}");
    if stride == width as usize * bpp {
        let packed = Frame::packed(pixels, width, height, format, timestamp_ms);
        assert_eq!(packed.is_ok(), built.is_ok());
    }
    let Ok(frame) = built else {
        return;
    };
    assert_eq!(
        (frame.width(), frame.height(), frame.stride()),
        (width, height, stride)
    );
    if u64::from(width) * u64::from(height) > MAX_TRACKED_PIXELS {
        return;
    }
    let mut t = tracker().lock().unwrap_or_else(|p| p.into_inner());
    t.reset();
    let result = if with_face {
        let (w, h) = (width as f32, height as f32);
        let mut fr = Reader::new(face_bytes);
        let face = Face {
            bbox: BoundingBox {
                x: fr.f32_in(-w, w),
                y: fr.f32_in(-h, h),
                w: fr.f32_in(-w, 2.0 * w),
                h: fr.f32_in(-h, 2.0 * h),
            },
            keypoints: FaceKeypoints {
                right_eye: point(&mut fr, w, h),
                left_eye: point(&mut fr, w, h),
                nose_tip: point(&mut fr, w, h),
                mouth: point(&mut fr, w, h),
                right_ear: point(&mut fr, w, h),
                left_ear: point(&mut fr, w, h),
            },
            score: fr.f32_in(0.0, 1.0),
        };
        t.process_with_face(&frame, &face)
    } else {
        t.process(&frame)
    };
    if let Ok(res) = result {
        assert_eq!((res.width, res.height), (width, height));
        assert_eq!(res.timestamp_ms.to_bits(), timestamp_ms.to_bits());
        let msg = FrameMessage::from(&res);
        assert!(serde_json::to_string(&msg).is_ok());
        // A second frame continues tracking from the first.
        let _ = t.process(&frame);
    }
}
