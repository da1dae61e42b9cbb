//! Per-user adaptation records: a session's sample trace, the user's labels ("this stretch
//! was reading") and the adaptation fitted from them.
//!
//! The store keeps these as data; fitting the adaptation
//! ([`gaze_activity::ActivityConfig::adapt_to_labels`]) is the server's job.

use gaze_activity::{Activity, AttentionEvidence, GazeSample, ScreenGeometry};
use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};

/// Most samples a [`SessionTrace`] may hold: 40 minutes at 30 Hz.
pub const MAX_TRACE_SAMPLES: usize = 72_000;
/// Most labels one user may have.
pub const MAX_LABELS_PER_USER: usize = 1_000;
/// Largest stored adaptation (JSON bytes).
pub const MAX_ADAPTATION_BYTES: usize = 64 << 10;
/// Largest label time (seconds from the session's start): a week.
pub const MAX_LABEL_SECONDS: f64 = 7.0 * 24.0 * 3600.0;

/// Magic and format version of an encoded trace.
const TRACE_MAGIC: &[u8; 4] = b"GZT1";
/// Bytes per encoded sample: t (f64), x (f32), y (f32), flags (u8).
const SAMPLE_BYTES: usize = 8 + 4 + 4 + 1;

/// The per-sample gaze / validity / attention stream a session's accounting saw, in time
/// order: what [`gaze_activity::ActivityConfig::adapt_to_labels`] needs to refit the model
/// on a labelled stretch of the session.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SessionTrace {
    /// Screen the samples' pixel coordinates refer to.
    pub geometry: ScreenGeometry,
    /// The samples (≤ [`MAX_TRACE_SAMPLES`]), ascending `t_ms`.
    pub samples: Vec<GazeSample>,
}

impl SessionTrace {
    /// Checks the limits: at most [`MAX_TRACE_SAMPLES`] samples, finite ascending times,
    /// finite points on valid samples. `Invalid` otherwise.
    pub fn validate(&self) -> Result<()> {
        if self.samples.len() > MAX_TRACE_SAMPLES {
            return Err(StoreError::invalid(format!(
                "a trace holds at most {MAX_TRACE_SAMPLES} samples"
            )));
        }
        let mut prev = f64::NEG_INFINITY;
        for s in &self.samples {
            if !s.t_ms.is_finite() || s.t_ms < prev {
                return Err(StoreError::invalid(
                    "trace sample times must be finite and ascending",
                ));
            }
            prev = s.t_ms;
            let fits = |v: f64| v.is_finite() && v.abs() <= f32::MAX as f64;
            if s.valid && !(fits(s.x) && fits(s.y)) {
                return Err(StoreError::invalid("trace sample with a non-finite point"));
            }
        }
        let g = &self.geometry;
        if !(g.width_px.is_finite() && g.height_px.is_finite()) {
            return Err(StoreError::invalid("trace geometry is not finite"));
        }
        Ok(())
    }

    /// Compact binary encoding: `GZT1`, the geometry as length-prefixed JSON, the sample
    /// count, then 17 bytes per sample (t f64, x f32, y f32, flags), little endian.
    pub fn encode(&self) -> Result<Vec<u8>> {
        self.validate()?;
        let geometry = serde_json::to_vec(&self.geometry)?;
        let mut out =
            Vec::with_capacity(4 + 4 + geometry.len() + 4 + self.samples.len() * SAMPLE_BYTES);
        out.extend_from_slice(TRACE_MAGIC);
        out.extend_from_slice(&(geometry.len() as u32).to_le_bytes());
        out.extend_from_slice(&geometry);
        out.extend_from_slice(&(self.samples.len() as u32).to_le_bytes());
        for s in &self.samples {
            let e = &s.evidence;
            let flags = u8::from(s.valid)
                | (u8::from(e.face_present) << 1)
                | (u8::from(e.eyes_closed) << 2)
                | (u8::from(e.head_away) << 3)
                | (u8::from(e.gaze_off_screen) << 4);
            out.extend_from_slice(&s.t_ms.to_le_bytes());
            out.extend_from_slice(&(s.x as f32).to_le_bytes());
            out.extend_from_slice(&(s.y as f32).to_le_bytes());
            out.push(flags);
        }
        Ok(out)
    }

    /// Decodes [`SessionTrace::encode`]'s output; `Internal` for anything else.
    pub fn decode(bytes: &[u8]) -> Result<SessionTrace> {
        let bad = || StoreError::internal("stored trace is malformed");
        let mut r = Reader { bytes, at: 0 };
        if r.take(4).ok_or_else(bad)? != TRACE_MAGIC {
            return Err(bad());
        }
        let glen = r.u32().ok_or_else(bad)? as usize;
        let geometry: ScreenGeometry =
            serde_json::from_slice(r.take(glen).ok_or_else(bad)?).map_err(|_| bad())?;
        let n = r.u32().ok_or_else(bad)? as usize;
        if n > MAX_TRACE_SAMPLES || r.left() != n * SAMPLE_BYTES {
            return Err(bad());
        }
        let mut samples = Vec::with_capacity(n);
        for _ in 0..n {
            let t = f64::from_le_bytes(r.array().ok_or_else(bad)?);
            let x = f32::from_le_bytes(r.array().ok_or_else(bad)?);
            let y = f32::from_le_bytes(r.array().ok_or_else(bad)?);
            let [flags] = r.array::<1>().ok_or_else(bad)?;
            samples.push(GazeSample {
                t_ms: t,
                x: f64::from(x),
                y: f64::from(y),
                valid: flags & 1 != 0,
                evidence: AttentionEvidence {
                    face_present: flags & 2 != 0,
                    eyes_closed: flags & 4 != 0,
                    head_away: flags & 8 != 0,
                    gaze_off_screen: flags & 16 != 0,
                },
            });
        }
        Ok(SessionTrace { geometry, samples })
    }

