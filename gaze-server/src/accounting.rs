//! Live session accounting: the only place the server touches gaze-core's activity model.
//!
//! Frames' [`FrameResult`]s go in, the live activity / attention / running totals and the
//! [`SessionReport`] come out. When gaze-core's `Session` type lands this module becomes a
//! thin wrapper around it; the rest of the server only sees [`LiveAccount`].

use gaze_core::activity::{ActivityClassifier, ActivityConfig, GazeSample, ScreenGeometry};
use gaze_core::{Activity, ActivityTimes, Attention, FrameResult, SessionReport};
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
}

/// Per-session accounting state (serialisable for checkpoints).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LiveAccount {
    session_id: String,
    classifier: ActivityClassifier,
    geometry: ScreenGeometry,
    blink_base: Option<u32>,
    blinks: u32,
    face_frames: u64,
    frames: u64,
}

impl LiveAccount {
    /// A fresh account for a screen of `screen` pixels (None: a typical laptop screen).
    pub fn new(session_id: &str, screen: Option<(f64, f64)>) -> Self {
        let geometry = screen
            .filter(|(w, h)| *w > 0.0 && *h > 0.0 && w.is_finite() && h.is_finite())
            .map(|(w, h)| ScreenGeometry::from_px(w, h))
            .unwrap_or_default();
        LiveAccount {
            session_id: session_id.to_string(),
            classifier: ActivityClassifier::new(ActivityConfig::with_geometry(geometry)),
            geometry,
            blink_base: None,
            blinks: 0,
            face_frames: 0,
            frames: 0,
        }
    }

    /// Accounts one frame and returns the live status.
    pub fn push(&mut self, r: &FrameResult) -> LiveStatus {
        self.frames += 1;
        if r.face.is_some() {
            self.face_frames += 1;
        }
        // The tracker counts blinks since it was created; a reconnect creates a new tracker,
        // so count increments relative to the first value seen per tracker.
        let base = *self.blink_base.get_or_insert(r.blink.count);
        if r.blink.count >= base {
            self.blinks = self.blinks.max(r.blink.count - base);
        }
        let t = r.timestamp_ms;
        let sample = match (&r.gaze, r.gaze.and_then(|g| g.screen)) {
            (Some(_), Some(p)) => GazeSample::new(t, p.x as f64, p.y as f64),
            (Some(g), None) => {
                GazeSample::from_ratios(t, g.horizontal as f64, g.vertical as f64, &self.geometry)
            }
            (None, _) => GazeSample::invalid(t, r.attention),
        }
        .with_evidence(r.attention);
        let st = self.classifier.push(sample);
        LiveStatus {
            activity: st.activity,
            attention: st.attention,
            totals: self.totals_from(&st.totals),
        }
    }

    /// Restarts blink counting for a new tracker (after a reconnect).
    pub fn new_tracker(&mut self) {
        self.blink_base = None;
    }

    fn totals_from(&self, t: &gaze_core::activity::ActivityTotals) -> LiveTotals {
        LiveTotals {
            reading_time: t.reading_time,
            browsing_time: t.browsing_time,
            watching_time: t.watching_time,
            other_time: t.other_time,
            focus_time: t.focus_time(),
            distraction_time: t.distraction_time,
            no_data_time: t.no_data_time,
            duration: t.total_time(),
            blink_count: self.blinks,
        }
    }

    fn build(
        &self,
        t: &gaze_core::activity::ActivityTotals,
        timeline: Vec<gaze_core::TimelineSegment>,
    ) -> SessionReport {
        let started = self.classifier.started_at().unwrap_or(0.0);
        let ended = self.classifier.ended_at().unwrap_or(started);
        let duration = t.total_time();
        let present_min = (duration - t.no_data_time).max(0.0) / 60.0;
        SessionReport {
            session_id: self.session_id.clone(),
            focus_time: t.focus_time(),
            distraction_time: t.distraction_time,
            session_report: ActivityTimes {
                reading_time: t.reading_time,
                browsing_time: t.browsing_time,
                watching_time: t.watching_time,
            },
            started_at: started,
            ended_at: ended,
            duration,
            other_time: t.other_time,
            no_data_time: t.no_data_time,
            blink_count: self.blinks,
            blink_rate_per_min: if present_min > 0.0 {
                self.blinks as f64 / present_min
            } else {
                0.0
            },
            fixation_count: u32::try_from(self.classifier.fixation_count()).unwrap_or(u32::MAX),
            mean_fixation_ms: self.classifier.mean_fixation_ms(),
            timeline,
        }
    }

    /// The report as if the session ended now (does not change the state).
    pub fn report(&self) -> SessionReport {
        let (t, timeline) = self.classifier.provisional();
        self.build(&t, timeline)
    }

    /// Ends the accounting and returns the final report.
    pub fn finish(&mut self) -> SessionReport {
        let (t, timeline) = self.classifier.finish();
        self.build(&t, timeline)
    }

    /// Frames accounted.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Serialised state for a checkpoint.
    pub fn snapshot(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}
