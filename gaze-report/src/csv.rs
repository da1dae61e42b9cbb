//! The CSV export.
//!
//! One table, one header, every row the same eight columns (any CSV reader takes it as is;
//! filter on `kind`):
//!
//! ```text
//! kind,name,start_s,end_s,value,unit,activity,attention
//! segment,,0.000,1.240,1.240,s,reading,focused
//! segment,,1.240,2.000,0.760,s,none,distracted
//! total,duration,,,2.000,s,,
//! total,focus_time,,,1.240,s,,
//! ...
//! ```
//!
//! * `segment` rows: the report's timeline, one row per merged segment; `start_s` / `end_s`
//!   are seconds since the session's first sample, `value` the segment's length in seconds,
//!   `activity` one of `reading browsing watching other none`, `attention` one of
//!   `focused distracted no_data`. Summing `value` by label gives the totals.
//! * `total` rows: `name` is the report's JSON field name, `value` its value in `unit`:
//!   `duration focus_time distraction_time no_data_time reading_time browsing_time
//!   watching_time other_time` (s), `blink_count fixation_count` (count),
//!   `blink_rate_per_min` (per_min), `mean_fixation_ms started_at ended_at` (ms).
//!
//! Seconds are written with 3 decimals (1 ms), so a total read back is within 0.0005 s.

use std::fmt::Write as _;

use gaze_activity::{Activity, Attention, SessionReport};

/// The CSV header line (without the newline).
pub const HEADER: &str = "kind,name,start_s,end_s,value,unit,activity,attention";

/// The label `activity` uses in JSON and CSV.
pub fn activity_label(a: Activity) -> &'static str {
    match a {
        Activity::Reading => "reading",
        Activity::Browsing => "browsing",
        Activity::Watching => "watching",
        Activity::Other => "other",
        Activity::None => "none",
    }
}

/// The label `attention` uses in JSON and CSV.
pub fn attention_label(a: Attention) -> &'static str {
    match a {
        Attention::Focused => "focused",
        Attention::Distracted => "distracted",
        Attention::NoData => "no_data",
    }
}

fn fin(v: f64) -> f64 {
    if v.is_finite() { v } else { 0.0 }
}

/// Renders the report as CSV (layout in the [module docs](self)).
pub fn to_csv(r: &SessionReport) -> String {
    let mut s = String::with_capacity(64 * (r.timeline.len() + 16));
    s.push_str(HEADER);
    s.push('\n');
    let t0 = fin(r.started_at);
    for seg in &r.timeline {
        let (a, b) = (
            fin(seg.start_ms - t0) / 1000.0,
            fin(seg.end_ms - t0) / 1000.0,
        );
        let _ = writeln!(
            s,
            "segment,,{a:.3},{b:.3},{:.3},s,{},{}",
            b - a,
            activity_label(seg.activity),
            attention_label(seg.attention)
        );
    }
    let secs = [
        ("duration", r.duration),
        ("focus_time", r.focus_time),
        ("distraction_time", r.distraction_time),
        ("no_data_time", r.no_data_time),
        ("reading_time", r.session_report.reading_time),
        ("browsing_time", r.session_report.browsing_time),
        ("watching_time", r.session_report.watching_time),
        ("other_time", r.other_time),
    ];
    for (name, v) in secs {
        let _ = writeln!(s, "total,{name},,,{:.3},s,,", fin(v));
    }
    let _ = writeln!(s, "total,blink_count,,,{},count,,", r.blink_count);
    let _ = writeln!(
        s,
        "total,blink_rate_per_min,,,{:.3},per_min,,",
        fin(r.blink_rate_per_min)
    );
    let _ = writeln!(s, "total,fixation_count,,,{},count,,", r.fixation_count);
    let _ = writeln!(
        s,
        "total,mean_fixation_ms,,,{:.3},ms,,",
        fin(r.mean_fixation_ms)
    );
    let _ = writeln!(s, "total,started_at,,,{:.3},ms,,", fin(r.started_at));
    let _ = writeln!(s, "total,ended_at,,,{:.3},ms,,", fin(r.ended_at));
    s
}
