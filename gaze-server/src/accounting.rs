//! Live session accounting: the only place the server touches gaze-core's activity model.
//!
//! A thin wrapper around [`gaze_core::Session`]: frames' [`FrameResult`]s go in, the live
//! activity / attention / running totals and the [`SessionReport`] come out, and the state
//! round-trips through checkpoints ([`LiveAccount::snapshot`] / [`LiveAccount::restore`]).

use gaze_core::{
    Activity, ActivityConfig, Attention, FrameResult, GazeSample, ScreenGeometry, Session,
    SessionReport, SessionSnapshot,
};
use gaze_store::{MAX_TRACE_SAMPLES, SessionTrace};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Running totals sent with every live frame (seconds).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, ToSchema)]
pub struct LiveTotals {
    /// Seconds reading.
    pub reading_time: f64,
    /// Seconds browsing.
    pub browsing_time: f64,
    /// Seconds watching.
    pub watching_time: f64,
    /// Focused seconds that fit no activity.
    pub other_time: f64,
    /// Seconds focused (reading + browsing + watching + other).
    pub focus_time: f64,
    /// Seconds distracted.
    pub distraction_time: f64,
    /// Seconds without usable data.
    pub no_data_time: f64,
    /// Seconds since the first frame.
    pub duration: f64,
    /// Blinks so far.
    pub blink_count: u32,
}

impl LiveTotals {
    /// The totals of a (running) report.
    pub fn from_report(r: &SessionReport) -> Self {
        LiveTotals {
            reading_time: r.session_report.reading_time,
            browsing_time: r.session_report.browsing_time,
            watching_time: r.session_report.watching_time,
            other_time: r.other_time,
            focus_time: r.focus_time,
            distraction_time: r.distraction_time,
            no_data_time: r.no_data_time,
            duration: r.duration,
            blink_count: r.blink_count,
        }
    }
}

/// Live status after one frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LiveStatus {
    /// Current activity.
    #[schema(value_type = String, example = "reading")]
    pub activity: Activity,
    /// Current attention.
    #[schema(value_type = String, example = "focused")]
    pub attention: Attention,
    /// Running totals.
    pub totals: LiveTotals,
    /// False when the frame's timestamp was rejected (not after the previous one); it then
    /// changed nothing.
    pub accepted: bool,
}

/// Per-session accounting state.
#[derive(Debug, Clone)]
pub struct LiveAccount {
    session: Session,
    frames: u64,
    /// The accepted samples, in order, up to [`MAX_TRACE_SAMPLES`] (the first ones are kept):
    /// stored with the final report so the user's labels can refit the model. Not part of
    /// checkpoints: after a resume it holds only the samples accounted since.
    trace: Vec<GazeSample>,
}

impl LiveAccount {
    /// A fresh account for a screen of `screen` pixels (None: a typical laptop screen).
    pub fn new(session_id: &str, screen: Option<(f64, f64)>) -> Self {
        let config = screen
            .filter(|(w, h)| w.is_finite() && h.is_finite() && *w > 0.0 && *h > 0.0)
            .map(|(w, h)| ActivityConfig::with_geometry(ScreenGeometry::from_px(w, h)))
            .unwrap_or_default();
        LiveAccount {
            session: Session::new(session_id, config),
            frames: 0,
            trace: Vec::new(),
        }
    }

    /// A fresh account whose activity model is shifted by the user's adaptation
    /// (per-class offsets fitted from their labels, see `routes::labels`).
    pub fn adapted(session_id: &str, screen: Option<(f64, f64)>, class_bias: [f64; 3]) -> Self {
        let mut a = Self::new(session_id, screen);
        let config = ActivityConfig {
            class_bias,
            ..a.session.classifier().config().clone()
        };
        if let Ok(session) = Session::try_new(session_id, config) {
            a.session = session;
        }
        a
    }

    /// The activity model's per-class offsets in use.
    pub fn class_bias(&self) -> [f64; 3] {
        self.session.classifier().config().class_bias
    }

    /// The samples accounted so far with the screen they refer to.
    pub fn trace(&self) -> SessionTrace {
        SessionTrace {
            geometry: self.session.classifier().config().geometry,
            samples: self.trace.clone(),
        }
    }

    /// Resumes from a checkpoint's state (see [`LiveAccount::snapshot`]).
    pub fn restore(state: &serde_json::Value) -> Option<Self> {
        let snap: SessionSnapshot = serde_json::from_value(state.get("session")?.clone()).ok()?;
        let frames = state.get("frames").and_then(|v| v.as_u64()).unwrap_or(0);
        Some(LiveAccount {
            session: Session::restore(snap).ok()?,
            frames,
            trace: Vec::new(),
        })
    }

    /// Accounts one frame and returns the live status.
    pub fn push(&mut self, r: &FrameResult) -> LiveStatus {
        let sample = Session::frame_to_sample(r, self.session.classifier().config());
        let st = self.session.push_frame(r);
        if st.accepted {
            self.frames += 1;
            if self.trace.len() < MAX_TRACE_SAMPLES {
                self.trace.push(sample);
            }
        }
        let t = st.totals;
        LiveStatus {
            accepted: st.accepted,
            activity: st.activity,
            attention: st.attention,
            totals: LiveTotals {
                reading_time: t.reading_time,
                browsing_time: t.browsing_time,
                watching_time: t.watching_time,
                other_time: t.other_time,
                focus_time: t.focus_time(),
                distraction_time: t.distraction_time,
                no_data_time: t.no_data_time,
                duration: st.duration,
                blink_count: st.blink_count,
            },
        }
    }

    /// The report as if the session ended now (does not change the state).
    pub fn report(&self) -> SessionReport {
        self.session.report()
    }

    /// Ends the accounting and returns the final report.
    pub fn finish(&mut self) -> SessionReport {
        self.session.finish()
    }

    /// Frames accounted.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Serialised state for a checkpoint.
    pub fn snapshot(&self) -> serde_json::Value {
        serde_json::json!({
            "session": serde_json::to_value(self.session.snapshot()).unwrap_or(serde_json::Value::Null),
            "frames": self.frames,
        })
    }
}
