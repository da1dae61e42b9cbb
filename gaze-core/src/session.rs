//! Session accounting: integrates activity labels over time into a [`SessionReport`].
//! (Types fixed; the activity issue fills in the accounting.)

use serde::{Deserialize, Serialize};

/// What the person is doing at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activity {
    /// Reading text: short forward saccades along lines, return sweeps.
    Reading,
    /// Scanning / searching: larger, irregular saccades.
    Browsing,
    /// Watching: long fixations or smooth pursuit on a region (video).
    Watching,
    /// On screen, fits none of the above.
    Other,
    /// No label (distracted or no data).
    #[default]
    None,
}

/// Whether the person attends to the screen at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Attention {
    /// Looking at the screen.
    Focused,
    /// No face, looking away, eyes closed beyond a blink, head turned away.
    Distracted,
    /// No samples (gap longer than the configured threshold).
    #[default]
    NoData,
}

/// One stretch of time with a constant label. Adjacent equal segments are merged.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct TimelineSegment {
    /// Start (ms, the samples' clock).
    pub start_ms: f64,
    /// End (ms).
    pub end_ms: f64,
    /// Activity during the segment.
    pub activity: Activity,
    /// Attention during the segment.
    pub attention: Attention,
}

/// Seconds spent in each focused activity (the seed's `session_report` object).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ActivityTimes {
    /// Seconds spent reading.
    pub reading_time: f64,
    /// Seconds spent browsing.
    pub browsing_time: f64,
    /// Seconds spent watching.
    pub watching_time: f64,
}

/// Final (or running) report of one session. Field names match the original API; times are
/// seconds, `started_at` / `ended_at` are the samples' clock in milliseconds (Unix epoch ms
/// when frames carry wall-clock timestamps).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SessionReport {
    /// Session id.
    pub session_id: String,
    /// Seconds focused (reading + browsing + watching + other).
    pub focus_time: f64,
    /// Seconds distracted.
    pub distraction_time: f64,
    /// Per-activity seconds.
    pub session_report: ActivityTimes,
    /// First sample time (ms).
    pub started_at: f64,
    /// Last sample time (ms).
    pub ended_at: f64,
    /// Seconds from start to end.
    pub duration: f64,
    /// Focused seconds that fit no activity.
    pub other_time: f64,
    /// Seconds without samples (gaps beyond the threshold).
    pub no_data_time: f64,
    /// Blinks counted.
    pub blink_count: u32,
    /// Blinks per minute of face-present time.
    pub blink_rate_per_min: f64,
    /// Fixations detected.
    pub fixation_count: u32,
    /// Mean fixation duration (ms).
    pub mean_fixation_ms: f64,
    /// Merged label segments.
    pub timeline: Vec<TimelineSegment>,
}
