//! Blink detection from eye openness (eye aspect ratio) with an adaptive open baseline and
//! hysteresis: closed below `close_ratio` × baseline, open again above `open_ratio` × baseline.

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
}

impl Default for BlinkConfig {
    fn default() -> Self {
        BlinkConfig {
            close_ratio: 0.6,
            open_ratio: 0.75,
            closed_floor: 0.08,
            max_blink_ms: 1000.0,
        }
    }
}

/// Streaming blink detector.
#[derive(Debug, Clone, PartialEq)]
pub struct BlinkDetector {
    config: BlinkConfig,
    baseline: Option<f32>,
    closed_since: Option<f64>,
    count: u32,
}

impl BlinkDetector {
    /// A detector with `config`.
    pub fn new(config: BlinkConfig) -> Self {
        BlinkDetector {
            config,
            baseline: None,
            closed_since: None,
            count: 0,
        }
    }

    /// Current open-eye baseline openness, once learned.
    pub fn baseline(&self) -> Option<f32> {
        self.baseline
    }

    /// Feeds the openness of this frame (None: eyes not visible, state unchanged).
    pub fn update(&mut self, t_ms: f64, openness: Option<f32>) -> Blink {
        let mut event = None;
        if let Some(o) = openness.filter(|o| o.is_finite()) {
            let base = *self.baseline.get_or_insert(o.max(0.2));
            let closed_now = if self.closed_since.is_some() {
                o < base * self.config.open_ratio
            } else {
                o < base * self.config.close_ratio || o < self.config.closed_floor
            };
            match (self.closed_since, closed_now) {
                (None, true) => self.closed_since = Some(t_ms),
                (Some(start), false) => {
                    self.closed_since = None;
                    let duration = (t_ms - start).max(0.0);
                    if duration <= self.config.max_blink_ms {
                        self.count += 1;
                        event = Some(BlinkEvent {
                            start_ms: start,
                            end_ms: t_ms,
                            duration_ms: duration,
                        });
                    }
                }
                _ => {}
            }
            if !closed_now {
                // Slow adaptation while open; bounded so a squint cannot drag it down fast.
                self.baseline = Some(base + 0.05 * (o - base));
            }
        }
        Blink {
            closed: self.closed_since.is_some(),
            closed_ms: self
                .closed_since
                .map(|s| (t_ms - s).max(0.0))
                .unwrap_or(0.0),
            event,
            count: self.count,
        }
    }

    /// Forgets state except the blink count.
    pub fn reset_state(&mut self) {
        self.closed_since = None;
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
}