    /// The samples with `start_ms <= t_ms < end_ms`.
    pub fn between(&self, start_ms: f64, end_ms: f64) -> &[GazeSample] {
        let a = self.samples.partition_point(|s| s.t_ms < start_ms);
        let b = self.samples.partition_point(|s| s.t_ms < end_ms).max(a);
        &self.samples[a..b]
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let s = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(s)
    }
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
    fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_le_bytes)
    }
    fn left(&self) -> usize {
        self.bytes.len() - self.at
    }
}

/// Input of [`Store::add_label`](crate::Store::add_label): a stretch of one of the user's
/// sessions and what the user says it was.
#[derive(Debug, Clone, PartialEq)]
pub struct NewLabel {
    /// The session (must belong to the user).
    pub session_id: String,
    /// Start, seconds from the session's first frame (≥ 0).
    pub start_s: f64,
    /// End, seconds from the session's first frame (> `start_s`, ≤ [`MAX_LABEL_SECONDS`]).
    pub end_s: f64,
    /// Reading, browsing or watching (the classes the activity model can learn).
    pub activity: Activity,
}

/// A stored label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Label {
    /// Label id (16 lowercase hex), assigned by the store.
    pub id: String,
    /// Owner.
    pub user_id: String,
    /// Labelled session.
    pub session_id: String,
    /// Start, seconds from the session's first frame.
    pub start_s: f64,
    /// End, seconds from the session's first frame.
    pub end_s: f64,
    /// What the stretch was.
    pub activity: Activity,
    /// When the label was stored (store clock, epoch ms).
    pub created_at_ms: i64,
}

/// Checks a new label: finite 0 ≤ start < end ≤ [`MAX_LABEL_SECONDS`], a learnable activity.
pub(crate) fn check_new_label(l: &NewLabel) -> Result<()> {
    if !(l.start_s.is_finite() && l.end_s.is_finite())
        || l.start_s < 0.0
        || l.end_s <= l.start_s
        || l.end_s > MAX_LABEL_SECONDS
    {
        return Err(StoreError::invalid(format!(
            "label range must satisfy 0 <= start_s < end_s <= {MAX_LABEL_SECONDS}"
        )));
    }
    if !matches!(
        l.activity,
        Activity::Reading | Activity::Browsing | Activity::Watching
    ) {
        return Err(StoreError::invalid(
            "label must be reading, browsing or watching",
        ));
    }
    Ok(())
}

/// Label ids are 16 lowercase hex characters.
pub(crate) fn check_label_id(id: &str) -> Result<()> {
    if id.len() == 16 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(StoreError::not_found("label"))
    }
}

/// Serializes an adaptation and checks its size.
pub(crate) fn adaptation_json(v: &serde_json::Value) -> Result<String> {
    let json = serde_json::to_string(v)?;
    if json.len() > MAX_ADAPTATION_BYTES {
        return Err(StoreError::invalid(format!(
            "adaptation is larger than {MAX_ADAPTATION_BYTES} bytes"
        )));
    }
    Ok(json)
}

/// Sorts labels oldest first (creation time, then id).
pub(crate) fn sort_labels(v: &mut [Label]) {
    v.sort_by(|a, b| {
        a.created_at_ms
            .cmp(&b.created_at_ms)
            .then_with(|| a.id.cmp(&b.id))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_round_trips_and_rejects_junk() {
        let mut t = SessionTrace {
            geometry: ScreenGeometry::from_px(1280.0, 800.0),
            samples: Vec::new(),
        };
        for i in 0..100 {
            let mut s = GazeSample::new(
                1_700_000_000_000.0 + i as f64 * 33.3,
                10.5 * i as f64,
                400.25,
            );
            if i % 10 == 0 {
                s = GazeSample::invalid(s.t_ms, AttentionEvidence::default());
            }
            s.evidence.eyes_closed = i % 7 == 0;
            t.samples.push(s);
        }
        let b = t.encode().unwrap();
        assert_eq!(
            b.len(),
            4 + 4 + serde_json::to_vec(&t.geometry).unwrap().len() + 4 + 100 * 17
        );
        assert_eq!(SessionTrace::decode(&b).unwrap(), t);
        assert!(SessionTrace::decode(&b[..b.len() - 1]).is_err());
        assert!(SessionTrace::decode(b"nope").is_err());
        assert_eq!(
            // samples at 33.3, 66.6 and 99.9 ms
            t.between(1_700_000_000_000.0 + 33.0, 1_700_000_000_000.0 + 100.0)
                .len(),
            3
        );
        t.samples.swap(1, 2);
        assert!(t.encode().is_err());
    }
}
