//! Numbers derived from a report for the charts and the PDF (shared, no drawing here).

use gaze_activity::{Activity, Attention, SessionReport};

pub(crate) fn fin(v: f64) -> f64 {
    if v.is_finite() { v } else { 0.0 }
}

/// Human-readable duration: `8.1 s`, `2 min 05 s`, `1 h 02 min`.
pub fn format_duration(secs: f64) -> String {
    let s = fin(secs).max(0.0);
    if s < 60.0 {
        format!("{s:.1} s")
    } else if s < 3600.0 {
        let t = s.round() as u64;
        format!("{} min {:02} s", t / 60, t % 60)
    } else {
        let m = (s / 60.0).round() as u64;
        format!("{} h {:02} min", m / 60, m % 60)
    }
}

/// Session length in seconds: the report's `duration`, or the timeline's extent when that
/// is missing.
pub(crate) fn duration_s(r: &SessionReport) -> f64 {
    let d = fin(r.duration);
    if d > 0.0 {
        return d;
    }
    let t0 = fin(r.started_at);
    r.timeline
        .iter()
        .map(|s| fin(s.end_ms - t0) / 1000.0)
        .fold(0.0, f64::max)
}

/// The time axis unit: seconds up to 3 minutes, minutes beyond.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimeUnit {
    pub div: f64,
    pub name: &'static str,
}

pub(crate) fn time_unit(duration_s: f64) -> TimeUnit {
    if duration_s > 180.0 {
        TimeUnit {
            div: 60.0,
            name: "min",
        }
    } else {
        TimeUnit {
            div: 1.0,
            name: "s",
        }
    }
}

/// Blinks per minute in equal time bins.
#[derive(Debug, Clone, PartialEq)]
pub struct BlinkBins {
    /// Bin length in seconds.
    pub bin_s: f64,
    /// Per bin: start (s since the session start), length (s, the last may be shorter),
    /// blinks, blinks per minute.
    pub bins: Vec<(f64, f64, u32, f64)>,
}

/// Bins the report's blink onsets: the bin is the shortest of 5 s, 10 s, 15 s, 30 s, 1, 2,
/// 5, 10, 30 min that gives at most 40 bins. A last bin shorter than a quarter of the bin
/// length is merged into the one before (its rate would be noise).
pub fn blink_bins(r: &SessionReport) -> BlinkBins {
    let dur = duration_s(r);
    const CANDIDATES: [f64; 9] = [5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0];
    let bin_s = CANDIDATES
        .into_iter()
        .find(|b| dur / b <= 40.0)
        .unwrap_or_else(|| (dur / 40.0).ceil().max(1800.0));
    if dur <= 0.0 {
        return BlinkBins {
            bin_s,
            bins: Vec::new(),
        };
    }
    let n = ((dur / bin_s).ceil() as usize).clamp(1, 100_000);
    let mut edges: Vec<(f64, f64)> = (0..n)
        .map(|i| {
            let a = i as f64 * bin_s;
            (a, (a + bin_s).min(dur))
        })
        .collect();
    if edges.len() > 1
        && let Some(&(a, b)) = edges.last()
        && b - a < bin_s / 4.0
    {
        edges.pop();
        if let Some(last) = edges.last_mut() {
            last.1 = b;
        }
    }
    let mut counts = vec![0u32; edges.len()];
    let t0 = fin(r.started_at);
    for &t in &r.blink_onsets_ms {
        let s = (t - t0) / 1000.0;
        if !s.is_finite() {
            continue;
        }
        let i = ((s.max(0.0) / bin_s) as usize).min(edges.len() - 1);
        counts[i] += 1;
    }
    let bins = edges
        .into_iter()
        .zip(counts)
        .map(|((a, b), c)| {
            let len = b - a;
            let rate = if len > 0.0 {
                f64::from(c) * 60.0 / len
            } else {
                0.0
            };
            (a, len, c, rate)
        })
        .collect();
    BlinkBins { bin_s, bins }
}

/// Legend names and RGB colours.
pub(crate) fn activity_style(a: Activity) -> (&'static str, (u8, u8, u8)) {
    match a {
        Activity::Reading => ("reading", (31, 119, 180)),
        Activity::Browsing => ("browsing", (255, 127, 14)),
        Activity::Watching => ("watching", (148, 103, 189)),
        Activity::Other => ("other (focused)", (140, 140, 140)),
        Activity::None => ("no activity", (236, 236, 236)),
    }
}

pub(crate) fn attention_style(a: Attention) -> (&'static str, (u8, u8, u8)) {
    match a {
        Attention::Focused => ("focused", (44, 160, 44)),
        Attention::Distracted => ("distracted", (214, 39, 40)),
        Attention::NoData => ("no data", (190, 190, 190)),
    }
}

/// The totals as (label, seconds, colour) for the bar chart and the PDF, in display order.
pub(crate) fn totals(r: &SessionReport) -> Vec<(&'static str, f64, (u8, u8, u8))> {
    let a = |x: Activity| activity_style(x).1;
    let t = |x: Attention| attention_style(x).1;
    vec![
        (
            "Reading",
            fin(r.session_report.reading_time),
            a(Activity::Reading),
        ),
        (
            "Browsing",
            fin(r.session_report.browsing_time),
            a(Activity::Browsing),
        ),
        (
            "Watching",
            fin(r.session_report.watching_time),
            a(Activity::Watching),
        ),
        ("Other (focused)", fin(r.other_time), a(Activity::Other)),
        (
            "Distracted",
            fin(r.distraction_time),
            t(Attention::Distracted),
        ),
        ("No data", fin(r.no_data_time), t(Attention::NoData)),
    ]
}

/// `started_at` as a UTC date and time when it looks like Unix epoch milliseconds
/// (2001..2286), else `None` (a video's own clock).
pub(crate) fn utc_time(ms: f64) -> Option<String> {
    if !(1e12..1e13).contains(&ms) {
        return None;
    }
    let secs = (ms / 1000.0).floor() as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    Some(format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    ))
}

/// Percentage of `part` in `whole` (0 when `whole` is 0).
pub(crate) fn pct(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        100.0 * part / whole
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(format_duration(8.06), "8.1 s");
        assert_eq!(format_duration(125.4), "2 min 05 s");
        assert_eq!(format_duration(3725.0), "1 h 02 min");
        assert_eq!(format_duration(f64::NAN), "0.0 s");
    }

    #[test]
    fn epoch_dates() {
        assert_eq!(
            utc_time(1_764_151_200_000.0).as_deref(),
            Some("2025-11-26 10:00:00 UTC")
        );
        assert_eq!(utc_time(12_000.0), None);
    }

    #[test]
    fn blink_bins_count_every_onset() {
        let r = SessionReport {
            started_at: 1000.0,
            duration: 61.0,
            blink_onsets_ms: vec![1000.0, 2000.0, 16_000.0, 61_999.0, f64::NAN],
            ..SessionReport::default()
        };
        let b = blink_bins(&r);
        assert_eq!(b.bin_s, 5.0);
        // 61 s: 12 full bins + a 1-s tail merged into the last one.
        assert_eq!(b.bins.len(), 12);
        assert_eq!(b.bins.iter().map(|x| x.2).sum::<u32>(), 4);
        assert_eq!(b.bins[0].2, 2);
        assert!((b.bins[0].3 - 24.0).abs() < 1e-9);
        assert!((b.bins[11].1 - 6.0).abs() < 1e-9);
        assert!(blink_bins(&SessionReport::default()).bins.is_empty());
    }
}
