//! One-Euro filter (Casiraghi, Roussel, Vogel 2012): a low-pass filter whose cutoff rises
//! with speed, so slow jitter is removed while fast movements (saccades) pass with little lag.

use serde::{Deserialize, Serialize};

/// One-Euro filter parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OneEuroParams {
    /// Cutoff frequency (Hz) at rest; lower removes more jitter.
    pub min_cutoff: f64,
    /// How fast the cutoff grows with speed; higher reduces lag on fast moves.
    pub beta: f64,
    /// Cutoff (Hz) of the speed estimate.
    pub d_cutoff: f64,
}

impl Default for OneEuroParams {
    fn default() -> Self {
        OneEuroParams {
            min_cutoff: 1.5,
            beta: 0.5,
            d_cutoff: 1.0,
        }
    }
}

/// A one-dimensional One-Euro filter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OneEuro {
    params: OneEuroParams,
    last: Option<(f64, f64, f64)>, // (t_ms, x_hat, dx_hat)
}

fn alpha(cutoff: f64, dt_s: f64) -> f64 {
    let tau = 1.0 / (2.0 * std::f64::consts::PI * cutoff.max(1e-6));
    1.0 / (1.0 + tau / dt_s)
}

impl OneEuro {
    /// A filter with `params`.
    pub fn new(params: OneEuroParams) -> Self {
        OneEuro { params, last: None }
    }

    /// Forgets the history.
    pub fn reset(&mut self) {
        self.last = None;
    }

    /// Filters `x` observed at `t_ms`. Non-increasing timestamps reuse a 1 ms step.
    pub fn filter(&mut self, t_ms: f64, x: f64) -> f64 {
        if !x.is_finite() {
            return self.last.map(|l| l.1).unwrap_or(x);
        }
        let Some((t0, x0, dx0)) = self.last else {
            self.last = Some((t_ms, x, 0.0));
            return x;
        };
        let dt = ((t_ms - t0) / 1000.0).max(1e-3);
        let dx = (x - x0) / dt;
        let dx_hat = dx0 + alpha(self.params.d_cutoff, dt) * (dx - dx0);
        let cutoff = self.params.min_cutoff + self.params.beta * dx_hat.abs();
        let x_hat = x0 + alpha(cutoff, dt) * (x - x0);
        self.last = Some((t_ms.max(t0), x_hat, dx_hat));
        x_hat
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_jitter_but_follows_a_jump() {
        let mut f = OneEuro::new(OneEuroParams::default());
        let mut out = 0.0;
        let mut jitter = 0.0f64;
        for i in 0..60 {
            let noise = if i % 2 == 0 { 0.05 } else { -0.05 };
            out = f.filter(i as f64 * 33.0, noise);
            if i > 10 {
                jitter = jitter.max(out.abs());
            }
        }
        assert!(jitter < 0.03, "jitter {jitter}");
        // A saccade-like jump of 1.0 is mostly followed within 3 frames.
        for i in 60..63 {
            out = f.filter(i as f64 * 33.0, 1.0);
        }
        assert!(out > 0.8, "lagging: {out}");
    }
}
