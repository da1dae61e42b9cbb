//! Blink detection from eye openness (eye aspect ratio) with an adaptive open baseline and
//! hysteresis, told apart from looking down.
//!
//! * **Closed:** openness below `close_ratio` × baseline (or `closed_floor`); open again above
//!   `open_ratio` × baseline.
//! * **Blink:** a fast close–open: the closure reopens within `max_blink_ms` and the lids came
//!   together (openness below `shut_ratio` × baseline at least once), or it reopens within
//!   `fast_blink_ms` (a blink too fast for the frame rate to catch the lids shut).
//! * **Looking down:** lowered lids are not closed eyes when the iris still shows between them
//!   (openness at or above `shut_ratio` × baseline, and the iris network's iris visible) and
//!   either the head is pitched down by `down_pitch_deg` against its open-eye baseline, or the
//!   lowered-lid stretch outlasts `max_blink_ms` without the lids ever shutting. Such frames
//!   report `looking_down` instead of `closed`, and never end in a blink event.

use crate::result::{Blink, BlinkEvent};
use serde::{Deserialize, Serialize};

/// Blink detector settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BlinkConfig {
    /// Eyes count as closed below this fraction of the open baseline.
    pub close_ratio: f32,
    /// Eyes count as open again above this fraction of the open baseline.
    pub open_ratio: f32,
    /// Absolute openness below which eyes are closed whatever the baseline.
    pub closed_floor: f32,
    /// Closures longer than this (ms) are not counted as blinks.
    pub max_blink_ms: f64,
    /// Lids count as shut (no iris between them) below this fraction of the open baseline;
    /// lowered lids above it may be looking down.
    pub shut_ratio: f32,
    /// A dip of lowered lids that reopens within this many ms is a blink even if the lids
    /// were not seen shut (a fast blink between two frames).
    pub fast_blink_ms: f64,
    /// Head pitched down by at least this many degrees against its open-eye baseline makes
    /// lowered lids "looking down" at once.
    pub down_pitch_deg: f32,
}

impl Default for BlinkConfig {
    fn default() -> Self {
        BlinkConfig {
            close_ratio: 0.6,
            open_ratio: 0.75,
            closed_floor: 0.08,
            max_blink_ms: 500.0,
            shut_ratio: 0.45,
            fast_blink_ms: 200.0,
            down_pitch_deg: 8.0,
        }
    }
}

/// One frame's eye evidence for [`BlinkDetector::observe`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct EyeObservation {
    /// Fused eye openness (eye aspect ratio); None when the eyes are not visible.
    pub openness: Option<f32>,
    /// Head pitch in degrees (positive up), when known.
    pub head_pitch_deg: Option<f32>,
    /// Whether the iris network still sees an iris between the lids (None: unknown).
    pub iris_visible: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum LidState {
    Open,
    /// Lids lowered or closed since `since`; `shut` once they came together.
    Closed {
        since: f64,
        shut: bool,
    },
    /// Lowered lids while looking down, since `since`.
    Down {
        since: f64,
    },
}

/// Streaming blink detector.
#[derive(Debug, Clone, PartialEq)]
pub struct BlinkDetector {
    config: BlinkConfig,
    baseline: Option<f32>,
    pitch_baseline: Option<f32>,
    state: LidState,
    count: u32,
}

impl BlinkDetector {
    /// A detector with `config`.
    pub fn new(config: BlinkConfig) -> Self {
        BlinkDetector {
            config,
            baseline: None,
            pitch_baseline: None,
            state: LidState::Open,
            count: 0,
        }
    }

    /// Current open-eye baseline openness, once learned.
    pub fn baseline(&self) -> Option<f32> {
        self.baseline
    }

    /// Feeds the openness of this frame (None: eyes not visible, state unchanged). Same as
    /// [`BlinkDetector::observe`] without head pose or iris evidence.
    pub fn update(&mut self, t_ms: f64, openness: Option<f32>) -> Blink {
        self.observe(
            t_ms,
            EyeObservation {
                openness,
                ..EyeObservation::default()
            },
        )
    }

