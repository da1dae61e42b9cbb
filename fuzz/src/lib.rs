//! # gaze-fuzz
//!
//! The logic of every fuzz target, as ordinary functions that take the fuzzer's bytes. The
//! libFuzzer bins in `fuzz_targets/` (built by `cargo fuzz`, feature `libfuzzer`) only call
//! these; `tests/corpus.rs` replays the committed corpus and every regression input through
//! the same functions under a plain `cargo test`.
//!
//! Each `run` must never panic on any input: errors are fine, panics (and failed invariant
//! assertions) are bugs. See `fuzz/README.md`.

#![deny(missing_docs)]

pub mod activity_stream;
pub mod calibration_json;
pub mod frame;
pub mod image_decode;
pub mod report_json;
pub mod ws_message;

/// A target's entry point.
pub type Target = fn(&[u8]);

/// The targets, by name (the names of `fuzz_targets/*.rs` and of the corpus folders).
pub const TARGETS: [(&str, Target); 6] = [
    ("frame", frame::run),
    ("ws_message", ws_message::run),
    ("image_decode", image_decode::run),
    ("calibration_json", calibration_json::run),
    ("report_json", report_json::run),
    ("activity_stream", activity_stream::run),
];

/// Reads structured values from the fuzzer's bytes; past the end every read gives zeros.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Reads from `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data }
    }

    /// Bytes not read yet.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Takes up to `n` bytes.
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, tail) = self.data.split_at(n.min(self.data.len()));
        self.data = tail;
        head
    }

    /// The rest of the bytes.
    pub fn rest(&mut self) -> &'a [u8] {
        self.take(usize::MAX)
    }

    fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let b = self.take(N);
        out[..b.len()].copy_from_slice(b);
        out
    }

    /// One byte.
    pub fn u8(&mut self) -> u8 {
        self.array::<1>()[0]
    }

    /// Little-endian u16.
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.array())
    }

    /// Little-endian u32.
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.array())
    }

    /// Little-endian u64.
    pub fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.array())
    }

    /// Any f64 bit pattern (NaN, infinities and subnormals included).
    pub fn f64_bits(&mut self) -> f64 {
        f64::from_bits(self.u64())
    }

    /// One byte mapped onto `lo..hi` (256 steps), or, for the top 8 values, a special value:
    /// NaN, +inf, -inf, ±1e30, 0, -0, f32::MAX.
    pub fn f32_in(&mut self, lo: f32, hi: f32) -> f32 {
        match self.u8() {
            k @ 0..=247 => lo + (hi - lo) * f32::from(k) / 247.0,
            248 => f32::NAN,
            249 => f32::INFINITY,
            250 => f32::NEG_INFINITY,
            251 => 1e30,
            252 => -1e30,
            253 => 0.0,
            254 => -0.0,
            _ => f32::MAX,
        }
    }

    /// Like [`Reader::f32_in`] for f64 (specials: NaN, ±inf, ±1e300, 0, -0, f64::MAX).
    pub fn f64_in(&mut self, lo: f64, hi: f64) -> f64 {
        match self.u8() {
            k @ 0..=247 => lo + (hi - lo) * f64::from(k) / 247.0,
            248 => f64::NAN,
            249 => f64::INFINITY,
            250 => f64::NEG_INFINITY,
            251 => 1e300,
            252 => -1e300,
            253 => 0.0,
            254 => -0.0,
            _ => f64::MAX,
        }
    }
}

/// `a ≈ b` within `rel` of the larger magnitude (and `abs` absolutely).
pub fn close(a: f64, b: f64, rel: f64, abs: f64) -> bool {
    (a - b).abs() <= abs + rel * a.abs().max(b.abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_pads_with_zeros_and_maps_specials() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u16(), 0x0201);
        assert_eq!(r.u32(), 3);
        assert!(r.is_empty());
        assert_eq!(r.u8(), 0);
        let mut r = Reader::new(&[0, 247, 248, 249]);
        assert_eq!(r.f32_in(-1.0, 1.0), -1.0);
        assert_eq!(r.f32_in(-1.0, 1.0), 1.0);
        assert!(r.f32_in(-1.0, 1.0).is_nan());
        assert_eq!(r.f64_in(0.0, 1.0), f64::INFINITY);
    }
}
