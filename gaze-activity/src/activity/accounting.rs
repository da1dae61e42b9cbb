//! Time accounting: integrates labelled intervals into totals and a merged timeline.

use serde::{Deserialize, Serialize};

use crate::session::{Activity, Attention, TimelineSegment};

/// Running totals in seconds. `duration = focus + distraction + no_data` and
/// `focus = reading + browsing + watching + other` (up to floating-point rounding);
/// `uncertain_time` is the part of `other_time` during which an activity model had enough
/// data but no class was confident.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct ActivityTotals {
    /// Seconds reading.
    pub reading_time: f64,
    /// Seconds browsing.
    pub browsing_time: f64,
    /// Seconds watching.
    pub watching_time: f64,
    /// Focused seconds that fit no activity.
    pub other_time: f64,
    /// Seconds distracted.
    pub distraction_time: f64,
    /// Seconds without usable data.
    pub no_data_time: f64,
    /// Focused seconds labelled `other` because no activity was confident (a part of
    /// `other_time`; absent in totals from before this field existed).
    #[serde(default)]
    pub uncertain_time: f64,
}

impl ActivityTotals {
    /// Seconds focused (reading + browsing + watching + other).
    pub fn focus_time(&self) -> f64 {
        self.reading_time + self.browsing_time + self.watching_time + self.other_time
    }

    /// Sum of every bucket (equals the session duration).
    pub fn total_time(&self) -> f64 {
        self.focus_time() + self.distraction_time + self.no_data_time
    }

    fn add(&mut self, secs: f64, activity: Activity, attention: Attention) {
        match attention {
            Attention::Distracted => self.distraction_time += secs,
            Attention::NoData => self.no_data_time += secs,
            Attention::Focused => match activity {
                Activity::Reading => self.reading_time += secs,
                Activity::Browsing => self.browsing_time += secs,
                Activity::Watching => self.watching_time += secs,
                Activity::Other | Activity::None => self.other_time += secs,
            },
        }
    }
}

/// A stretch whose label is not decided yet (a possible distraction or dropout that has not
/// lasted long enough). It is booked as `fallback` if it ends early.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Pending {
    pub start_ms: f64,
    pub end_ms: f64,
    pub fallback: (Activity, Attention),
}

/// Integrates labelled intervals. Intervals arrive in time order and are contiguous except
/// where the caller books gaps explicitly.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub(crate) struct Accountant {
    pub totals: ActivityTotals,
    pub timeline: Vec<TimelineSegment>,
    pub pending: Option<Pending>,
}

/// Normalises a label pair: only focused time carries an activity.
pub(crate) fn normalise(activity: Activity, attention: Attention) -> (Activity, Attention) {
    match attention {
        Attention::Focused if activity == Activity::None => (Activity::Other, Attention::Focused),
        Attention::Focused => (activity, attention),
        _ => (Activity::None, attention),
    }
}

fn push_segment(
    timeline: &mut Vec<TimelineSegment>,
    start: f64,
    end: f64,
    activity: Activity,
    attention: Attention,
) {
    if end <= start {
        return;
    }
    if let Some(last) = timeline.last_mut()
        && last.activity == activity
        && last.attention == attention
        && (start - last.end_ms).abs() < 1e-9
    {
        last.end_ms = end;
        return;
    }
    timeline.push(TimelineSegment {
        start_ms: start,
        end_ms: end,
        activity,
        attention,
    });
}

impl Accountant {
    /// Books `[start, end)` with a decided label.
    pub fn book(&mut self, start: f64, end: f64, activity: Activity, attention: Attention) {
        if end.partial_cmp(&start) != Some(std::cmp::Ordering::Greater) {
            return;
        }
        let (activity, attention) = normalise(activity, attention);
        self.totals.add((end - start) / 1000.0, activity, attention);
        push_segment(&mut self.timeline, start, end, activity, attention);
    }

    /// Adds `[start, end)` to the undecided stretch (opening it with `fallback` if needed).
    pub fn book_pending(&mut self, start: f64, end: f64, fallback: (Activity, Attention)) {
        if end.partial_cmp(&start) != Some(std::cmp::Ordering::Greater) {
            return;
        }
        match &mut self.pending {
            Some(p) => p.end_ms = p.end_ms.max(end),
            None => {
                self.pending = Some(Pending {
                    start_ms: start,
                    end_ms: end,
                    fallback,
                })
            }
        }
    }

    /// Decides the undecided stretch: as `label`, or as its fallback when `label` is `None`.
    pub fn resolve(&mut self, label: Option<(Activity, Attention)>) {
        if let Some(p) = self.pending.take() {
            let (a, b) = label.unwrap_or(p.fallback);
            self.book(p.start_ms, p.end_ms, a, b);
        }
    }

    /// Totals and timeline as if the undecided stretch ended now (booked as its fallback).
    pub fn provisional(&self) -> (ActivityTotals, Vec<TimelineSegment>) {
        let mut a = self.clone();
        a.resolve(None);
        (a.totals, a.timeline)
    }

    /// Totals as if the undecided stretch ended now, without copying the timeline.
    pub fn provisional_totals(&self) -> ActivityTotals {
        let mut t = self.totals;
        if let Some(p) = self.pending {
            let (a, b) = normalise(p.fallback.0, p.fallback.1);
            t.add((p.end_ms - p.start_ms) / 1000.0, a, b);
        }
        t
    }
}