    /// Feeds one frame's openness, head pitch and iris visibility.
    pub fn observe(&mut self, t_ms: f64, obs: EyeObservation) -> Blink {
        let mut event = None;
        let pitch = obs.head_pitch_deg.filter(|p| p.is_finite());
        if let Some(o) = obs.openness.filter(|o| o.is_finite()) {
            let c = self.config;
            let base = *self.baseline.get_or_insert(o.max(0.2));
            let shut_now = o < base * c.shut_ratio || o < c.closed_floor;
            let lowered = o < base * c.close_ratio || o < c.closed_floor;
            let iris = obs.iris_visible.unwrap_or(true);
            let pitched_down = match (pitch, self.pitch_baseline) {
                (Some(p), Some(b)) => p <= b - c.down_pitch_deg,
                _ => false,
            };
            let looks_down = !shut_now && iris && pitched_down;
            self.state = match self.state {
                LidState::Open if looks_down && lowered => LidState::Down { since: t_ms },
                LidState::Open if lowered => LidState::Closed {
                    since: t_ms,
                    shut: shut_now,
                },
                LidState::Open => LidState::Open,
                LidState::Closed { since, shut } => {
                    let dur = (t_ms - since).max(0.0);
                    if o >= base * c.open_ratio {
                        if (shut && dur <= c.max_blink_ms) || dur <= c.fast_blink_ms {
                            self.count += 1;
                            event = Some(BlinkEvent {
                                start_ms: since,
                                end_ms: t_ms,
                                duration_ms: dur,
                            });
                        }
                        LidState::Open
                    } else if !shut && !shut_now && iris && (looks_down || dur > c.max_blink_ms) {
                        // Lowered lids that never shut, with the iris in view: looking down.
                        LidState::Down { since }
                    } else {
                        LidState::Closed {
                            since,
                            shut: shut || shut_now,
                        }
                    }
                }
                LidState::Down { since } => {
                    if o >= base * c.open_ratio {
                        LidState::Open
                    } else if shut_now {
                        // The lids close while looking down: a blink candidate from here.
                        LidState::Closed {
                            since: t_ms,
                            shut: true,
                        }
                    } else {
                        LidState::Down { since }
                    }
                }
            };
            if self.state == LidState::Open {
                // Slow adaptation while open; bounded so a squint cannot drag it down fast.
                self.baseline = Some(base + 0.05 * (o - base));
                if let Some(p) = pitch {
                    let b = *self.pitch_baseline.get_or_insert(p);
                    self.pitch_baseline = Some(b + 0.02 * (p - b));
                }
            }
        }
        let (closed, closed_ms, looking_down) = match self.state {
            // Lowered lids that have not shut yet are not reported as closed (they may be
            // the start of a look down); the blink event still starts at `since`.
            LidState::Closed { since, shut: true } => (true, (t_ms - since).max(0.0), false),
            LidState::Closed { shut: false, .. } => (false, 0.0, false),
            LidState::Down { .. } => (false, 0.0, true),
            LidState::Open => (false, 0.0, false),
        };
        Blink {
            closed,
            closed_ms,
            event,
            count: self.count,
            looking_down,
        }
    }

    /// Forgets state except the blink count and the learned baselines.
    pub fn reset_state(&mut self) {
        self.state = LidState::Open;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_closure_is_a_blink_long_one_is_not() {
        let mut d = BlinkDetector::new(BlinkConfig::default());
        let mut t = 0.0;
        for _ in 0..30 {
            assert!(!d.update(t, Some(0.3)).closed);
            t += 33.0;
        }
        // 200 ms closure.
        for _ in 0..6 {
            assert!(d.update(t, Some(0.05)).closed);
            t += 33.0;
        }
        let b = d.update(t, Some(0.3));
        let ev = b.event.expect("blink event");
        assert!((ev.duration_ms - 198.0).abs() < 1.0);
        assert_eq!(b.count, 1);
        // 2 s closure: no blink event.
        for _ in 0..60 {
            d.update(t, Some(0.05));
            t += 33.0;
        }
        let b = d.update(t, Some(0.3));
        assert!(b.event.is_none());
        assert_eq!(b.count, 1);
    }

    #[test]
    fn lowered_lids_with_the_head_down_are_looking_down() {
        let mut d = BlinkDetector::new(BlinkConfig::default());
        let obs = |o: f32, p: f32| EyeObservation {
            openness: Some(o),
            head_pitch_deg: Some(p),
            iris_visible: Some(true),
        };
        let mut t = 0.0;
        for _ in 0..30 {
            d.observe(t, obs(0.3, 0.0));
            t += 40.0;
        }
        // 2 s of half-lowered lids with the head pitched down 15 degrees.
        for _ in 0..50 {
            let b = d.observe(t, obs(0.16, -15.0));
            assert!(!b.closed && b.looking_down, "{b:?}");
            t += 40.0;
        }
        let b = d.observe(t, obs(0.3, 0.0));
        assert!(b.event.is_none() && !b.looking_down && b.count == 0);
        // A blink while looking down is still a blink.
        for _ in 0..10 {
            d.observe(t, obs(0.16, -15.0));
            t += 40.0;
        }
        for _ in 0..4 {
            assert!(d.observe(t, obs(0.03, -15.0)).closed);
            t += 40.0;
        }
        let b = d.observe(t, obs(0.3, 0.0));
        assert_eq!(b.count, 1);
        assert!(b.event.is_some_and(|e| (e.duration_ms - 160.0).abs() < 1.0));
    }
}
