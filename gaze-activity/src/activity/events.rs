//! Fixation / saccade / pursuit detection, streaming, for webcam and lab sampling rates.
//!
//! The detector estimates the sampling rate from the first samples and then chooses:
//!
//! * **I-VT** (velocity threshold) at lab rates (≥ [`ActivityConfig::lab_rate_min_hz`]):
//!   point-to-point velocity over a short centred span (≈ 6 ms), samples above
//!   [`ActivityConfig::ivt_velocity_deg_s`] are saccadic, slow runs of at least
//!   [`ActivityConfig::ivt_min_fixation_ms`] are fixations; a fixation whose centroid drifts
//!   faster than [`ActivityConfig::pursuit_min_deg_s`] is smooth pursuit.
//! * **I-DT** (dispersion threshold) with a short running-median smoother at webcam rates
//!   (10–30 Hz), where velocity is dominated by noise: windows whose dispersion
//!   (x range + y range, degrees) stays below [`ActivityConfig::idt_dispersion_deg`] for at
//!   least [`ActivityConfig::idt_min_fixation_ms`] are fixations.
//!
//! The rate is decided once, from the median interval of the first
//! [`RATE_PROBE_SAMPLES`] samples; the mode can also be forced in the config.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::config::{ActivityConfig, DetectorChoice};

/// Samples used to estimate the sampling rate before the detector starts.
pub const RATE_PROBE_SAMPLES: usize = 6;

/// Per-sample eye-movement class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EyeMovement {
    /// Part of a fixation.
    Fixation,
    /// Part of a saccade (or, at webcam rates, anything between two fixations).
    Saccade,
    /// Smooth pursuit (a slowly drifting "fixation").
    Pursuit,
    /// Invalid sample or not yet decided.
    #[default]
    Unknown,
}

/// Which detector is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DetectorMode {
    /// I-DT with smoothing (webcam rates).
    Dispersion,
    /// I-VT (lab rates).
    Velocity,
}

/// A detected event. Times are the samples' clock; the interval is `[start_ms, end_ms)`
/// with `end_ms` the time of the first sample after the event.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EyeEvent {
    /// Event class (never `Unknown` for fixations; `Unknown` marks invalid stretches).
    pub kind: EyeMovement,
    /// First sample time (ms).
    pub start_ms: f64,
    /// Time of the first sample after the event (ms).
    pub end_ms: f64,
    /// Centroid x (degrees, screen origin).
    pub x_deg: f64,
    /// Centroid y (degrees, screen origin, +y down).
    pub y_deg: f64,
    /// Centroid drift speed (deg/s), least-squares over the event.
    pub drift_deg_s: f64,
}

