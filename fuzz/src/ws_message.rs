//! `ws_message`: the track socket's message parser ([`gaze_server::ws::parse_message`]) on
//! arbitrary text (JSON) and binary messages, then the base64 / data-URL decoding of a text
//! frame ([`decode_base64_image`]) and the image decoder on what it yields.
//!
//! Input: `[kind u8][limit u8][message bytes…]`; kind picks binary / text / ping / close,
//! limit picks `max_frame_bytes` (the server default, tiny ones, or `usize::MAX`).

use axum::body::Bytes;
use axum::extract::ws::{Message, Utf8Bytes};
use gaze_server::live::{FrameLimits, FramePayload, decode_base64_image, decode_image};
use gaze_server::ws::{Incoming, parse_message};

use crate::Reader;

/// The server's default `max_frame_bytes`.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 1024 * 1024;

const LIMITS: [usize; 5] = [DEFAULT_MAX_FRAME_BYTES, 0, 16, 1024, usize::MAX];

/// Runs one input.
pub fn run(data: &[u8]) {
    let mut r = Reader::new(data);
    let kind = r.u8();
    let max_frame_bytes = LIMITS[usize::from(r.u8()) % LIMITS.len()];
    let body = r.rest();
    let binary = kind % 4 == 0;
    let msg = match kind % 4 {
        0 => Message::Binary(Bytes::copy_from_slice(body)),
        1 => Message::Ping(Bytes::copy_from_slice(body)),
        2 if kind & 0x80 != 0 => Message::Close(None),
        _ => Message::Text(Utf8Bytes::from(String::from_utf8_lossy(body).into_owned())),
    };
    match parse_message(msg, max_frame_bytes) {
        Incoming::Frame(f) => {
            assert!(
                f.timestamp_ms.is_finite() && f.timestamp_ms >= 0.0,
                "frame time {}",
                f.timestamp_ms
            );
            match f.payload {
                FramePayload::Encoded(b) => {
                    assert!(binary && b.len() <= max_frame_bytes && b[..] == *body);
                }
                FramePayload::Base64(s) => {
                    assert!(!binary);
                    let max = max_frame_bytes.min(DEFAULT_MAX_FRAME_BYTES);
                    if let Ok(bytes) = decode_base64_image(&s, max) {
                        assert!(bytes.len() <= max.saturating_add(8), "{}", bytes.len());
                        let limits = FrameLimits {
                            max_bytes: max,
                            max_side: 64,
                        };
                        let _ = decode_image(&bytes, limits);
                    }
                }
            }
        }
        Incoming::Reply(text) => {
            // Every reply is a JSON object: an error, or the pong.
            let v: serde_json::Value = serde_json::from_str(&text).expect("reply is JSON");
            assert!(v.get("error").is_some_and(|e| e.is_string()) || v["type"] == "pong");
            if binary {
                assert!(body.len() > max_frame_bytes);
            }
        }
        Incoming::End | Incoming::Ignore | Incoming::Closed => assert!(!binary),
    }
}
