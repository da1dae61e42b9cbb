//! Session accounting: integrates activity labels over time into a [`SessionReport`].
//! (Skeleton; the activity issue fills this in.)

use serde::{Deserialize, Serialize};

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

/// Final (or running) report of one session. Field names match the original API.
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
}