impl EyeEvent {
    /// Duration in milliseconds.
    pub fn duration_ms(&self) -> f64 {
        self.end_ms - self.start_ms
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
struct Pt {
    t: f64,
    x: f64,
    y: f64,
    valid: bool,
}

/// Incremental least-squares track of one run of samples (centroid and drift).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
struct Run {
    n: f64,
    t0: f64,
    st: f64,
    stt: f64,
    sx: f64,
    sy: f64,
    sxt: f64,
    syt: f64,
}

impl Run {
    fn start(p: Pt) -> Run {
        let mut r = Run {
            t0: p.t,
            ..Run::default()
        };
        r.add(p);
        r
    }
    fn add(&mut self, p: Pt) {
        let t = p.t - self.t0;
        self.n += 1.0;
        self.st += t;
        self.stt += t * t;
        self.sx += p.x;
        self.sy += p.y;
        self.sxt += p.x * t;
        self.syt += p.y * t;
    }
    fn centroid(&self) -> (f64, f64) {
        if self.n > 0.0 {
            (self.sx / self.n, self.sy / self.n)
        } else {
            (0.0, 0.0)
        }
    }
    /// Drift speed in deg/s.
    fn drift(&self) -> f64 {
        let den = self.n * self.stt - self.st * self.st;
        if self.n < 3.0 || den.abs() < 1e-9 {
            return 0.0;
        }
        let bx = (self.n * self.sxt - self.st * self.sx) / den;
        let by = (self.n * self.syt - self.st * self.sy) / den;
        let v = (bx * bx + by * by).sqrt() * 1000.0;
        if v.is_finite() { v } else { 0.0 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum RunKind {
    Slow,
    Fast,
    Invalid,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
struct IvtState {
    /// Half span of the velocity difference in samples.
    half: usize,
    ring: VecDeque<Pt>,
    run_kind: Option<RunKind>,
    run: Run,
    run_start: f64,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
struct IdtState {
    smooth: VecDeque<Pt>,
    window: VecDeque<Pt>,
    min_x: f64,
    max_x: f64,
    min_y: f64,
    max_y: f64,
}

/// Streaming fixation / saccade / pursuit detector. Positions are in degrees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventDetector {
    mode: Option<DetectorMode>,
    probe: Vec<Pt>,
    last_t: Option<f64>,
    ivt: IvtState,
    idt: IdtState,
    velocity_deg_s: f64,
    ivt_min_fix_ms: f64,
    idt_min_fix_ms: f64,
    dispersion_deg: f64,
    smoothing: usize,
    pursuit_deg_s: f64,
    max_gap_ms: f64,
    lab_rate_min_hz: f64,
    choice: DetectorChoice,
    rate_hz: f64,
}

impl EventDetector {
    /// A detector using the thresholds of `config`.
    pub fn new(config: &ActivityConfig) -> Self {
        EventDetector {
            mode: None,
            probe: Vec::with_capacity(RATE_PROBE_SAMPLES),
            last_t: None,
            ivt: IvtState::default(),
            idt: IdtState::default(),
            velocity_deg_s: config.ivt_velocity_deg_s,
            ivt_min_fix_ms: config.ivt_min_fixation_ms,
            idt_min_fix_ms: config.idt_min_fixation_ms,
            dispersion_deg: config.idt_dispersion_deg,
            smoothing: config.idt_smoothing_samples.clamp(1, 15),
            pursuit_deg_s: config.pursuit_min_deg_s,
            max_gap_ms: config.max_gap_ms,
            lab_rate_min_hz: config.lab_rate_min_hz,
            choice: config.detector,
            rate_hz: 0.0,
        }
    }

    /// The running detector, once the rate is known.
    pub fn mode(&self) -> Option<DetectorMode> {
        self.mode
    }

    /// Estimated sampling rate (Hz), 0 until known.
    pub fn rate_hz(&self) -> f64 {
        self.rate_hz
    }

    /// Feeds one sample (time in ms, position in degrees). Completed events are appended to
    /// `out`. Timestamps must increase; the caller filters out-of-order samples.
    pub fn push(&mut self, t: f64, x: f64, y: f64, valid: bool, out: &mut Vec<EyeEvent>) {
        let valid = valid && x.is_finite() && y.is_finite();
        let p = Pt {
            t,
            x: if valid { x } else { 0.0 },
            y: if valid { y } else { 0.0 },
            valid,
        };
        if self.mode.is_none() {
            self.probe.push(p);
            if self.probe.len() < RATE_PROBE_SAMPLES {
                return;
            }
            self.decide_mode();
            let probe = std::mem::take(&mut self.probe);
            for q in probe {
                self.dispatch(q, out);
            }
            return;
        }
        self.dispatch(p, out);
    }

    /// Flushes the event in progress (end of stream) into `out`.
    pub fn flush(&mut self, out: &mut Vec<EyeEvent>) {
        if self.mode.is_none() && !self.probe.is_empty() {
            self.decide_mode();
            let probe = std::mem::take(&mut self.probe);
            for q in probe {
                self.dispatch(q, out);
            }
        }
        let end = self.last_t.unwrap_or(0.0);
        match self.mode {
            Some(DetectorMode::Velocity) => {
                // Drain the delay line: the trailing samples get no velocity, so close the run.
                self.ivt.ring.clear();
                self.close_ivt_run(end, out);
                self.ivt.run_kind = None;
            }
            Some(DetectorMode::Dispersion) => {
                self.close_idt_window(end, out);
                self.idt.smooth.clear();
            }
            None => {}
        }
    }

    fn decide_mode(&mut self) {
        let mut dts: Vec<f64> = self
            .probe
            .windows(2)
            .map(|w| w[1].t - w[0].t)
            .filter(|d| d.is_finite() && *d > 0.0)
            .collect();
        dts.sort_by(f64::total_cmp);
        let rate = if dts.is_empty() {
            30.0
        } else {
            1000.0 / dts[dts.len() / 2]
        };
        self.rate_hz = rate;
        let lab = rate >= self.lab_rate_min_hz;
        self.mode = Some(match self.choice {
            DetectorChoice::Auto if lab => DetectorMode::Velocity,
            DetectorChoice::Auto => DetectorMode::Dispersion,
            DetectorChoice::Velocity => DetectorMode::Velocity,
            DetectorChoice::Dispersion => DetectorMode::Dispersion,
        });
        // Velocity span ≈ 6 ms centred (half span ≈ 3 ms), at least one sample each side.
        self.ivt.half = ((rate * 0.003).round() as usize).clamp(1, 4);
    }

    fn dispatch(&mut self, p: Pt, out: &mut Vec<EyeEvent>) {
        let gap = self.last_t.is_some_and(|l| p.t - l > self.max_gap_ms);
        self.last_t = Some(p.t);
        match self.mode {
            Some(DetectorMode::Velocity) => {
                if gap {
                    self.ivt.ring.clear();
                    self.close_ivt_run(p.t, out);
                    self.ivt.run_kind = None;
                }
                self.push_ivt(p, out)
            }
            _ => {
                if gap {
                    self.close_idt_window(p.t, out);
                    self.idt.smooth.clear();
                }
                self.push_idt(p, out)
            }
        }
    }

    // ---------------------------------------------------------------- I-VT

    fn push_ivt(&mut self, p: Pt, out: &mut Vec<EyeEvent>) {
        let half = self.ivt.half.max(1);
        self.ivt.ring.push_back(p);
        if self.ivt.ring.len() > 2 * half + 1 {
            self.ivt.ring.pop_front();
        }
        if self.ivt.ring.len() < 2 * half + 1 {
            // Not enough context yet: the earliest samples get their label from the
            // first computed one (treated as part of the first run).
            return;
        }
        let a = self.ivt.ring[0];
        let m = self.ivt.ring[half];
        let b = self.ivt.ring[2 * half];
        let kind = if !m.valid {
            RunKind::Invalid
        } else if a.valid && b.valid && b.t > a.t {
            let v = ((b.x - a.x).powi(2) + (b.y - a.y).powi(2)).sqrt() / (b.t - a.t) * 1000.0;
            if v > self.velocity_deg_s {
                RunKind::Fast
            } else {
                RunKind::Slow
            }
        } else {
            // Next to a dropout: count as saccadic/unknown movement, not fixation.
            RunKind::Fast
        };
        if self.ivt.run_kind != Some(kind) {
            if self.ivt.run_kind.is_some() {
                self.close_ivt_run(m.t, out);
            } else {
                // First labelled sample: the run covers the warm-up samples too.
                self.ivt.run_start = self.ivt.ring[0].t;
                self.ivt.run = Run::start(self.ivt.ring[0]);
                for q in self.ivt.ring.iter().take(half).skip(1) {
                    self.ivt.run.add(*q);
                }
                self.ivt.run_kind = Some(kind);
                self.ivt.run.add(m);
                return;
            }
            self.ivt.run_kind = Some(kind);
            self.ivt.run_start = m.t;
            self.ivt.run = Run::start(m);
        } else {
            self.ivt.run.add(m);
        }
    }

    fn close_ivt_run(&mut self, end: f64, out: &mut Vec<EyeEvent>) {
        let Some(kind) = self.ivt.run_kind else {
            return;
        };
        let start = self.ivt.run_start;
        if end <= start {
            return;
        }
        let (cx, cy) = self.ivt.run.centroid();
        let drift = self.ivt.run.drift();
        let ev_kind = match kind {
            RunKind::Slow if end - start >= self.ivt_min_fix_ms => {
                if drift >= self.pursuit_deg_s && end - start >= 2.0 * self.ivt_min_fix_ms {
                    EyeMovement::Pursuit
                } else {
                    EyeMovement::Fixation
                }
            }
            RunKind::Slow | RunKind::Fast => EyeMovement::Saccade,
            RunKind::Invalid => EyeMovement::Unknown,
        };
        out.push(EyeEvent {
            kind: ev_kind,
            start_ms: start,
            end_ms: end,
            x_deg: cx,
            y_deg: cy,
            drift_deg_s: drift,
        });
    }

    // ---------------------------------------------------------------- I-DT

    fn push_idt(&mut self, p: Pt, out: &mut Vec<EyeEvent>) {
        if !p.valid {
            self.close_idt_window(p.t, out);
            self.idt.smooth.clear();
            return;
        }
        self.idt.smooth.push_back(p);
        if self.idt.smooth.len() > self.smoothing {
            self.idt.smooth.pop_front();
        }
        // Running median per axis: removes single-frame spikes and, unlike a mean, does not
        // create intermediate points on a saccade (which would split fixations).
        let n = self.idt.smooth.len();
        let mut xs = [0.0f64; 15];
        let mut ys = [0.0f64; 15];
        for (i, q) in self.idt.smooth.iter().enumerate().take(15) {
            xs[i] = q.x;
            ys[i] = q.y;
        }
        let (xs, ys) = (&mut xs[..n.min(15)], &mut ys[..n.min(15)]);
        xs.sort_by(f64::total_cmp);
        ys.sort_by(f64::total_cmp);
        let mid = |v: &[f64]| {
            let m = v.len() / 2;
            if v.len() % 2 == 1 {
                v[m]
            } else {
                0.5 * (v[m - 1] + v[m])
            }
        };
        let q = Pt {
            t: p.t,
            x: mid(xs),
            y: mid(ys),
            valid: true,
        };
        let w = &mut self.idt;
        if w.window.is_empty() {
            w.window.push_back(q);
            (w.min_x, w.max_x, w.min_y, w.max_y) = (q.x, q.x, q.y, q.y);
            return;
        }
        let (min_x, max_x) = (w.min_x.min(q.x), w.max_x.max(q.x));
        let (min_y, max_y) = (w.min_y.min(q.y), w.max_y.max(q.y));
        if (max_x - min_x) + (max_y - min_y) <= self.dispersion_deg {
            w.window.push_back(q);
            (w.min_x, w.max_x, w.min_y, w.max_y) = (min_x, max_x, min_y, max_y);
            return;
        }
        let first_t = w.window.front().map_or(q.t, |f| f.t);
        if q.t - first_t >= self.idt_min_fix_ms {
            self.close_idt_window(q.t, out);
            let w = &mut self.idt;
            w.window.push_back(q);
            (w.min_x, w.max_x, w.min_y, w.max_y) = (q.x, q.x, q.y, q.y);
            return;
        }
        // Too short to be a fixation: slide the window start forward.
        w.window.push_back(q);
        loop {
            w.window.pop_front();
            let mut it = w.window.iter();
            let Some(f) = it.next() else { break };
            let (mut a, mut b, mut c, mut d) = (f.x, f.x, f.y, f.y);
            for r in it {
                a = a.min(r.x);
                b = b.max(r.x);
                c = c.min(r.y);
                d = d.max(r.y);
            }
            (w.min_x, w.max_x, w.min_y, w.max_y) = (a, b, c, d);
            if (b - a) + (d - c) <= self.dispersion_deg || w.window.len() <= 1 {
                break;
            }
        }
    }

    fn close_idt_window(&mut self, end: f64, out: &mut Vec<EyeEvent>) {
        let w = &mut self.idt;
        let Some(first) = w.window.front().copied() else {
            return;
        };
        if end - first.t >= self.idt_min_fix_ms && w.window.len() >= 2 {
            let mut run = Run::start(first);
            for q in w.window.iter().skip(1) {
                run.add(*q);
            }
            let (cx, cy) = run.centroid();
            out.push(EyeEvent {
                kind: EyeMovement::Fixation,
                start_ms: first.t,
                end_ms: end,
                x_deg: cx,
                y_deg: cy,
                drift_deg_s: run.drift(),
            });
        }
        w.window.clear();
    }
}

/// Runs the detector over a whole trace (positions in degrees, timestamps increasing) and
/// returns every event it reports, in order.
pub fn detect_events(samples: &[(f64, f64, f64, bool)], config: &ActivityConfig) -> Vec<EyeEvent> {
    let mut det = EventDetector::new(config);
    let mut out = Vec::new();
    for &(t, x, y, v) in samples {
        det.push(t, x, y, v, &mut out);
    }
    det.flush(&mut out);
    out
}

/// Per-sample eye-movement labels for a trace of screen-pixel samples (converted to degrees
/// with `config.geometry`). Samples are expected in time order; out-of-order or duplicate
/// timestamps are labelled `Unknown` and skipped by the detector.
pub fn label_samples(samples: &[super::GazeSample], config: &ActivityConfig) -> Vec<EyeMovement> {
    let (ppx, ppy) = config.geometry.px_per_deg();
    let mut det = EventDetector::new(config);
    let mut events = Vec::new();
    let mut last = f64::NEG_INFINITY;
    for s in samples {
        if !s.t_ms.is_finite() || s.t_ms <= last {
            continue;
        }
        last = s.t_ms;
        det.push(s.t_ms, s.x / ppx, s.y / ppy, s.has_point(), &mut events);
    }
    det.flush(&mut events);
    let mode = det.mode();
    let mut labels = vec![EyeMovement::Unknown; samples.len()];
    // Events are in time order and non-overlapping; walk both lists together.
    let mut k = 0;
    for (i, s) in samples.iter().enumerate() {
        if !s.has_point() || !s.t_ms.is_finite() {
            continue;
        }
        while k < events.len() && events[k].end_ms <= s.t_ms {
            k += 1;
        }
        let inside = events
            .get(k)
            .filter(|e| e.start_ms <= s.t_ms && s.t_ms < e.end_ms);
        labels[i] = match (inside, mode) {
            (Some(e), _) if e.kind != EyeMovement::Unknown => e.kind,
            (Some(_), _) => EyeMovement::Unknown,
            (None, Some(DetectorMode::Dispersion)) => EyeMovement::Saccade,
            // Last sample of a trace (no following sample closes its run).
            (None, _) => EyeMovement::Saccade,
        };
    }
    labels
}
