//! Sliding-window scan-path features and the activity scores computed from them.

#[cfg(test)]
use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::config::{ActivityConfig, ActivityModel};
use super::trees::{BoostedTrees, FlatTrees, TreeMemo};

/// One coarse time bin: mean gaze position (degrees) of the valid samples in it.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub(crate) struct Bin {
    pub index: i64,
    pub x: f64,
    pub y: f64,
    pub valid: bool,
}

/// A fixation (or pursuit) kept for the feature window.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub(crate) struct FixRec {
    pub start_ms: f64,
    pub end_ms: f64,
    pub x: f64,
    pub y: f64,
    pub pursuit: bool,
}

/// Scan-path features of the current window (degrees, milliseconds).
///
/// Fields added after the first release default to 0 when an older checkpoint is restored.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct WindowFeatures {
    /// Valid data in the window (ms).
    pub valid_ms: f64,
    /// Fixations (incl. pursuit) ending in the window.
    pub n_fix: f64,
    /// Mean fixation duration (ms).
    pub mean_fix_ms: f64,
    /// Share of valid time spent in pursuit.
    pub pursuit_frac: f64,
    /// Fixation-to-fixation transitions considered.
    pub n_trans: f64,
    /// Share of transitions that are forward reading saccades.
    pub fwd_frac: f64,
    /// Share of transitions that are return sweeps.
    pub sweep_frac: f64,
    /// Share of transitions that are short regressions.
    pub regress_frac: f64,
    /// Share of transitions that fit no reading pattern.
    pub unrelated_frac: f64,
    /// Mean transition amplitude (deg).
    pub mean_amp: f64,
    /// Horizontal share of the bin-to-bin path length.
    pub h_frac: f64,
    /// Share of horizontal bin steps that go right (steps > 0.15 deg).
    pub right_frac: f64,
    /// Share of the leftward path made of large jumps (return-sweep like).
    pub left_jump_frac: f64,
    /// RMS distance of the bins from their mean (deg).
    pub spread: f64,
    /// Median bin-to-bin speed (deg/s).
    pub speed_med: f64,
    /// Share of bin steps slower than 3 deg/s.
    pub still_frac: f64,
    /// Share of bin steps faster than 40 deg/s.
    pub jump_frac: f64,
    /// Number of leftward jumps larger than the return-sweep threshold, per second.
    pub sweep_rate: f64,
    /// Return sweeps preceded by a rightward progression covering at least half their
    /// length (a read line followed by a return sweep), per second.
    pub line_cycles: f64,
    /// Net rightward share of the small horizontal bin steps (−1 all left … 1 all right).
    pub progression: f64,
    /// Share of bin steps that continue the previous step's direction (within 45°) at a
    /// pursuit-like speed (2–20 deg/s) and do not go right along a line: smooth motion
    /// that is not reading.
    pub coherent_frac: f64,
    /// Distinct 2°×2° cells visited by the bins, per bin (how much of the screen is explored).
    pub coverage: f64,
    /// Share of fixation time spent in fixations longer than 600 ms (dwelling).
    pub long_fix_frac: f64,
    /// Standard deviation of the bins' x (deg).
    pub sd_x: f64,
    /// Standard deviation of the bins' y (deg).
    pub sd_y: f64,
    /// Least-squares slope of the bins' x over time (deg/s).
    pub x_slope: f64,
    /// Least-squares slope of the bins' y over time (deg/s, + down): slow drift down a page,
    /// or up while the text scrolls.
    pub y_slope: f64,
    /// Amplitude-weighted share of bin steps longer than 1 deg going right.
    pub dir_right: f64,
    /// Amplitude-weighted share of bin steps longer than 1 deg going left.
    pub dir_left: f64,
    /// Amplitude-weighted share of bin steps longer than 1 deg going up.
    pub dir_up: f64,
    /// Amplitude-weighted share of bin steps longer than 1 deg going down.
    pub dir_down: f64,
    /// Share of bin steps of 0.5–2 deg.
    pub step_small: f64,
    /// Share of bin steps of 2–5 deg.
    pub step_mid: f64,
    /// Share of bin steps of 5–10 deg.
    pub step_large: f64,
    /// Share of bin steps longer than 10 deg.
    pub step_huge: f64,
    /// Share of bin steps that continue a slow vertical drift (0.1–1.5 deg per bin, mostly
    /// vertical, same direction as the previous step): following scrolling content.
    pub vdrift_frac: f64,
    /// Median fixation duration (ms).
    pub fix_med_ms: f64,
    /// 90th percentile of the fixation durations (ms).
    pub fix_p90_ms: f64,
    /// Share of fixations shorter than 150 ms.
    pub short_fix_frac: f64,
    /// Median fixation-to-fixation amplitude (deg).
    pub amp_med: f64,
    /// 90th percentile of the fixation-to-fixation amplitudes (deg).
    pub amp_p90: f64,
    /// Share of the window's bins without valid data (dropouts, blinks, gaps).
    pub invalid_frac: f64,
    /// Short (≤ 1 s) runs of invalid or missing bins per second of window: blinks and
    /// tracker dropouts.
    pub gap_rate: f64,
    /// Distinct 5°×5° cells visited per bin.
    pub coverage5: f64,
    /// The hand-set [`ReadingRule`] score of the window (0..1).
    pub reading_score: f64,
    /// 1 when the velocity (lab-rate) detector runs, 0 at webcam rates.
    pub lab: f64,
}

/// The straightforward feature computation over the whole window (every pass recomputed
/// from the bins and fixations). The streaming classifier uses
/// [`compute_features_fast`], which must give bit-identical results; this one is its test
/// oracle.
#[cfg(test)]
pub(crate) fn compute_features(
    bins: &VecDeque<Bin>,
    fixes: &VecDeque<FixRec>,
    cfg: &ActivityConfig,
    window_start: f64,
) -> WindowFeatures {
    let mut f = WindowFeatures::default();
    let bin_ms = cfg.bin_ms;

    // ---- bins
    let mut nvalid = 0.0;
    let (mut mx, mut my) = (0.0, 0.0);
    for b in bins.iter().filter(|b| b.valid) {
        nvalid += 1.0;
        mx += b.x;
        my += b.y;
    }
    f.valid_ms = nvalid * bin_ms;
    if nvalid > 0.0 {
        mx /= nvalid;
        my /= nvalid;
        let (mut ssx, mut ssy) = (0.0, 0.0);
        // Least-squares slopes of x and y over the bin index (relative to the first bin).
        let i0 = bins.front().map_or(0, |b| b.index);
        let (mut st, mut stt, mut sxt, mut syt) = (0.0, 0.0, 0.0, 0.0);
        for b in bins.iter().filter(|b| b.valid) {
            ssx += (b.x - mx).powi(2);
            ssy += (b.y - my).powi(2);
            let t = (b.index - i0) as f64;
            st += t;
            stt += t * t;
            sxt += (b.x - mx) * t;
            syt += (b.y - my) * t;
        }
        f.spread = ((ssx + ssy) / nvalid).sqrt();
        f.sd_x = (ssx / nvalid).sqrt();
        f.sd_y = (ssy / nvalid).sqrt();
        let den = stt - st * st / nvalid;
        if nvalid >= 3.0 && den > 1e-9 {
            let per_s = 1000.0 / bin_ms;
            f.x_slope = sxt / den * per_s;
            f.y_slope = syt / den * per_s;
        }
    }
    if let (Some(first), Some(last)) = (bins.front(), bins.back()) {
        let span = (last.index - first.index + 1).max(1) as f64;
        f.invalid_frac = (1.0 - nvalid / span).clamp(0.0, 1.0);
        // Short runs of invalid or missing bins between valid ones.
        let mut prev_valid: Option<i64> = None;
        let mut gaps = 0.0;
        for b in bins.iter().filter(|b| b.valid) {
            if let Some(pv) = prev_valid {
                let missing = b.index - pv - 1;
                if missing >= 1 && (missing as f64) * bin_ms <= 1000.0 {
                    gaps += 1.0;
                }
            }
            prev_valid = Some(b.index);
        }
        f.gap_rate = gaps / (span * bin_ms / 1000.0);
    }
    let mut speeds: [f64; 128] = [0.0; 128];
    let mut ns = 0usize;
    let (mut ph, mut pv) = (0.0, 0.0);
    let (mut right, mut moved_h) = (0.0, 0.0);
    let (mut left_path, mut left_jump) = (0.0, 0.0);
    let (mut still, mut jumps, mut nsteps) = (0.0, 0.0, 0.0);
    let mut sweeps = 0.0;
    let mut cycles = 0.0;
    let mut run_left = 0.0f64;
    let mut run_left_dy = 0.0f64;
    let (mut small_pos, mut small_neg) = (0.0, 0.0);
    // Rightward extent of the current line candidate: start x and furthest x.
    let mut seg: Option<(f64, f64)> = None;
    let mut prev: Option<&Bin> = None;
    let mut prev_step: Option<(f64, f64)> = None;
    let mut coherent = 0.0;
    // Cells visited (2 deg grid); the window holds at most a few hundred bins.
    // Distinct cells via a small open-addressing set (at most 512 bins are counted).
    let mut table = [i64::MIN; 1024];
    let (mut ncells, mut distinct) = (0usize, 0usize);
    let mut table5 = [i64::MIN; 512];
    let mut distinct5 = 0usize;
    let (mut dir_r, mut dir_l, mut dir_u, mut dir_d) = (0.0, 0.0, 0.0, 0.0);
    let (mut st_small, mut st_mid, mut st_large, mut st_huge) = (0.0, 0.0, 0.0, 0.0);
    let mut vdrift = 0.0;
    let mut end_sweep =
        |run_left: &mut f64, run_left_dy: &mut f64, seg: &mut Option<(f64, f64)>, x_now: f64| {
            if *run_left > cfg.return_sweep_min_deg && run_left_dy.abs() <= 0.5 * *run_left {
                sweeps += 1.0;
                if let Some((x0, xmax)) = *seg
                    && xmax - x0 >= 0.5 * *run_left
                {
                    cycles += 1.0;
                }
                *seg = Some((x_now, x_now));
            }
            *run_left = 0.0;
            *run_left_dy = 0.0;
        };
    for b in bins.iter() {
        if !b.valid {
            prev = None;
            prev_step = None;
            continue;
        }
        if ncells < 512 {
            let cx = (b.x / 2.0).floor().clamp(-1e6, 1e6) as i64;
            let cy = (b.y / 2.0).floor().clamp(-1e6, 1e6) as i64;
            let key = cx * 4_000_000 + cy;
            let mut slot = ((key as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 54) as usize;
            loop {
                if table[slot] == key {
                    break;
                }
                if table[slot] == i64::MIN {
                    table[slot] = key;
                    distinct += 1;
                    break;
                }
                slot = (slot + 1) & 1023;
            }
            ncells += 1;
            let key5 = (b.x / 5.0).floor().clamp(-1e6, 1e6) as i64 * 4_000_000
                + (b.y / 5.0).floor().clamp(-1e6, 1e6) as i64;
            let mut slot = ((key5 as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 55) as usize;
            loop {
                if table5[slot] == key5 {
                    break;
                }
                if table5[slot] == i64::MIN {
                    table5[slot] = key5;
                    distinct5 += 1;
                    break;
                }
                slot = (slot + 1) & 511;
            }
        }
        match &mut seg {
            Some((_, xmax)) => *xmax = xmax.max(b.x),
            None => seg = Some((b.x, b.x)),
        }
        if let Some(p) = prev
            && b.index - p.index <= 2
        {
            let dt = (b.index - p.index) as f64 * bin_ms / 1000.0;
            let dx = b.x - p.x;
            let dy = b.y - p.y;
            let d = (dx * dx + dy * dy).sqrt();
            let v = d / dt;
            if d >= 10.0 {
                st_huge += 1.0;
            } else if d >= 5.0 {
                st_large += 1.0;
            } else if d >= 2.0 {
                st_mid += 1.0;
            } else if d >= 0.5 {
                st_small += 1.0;
            }
            if d > 1.0 {
                if dx.abs() >= dy.abs() {
                    if dx > 0.0 {
                        dir_r += d;
                    } else {
                        dir_l += d;
                    }
                } else if dy < 0.0 {
                    dir_u += d;
                } else {
                    dir_d += d;
                }
            }
            if let Some((px, py)) = prev_step {
                if (0.1..=1.5).contains(&dy.abs()) && dy.abs() > dx.abs() && dy * py > 0.0 {
                    vdrift += 1.0;
                }
                let pd = (px * px + py * py).sqrt();
                let cos = if pd > 0.0 && d > 0.0 {
                    (px * dx + py * dy) / (pd * d)
                } else {
                    0.0
                };
                let rightward = dx > 0.0 && dy.abs() < 0.5 * dx;
                if cos > 0.707 && (2.0..=20.0).contains(&v) && !rightward {
                    coherent += 1.0;
                }
            }
            prev_step = Some((dx, dy));
            if ns < speeds.len() {
                speeds[ns] = v;
                ns += 1;
            }
            nsteps += 1.0;
            if v < 3.0 {
                still += 1.0;
            }
            if v > 40.0 {
                jumps += 1.0;
            }
            ph += dx.abs();
            pv += dy.abs();
            if dx.abs() > 0.15 {
                moved_h += 1.0;
                if dx > 0.0 {
                    right += 1.0;
                }
            }
            if dx.abs() < 1.5 {
                if dx > 0.0 {
                    small_pos += dx;
                } else {
                    small_neg -= dx;
                }
            }
            if dx < 0.0 {
                left_path += -dx;
                if -dx > 1.5 {
                    left_jump += -dx;
                }
                run_left += -dx;
                run_left_dy += dy;
            } else {
                end_sweep(&mut run_left, &mut run_left_dy, &mut seg, b.x);
            }
        }
        prev = Some(b);
    }
    let last_x = bins.back().map_or(0.0, |b| b.x);
    end_sweep(&mut run_left, &mut run_left_dy, &mut seg, last_x);
    if small_pos + small_neg > 0.0 {
        f.progression = (small_pos - small_neg) / (small_pos + small_neg);
    }
    if ph + pv > 0.0 {
        f.h_frac = ph / (ph + pv);
    }
    if moved_h > 0.0 {
        f.right_frac = right / moved_h;
    }
    if left_path > 0.0 {
        f.left_jump_frac = left_jump / left_path;
    }
    if ncells > 0 {
        f.coverage = distinct as f64 / ncells as f64;
        f.coverage5 = distinct5 as f64 / ncells as f64;
    }
    let dir_sum = dir_r + dir_l + dir_u + dir_d;
    if dir_sum > 0.0 {
        f.dir_right = dir_r / dir_sum;
        f.dir_left = dir_l / dir_sum;
        f.dir_up = dir_u / dir_sum;
        f.dir_down = dir_d / dir_sum;
    }
    if nsteps > 0.0 {
        f.step_small = st_small / nsteps;
        f.step_mid = st_mid / nsteps;
        f.step_large = st_large / nsteps;
        f.step_huge = st_huge / nsteps;
        f.vdrift_frac = vdrift / nsteps;
        f.coherent_frac = coherent / nsteps;
        f.still_frac = still / nsteps;
        f.jump_frac = jumps / nsteps;
    }
    if ns > 0 {
        let s = &mut speeds[..ns];
        let (_, m, _) = s.select_nth_unstable_by(ns / 2, f64::total_cmp);
        f.speed_med = *m;
    }
    if f.valid_ms > 0.0 {
        f.sweep_rate = sweeps / (f.valid_ms / 1000.0);
        f.line_cycles = cycles / (f.valid_ms / 1000.0);
    }

    // ---- fixations
    let mut fix_ms = 0.0;
    let mut long_ms = 0.0;
    let mut pursuit_ms = 0.0;
    let mut prevf: Option<&FixRec> = None;
    let (mut fwd, mut sweep, mut regress, mut unrelated, mut amp) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let mut durs = [0.0f64; 256];
    let mut nd = 0usize;
    let mut amps = [0.0f64; 256];
    let mut na = 0usize;
    let mut short = 0.0;
    for fx in fixes.iter() {
        let d = fx.end_ms - fx.start_ms.max(window_start);
        if d <= 0.0 {
            continue;
        }
        f.n_fix += 1.0;
        if !fx.pursuit {
            let full = fx.end_ms - fx.start_ms;
            if nd < durs.len() {
                durs[nd] = full;
                nd += 1;
            }
            if full < 150.0 {
                short += 1.0;
            }
        }
        fix_ms += d;
        if fx.end_ms - fx.start_ms > 600.0 {
            long_ms += d;
        }
        if fx.pursuit {
            pursuit_ms += d;
        }
        if let Some(p) = prevf
            && fx.start_ms - p.end_ms < 600.0
        {
            let dx = fx.x - p.x;
            let dy = fx.y - p.y;
            f.n_trans += 1.0;
            let a = (dx * dx + dy * dy).sqrt();
            amp += a;
            if na < amps.len() {
                amps[na] = a;
                na += 1;
            }
            if dx >= cfg.read_forward_min_deg
                && dx <= cfg.read_forward_max_deg
                && dy.abs() <= cfg.read_line_tolerance_deg.max(0.3 * dx)
            {
                fwd += 1.0;
            } else if -dx >= cfg.return_sweep_min_deg && dy.abs() <= 0.5 * -dx {
                sweep += 1.0;
            } else if dx < 0.0
                && -dx < cfg.return_sweep_min_deg
                && dy.abs() <= cfg.read_line_tolerance_deg
            {
                regress += 1.0;
            } else {
                unrelated += 1.0;
            }
        }
        prevf = Some(fx);
    }
    if fix_ms > 0.0 {
        f.long_fix_frac = long_ms / fix_ms;
    }
    if nd > 0 {
        f.fix_med_ms = quantile(&mut durs[..nd], 0.5);
        f.fix_p90_ms = quantile(&mut durs[..nd], 0.9);
        f.short_fix_frac = short / nd as f64;
    }
    if na > 0 {
        f.amp_med = quantile(&mut amps[..na], 0.5);
        f.amp_p90 = quantile(&mut amps[..na], 0.9);
    }
    if f.n_fix > 0.0 {
        f.mean_fix_ms = fix_ms / f.n_fix;
    }
    if f.valid_ms > 0.0 {
        f.pursuit_frac = (pursuit_ms / f.valid_ms).min(1.0);
    }
    if f.n_trans > 0.0 {
        f.fwd_frac = fwd / f.n_trans;
        f.sweep_frac = sweep / f.n_trans;
        f.regress_frac = regress / f.n_trans;
        f.unrelated_frac = unrelated / f.n_trans;
        f.mean_amp = amp / f.n_trans;
    }
    f
}

/// Nearest-rank quantile of an unsorted slice (reorders it); 0 when empty.
#[cfg(test)]
fn quantile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let k = ((v.len() - 1) as f64 * q).round() as usize;
    let (_, m, _) = v.select_nth_unstable_by(k.min(v.len() - 1), f64::total_cmp);
    *m
}

/// Quantities of one bin that stay fixed while it is in the window, computed once when the
/// bin is closed: its 2° and 5° cell keys and the step from the bin before it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct BinAux {
    key2: i64,
    key5: i64,
    /// Step from the previous bin when both are valid and at most 2 bins apart.
    step: Option<StepAux>,
}

/// One bin-to-bin step and every per-step quantity of the window features (the branches of
/// the reference computation taken once; counts as 0/1, sums with the values it adds).
#[derive(Debug, Clone, Copy)]
struct StepAux {
    dx: f64,
    dy: f64,
    /// Speed (deg/s).
    v: f64,
    d: f64,
    /// Length class: 0 for 0.5–2, 1 for 2–5, 2 for 5–10, 3 for ≥ 10 deg, 4 below 0.5.
    size: u8,
    /// Direction of steps longer than 1 deg: 0 right, 1 left, 2 up, 3 down; 4 none.
    dir: u8,
    still: f64,
    jump: f64,
    adx: f64,
    ady: f64,
    moved_h: f64,
    right: f64,
    small_pos: f64,
    small_neg: f64,
    /// Bin index of the previous step of the chain (no invalid bin in between) and the
    /// vertical-drift and coherent-motion tests against it: they count when that step is
    /// in the window too (after its first bin), as the reference's running previous step.
    pred: Option<i64>,
    vdrift: f64,
    coherent: f64,
}

/// The last step since the last invalid bin (bin index, dx, dy, length): the predecessor of
/// the next step.
pub(crate) type StepChain = Option<(i64, f64, f64, f64)>;

impl BinAux {
    /// The quantities of `b`, whose predecessor in the bin queue is `prev`; `chain` is the
    /// last step since the last invalid bin, updated for `b`.
    pub(crate) fn new(b: &Bin, prev: Option<&Bin>, chain: &mut StepChain, bin_ms: f64) -> Self {
        let cell = |v: f64, size: f64| (v / size).floor().clamp(-1e6, 1e6) as i64;
        if !b.valid {
            *chain = None;
        }
        let step = match prev {
            Some(p) if b.valid && p.valid && b.index - p.index <= 2 => {
                let dt = (b.index - p.index) as f64 * bin_ms / 1000.0;
                let dx = b.x - p.x;
                let dy = b.y - p.y;
                let d = (dx * dx + dy * dy).sqrt();
                let v = d / dt;
                let size = if d >= 10.0 {
                    3
                } else if d >= 5.0 {
                    2
                } else if d >= 2.0 {
                    1
                } else if d >= 0.5 {
                    0
                } else {
                    4
                };
                let dir = if d > 1.0 {
                    if dx.abs() >= dy.abs() {
                        if dx > 0.0 { 0 } else { 1 }
                    } else if dy < 0.0 {
                        2
                    } else {
                        3
                    }
                } else {
                    4
                };
                let (mut vdrift, mut coherent) = (0.0, 0.0);
                if let Some((_, px, py, pd)) = *chain {
                    if (0.1..=1.5).contains(&dy.abs()) && dy.abs() > dx.abs() && dy * py > 0.0 {
                        vdrift = 1.0;
                    }
                    let cos = if pd > 0.0 && d > 0.0 {
                        (px * dx + py * dy) / (pd * d)
                    } else {
                        0.0
                    };
                    let rightward = dx > 0.0 && dy.abs() < 0.5 * dx;
                    if cos > 0.707 && (2.0..=20.0).contains(&v) && !rightward {
                        coherent = 1.0;
                    }
                }
                let small = dx.abs() < 1.5;
                let aux = StepAux {
                    dx,
                    dy,
                    v,
                    d,
                    size,
                    dir,
                    still: f64::from(u8::from(v < 3.0)),
                    jump: f64::from(u8::from(v > 40.0)),
                    adx: dx.abs(),
                    ady: dy.abs(),
                    moved_h: f64::from(u8::from(dx.abs() > 0.15)),
                    right: f64::from(u8::from(dx.abs() > 0.15 && dx > 0.0)),
                    small_pos: if small && dx > 0.0 { dx } else { 0.0 },
                    // `small_neg -= dx` in the reference: the same as adding −dx.
                    small_neg: if small && (dx <= 0.0 || dx.is_nan()) {
                        -dx
                    } else {
                        0.0
                    },
                    pred: chain.map(|c| c.0),
                    vdrift,
                    coherent,
                };
                *chain = Some((b.index, dx, dy, d));
                Some(aux)
            }
            _ => None,
        };
        BinAux {
            key2: cell(b.x, 2.0) * 4_000_000 + cell(b.y, 2.0),
            key5: cell(b.x, 5.0) * 4_000_000 + cell(b.y, 5.0),
            step,
        }
    }

    /// Bin-to-bin speed (deg/s) of the step into this bin, if it has one.
    pub(crate) fn speed(&self) -> Option<f64> {
        self.step.map(|s| s.v)
    }
}

/// Inserts `v` into the ascending (by [`f64::total_cmp`]) `sorted`.
pub(crate) fn sorted_insert(sorted: &mut Vec<f64>, v: f64) {
    let i = sorted.partition_point(|x| x.total_cmp(&v).is_lt());
    sorted.insert(i, v);
}

/// Removes one copy of `v` from the ascending `sorted` (no-op when absent).
pub(crate) fn sorted_remove(sorted: &mut Vec<f64>, v: f64) {
    let i = sorted.partition_point(|x| x.total_cmp(&v).is_lt());
    if sorted.get(i).is_some_and(|x| x.total_cmp(&v).is_eq()) {
        sorted.remove(i);
    }
}

/// Inserts `key` into an open-addressing set (`i64::MIN` = empty, `mask + 1` slots);
/// true when it was new.
#[inline]
fn set_insert(table: &mut [i64], key: i64, shift: u32, mask: usize) -> bool {
    let mut slot = ((key as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> shift) as usize;
    loop {
        if table[slot] == key {
            return false;
        }
        if table[slot] == i64::MIN {
            table[slot] = key;
            return true;
        }
        slot = (slot + 1) & mask;
    }
}

/// The same features as the reference computation (bit-identical), from per-bin quantities
/// computed once per bin (`aux[i]` belongs to `bins[i]`) and the bin-step speeds of the
/// window kept sorted (`sorted_speeds`: the speeds of the steps into `bins[1..]`), so a score
/// costs one light pass over the bins and one over the fixations, without allocation.
pub(crate) fn compute_features_fast(
    bins: &[Bin],
    aux: &[BinAux],
    sorted_speeds: &[f64],
    fixes: &[FixRec],
    cfg: &ActivityConfig,
    window_start: f64,
) -> WindowFeatures {
    debug_assert_eq!(bins.len(), aux.len());
    let mut f = WindowFeatures::default();
    let bin_ms = cfg.bin_ms;

    // ---- bins
    let mut nvalid = 0.0;
    let (mut mx, mut my) = (0.0, 0.0);
    for b in bins.iter().filter(|b| b.valid) {
        nvalid += 1.0;
        mx += b.x;
        my += b.y;
    }
    f.valid_ms = nvalid * bin_ms;
    let mut gaps = 0.0;
    if nvalid > 0.0 {
        mx /= nvalid;
        my /= nvalid;
        let (mut ssx, mut ssy) = (0.0, 0.0);
        let i0 = bins.first().map_or(0, |b| b.index);
        let (mut st, mut stt, mut sxt, mut syt) = (0.0, 0.0, 0.0, 0.0);
        let mut prev_valid: Option<i64> = None;
        for b in bins.iter().filter(|b| b.valid) {
            ssx += (b.x - mx).powi(2);
            ssy += (b.y - my).powi(2);
            let t = (b.index - i0) as f64;
            st += t;
            stt += t * t;
            sxt += (b.x - mx) * t;
            syt += (b.y - my) * t;
            if let Some(pv) = prev_valid {
                let missing = b.index - pv - 1;
                if missing >= 1 && (missing as f64) * bin_ms <= 1000.0 {
                    gaps += 1.0;
                }
            }
            prev_valid = Some(b.index);
        }
        f.spread = ((ssx + ssy) / nvalid).sqrt();
        f.sd_x = (ssx / nvalid).sqrt();
        f.sd_y = (ssy / nvalid).sqrt();
        let den = stt - st * st / nvalid;
        if nvalid >= 3.0 && den > 1e-9 {
            let per_s = 1000.0 / bin_ms;
            f.x_slope = sxt / den * per_s;
            f.y_slope = syt / den * per_s;
        }
    }
    if let (Some(first), Some(last)) = (bins.first(), bins.last()) {
        let span = (last.index - first.index + 1).max(1) as f64;
        f.invalid_frac = (1.0 - nvalid / span).clamp(0.0, 1.0);
        f.gap_rate = gaps / (span * bin_ms / 1000.0);
    }
    // More steps than the reference keeps (128): collect the first 128 in window order.
    let collect_speeds = sorted_speeds.len() > 128;
    let mut speeds: [f64; 128] = [0.0; 128];
    let mut ns = 0usize;
    let (mut ph, mut pv) = (0.0, 0.0);
    let (mut right, mut moved_h) = (0.0, 0.0);
    let (mut left_path, mut left_jump) = (0.0, 0.0);
    let (mut still, mut jumps, mut nsteps) = (0.0, 0.0, 0.0);
    let mut sweeps = 0.0;
    let mut cycles = 0.0;
    let mut run_left = 0.0f64;
    let mut run_left_dy = 0.0f64;
    let (mut small_pos, mut small_neg) = (0.0, 0.0);
    let mut seg: Option<(f64, f64)> = None;
    let mut coherent = 0.0;
    let mut table = [i64::MIN; 1024];
    let (mut ncells, mut distinct) = (0usize, 0usize);
    let mut table5 = [i64::MIN; 512];
    let mut distinct5 = 0usize;
    // Per direction (right, left, up, down, none) and length class (small, mid, large,
    // huge, none): each sum gets the same terms in the same order as the reference's.
    let mut dirs = [0.0f64; 5];
    let mut sizes = [0.0f64; 5];
    let mut vdrift = 0.0;
    let front = bins.first().map_or(i64::MIN, |b| b.index);
    let sweep_min = cfg.return_sweep_min_deg;
    let mut end_sweep =
        |run_left: &mut f64, run_left_dy: &mut f64, seg: &mut Option<(f64, f64)>, x_now: f64| {
            if *run_left > sweep_min && run_left_dy.abs() <= 0.5 * *run_left {
                sweeps += 1.0;
                if let Some((x0, xmax)) = *seg
                    && xmax - x0 >= 0.5 * *run_left
                {
                    cycles += 1.0;
                }
                *seg = Some((x_now, x_now));
            }
            *run_left = 0.0;
            *run_left_dy = 0.0;
        };
    for (i, (b, a)) in bins.iter().zip(aux).enumerate() {
        if !b.valid {
            continue;
        }
        if ncells < 512 {
            if set_insert(&mut table, a.key2, 54, 1023) {
                distinct += 1;
            }
            ncells += 1;
            if set_insert(&mut table5, a.key5, 55, 511) {
                distinct5 += 1;
            }
        }
        match &mut seg {
            Some((_, xmax)) => *xmax = xmax.max(b.x),
            None => seg = Some((b.x, b.x)),
        }
        // The first bin of the window has no predecessor in it.
        let Some(st) = a.step.as_ref().filter(|_| i > 0) else {
            continue;
        };
        sizes[usize::from(st.size)] += 1.0;
        dirs[usize::from(st.dir)] += st.d;
        // The previous step counts when it is in the window after its first bin.
        if st.pred.is_some_and(|p| p > front) {
            vdrift += st.vdrift;
            coherent += st.coherent;
        }
        if collect_speeds && ns < speeds.len() {
            speeds[ns] = st.v;
            ns += 1;
        }
        nsteps += 1.0;
        still += st.still;
        jumps += st.jump;
        ph += st.adx;
        pv += st.ady;
        moved_h += st.moved_h;
        right += st.right;
        small_pos += st.small_pos;
        small_neg += st.small_neg;
        let dx = st.dx;
        if dx < 0.0 {
            left_path += -dx;
            if -dx > 1.5 {
                left_jump += -dx;
            }
            run_left += -dx;
            run_left_dy += st.dy;
        } else {
            end_sweep(&mut run_left, &mut run_left_dy, &mut seg, b.x);
        }
    }
    let [st_small, st_mid, st_large, st_huge, _] = sizes;
    let [dir_r, dir_l, dir_u, dir_d, _] = dirs;
    let last_x = bins.last().map_or(0.0, |b| b.x);
    end_sweep(&mut run_left, &mut run_left_dy, &mut seg, last_x);
    if small_pos + small_neg > 0.0 {
        f.progression = (small_pos - small_neg) / (small_pos + small_neg);
    }
    if ph + pv > 0.0 {
        f.h_frac = ph / (ph + pv);
    }
    if moved_h > 0.0 {
        f.right_frac = right / moved_h;
    }
    if left_path > 0.0 {
        f.left_jump_frac = left_jump / left_path;
    }
    if ncells > 0 {
        f.coverage = distinct as f64 / ncells as f64;
        f.coverage5 = distinct5 as f64 / ncells as f64;
    }
    let dir_sum = dir_r + dir_l + dir_u + dir_d;
    if dir_sum > 0.0 {
        f.dir_right = dir_r / dir_sum;
        f.dir_left = dir_l / dir_sum;
        f.dir_up = dir_u / dir_sum;
        f.dir_down = dir_d / dir_sum;
    }
    if nsteps > 0.0 {
        f.step_small = st_small / nsteps;
        f.step_mid = st_mid / nsteps;
        f.step_large = st_large / nsteps;
        f.step_huge = st_huge / nsteps;
        f.vdrift_frac = vdrift / nsteps;
        f.coherent_frac = coherent / nsteps;
        f.still_frac = still / nsteps;
        f.jump_frac = jumps / nsteps;
    }
    if collect_speeds {
        if ns > 0 {
            let s = &mut speeds[..ns];
            let (_, m, _) = s.select_nth_unstable_by(ns / 2, f64::total_cmp);
            f.speed_med = *m;
        }
    } else if let Some(m) = sorted_speeds.get(sorted_speeds.len() / 2) {
        debug_assert_eq!(sorted_speeds.len() as f64, nsteps);
        f.speed_med = *m;
    }
    if f.valid_ms > 0.0 {
        f.sweep_rate = sweeps / (f.valid_ms / 1000.0);
        f.line_cycles = cycles / (f.valid_ms / 1000.0);
    }

    // ---- fixations
    let mut fix_ms = 0.0;
    let mut long_ms = 0.0;
    let mut pursuit_ms = 0.0;
    let mut prevf: Option<&FixRec> = None;
    let (mut fwd, mut sweep, mut regress, mut unrelated, mut amp) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let mut durs = [0.0f64; 256];
    let mut nd = 0usize;
    let mut amps = [0.0f64; 256];
    let mut na = 0usize;
    let mut short = 0.0;
    for fx in fixes.iter() {
        let d = fx.end_ms - fx.start_ms.max(window_start);
        if d <= 0.0 {
            continue;
        }
        f.n_fix += 1.0;
        if !fx.pursuit {
            let full = fx.end_ms - fx.start_ms;
            if nd < durs.len() {
                durs[nd] = full;
                nd += 1;
            }
            if full < 150.0 {
                short += 1.0;
            }
        }
        fix_ms += d;
        if fx.end_ms - fx.start_ms > 600.0 {
            long_ms += d;
        }
        if fx.pursuit {
            pursuit_ms += d;
        }
        if let Some(p) = prevf
            && fx.start_ms - p.end_ms < 600.0
        {
            let dx = fx.x - p.x;
            let dy = fx.y - p.y;
            f.n_trans += 1.0;
            let a = (dx * dx + dy * dy).sqrt();
            amp += a;
            if na < amps.len() {
                amps[na] = a;
                na += 1;
            }
            if dx >= cfg.read_forward_min_deg
                && dx <= cfg.read_forward_max_deg
                && dy.abs() <= cfg.read_line_tolerance_deg.max(0.3 * dx)
            {
                fwd += 1.0;
            } else if -dx >= cfg.return_sweep_min_deg && dy.abs() <= 0.5 * -dx {
                sweep += 1.0;
            } else if dx < 0.0
                && -dx < cfg.return_sweep_min_deg
                && dy.abs() <= cfg.read_line_tolerance_deg
            {
                regress += 1.0;
            } else {
                unrelated += 1.0;
            }
        }
        prevf = Some(fx);
    }
    if fix_ms > 0.0 {
        f.long_fix_frac = long_ms / fix_ms;
    }
    if nd > 0 {
        let [med, p90] = quantiles(&durs[..nd], [0.5, 0.9]);
        f.fix_med_ms = med;
        f.fix_p90_ms = p90;
        f.short_fix_frac = short / nd as f64;
    }
    if na > 0 {
        let [med, p90] = quantiles(&amps[..na], [0.5, 0.9]);
        f.amp_med = med;
        f.amp_p90 = p90;
    }
    if f.n_fix > 0.0 {
        f.mean_fix_ms = fix_ms / f.n_fix;
    }
    if f.valid_ms > 0.0 {
        f.pursuit_frac = (pursuit_ms / f.valid_ms).min(1.0);
    }
    if f.n_trans > 0.0 {
        f.fwd_frac = fwd / f.n_trans;
        f.sweep_frac = sweep / f.n_trans;
        f.regress_frac = regress / f.n_trans;
        f.unrelated_frac = unrelated / f.n_trans;
        f.mean_amp = amp / f.n_trans;
    }
    f
}

/// Nearest-rank quantiles of a non-empty slice (sorts it once): the same values as
/// selecting each rank on its own.
fn quantiles<const K: usize>(v: &[f64], q: [f64; K]) -> [f64; K] {
    // Sorted as integers: `key` is monotone in `f64::total_cmp` order and invertible.
    let key = |x: f64| {
        let b = x.to_bits();
        b ^ ((((b as i64) >> 63) as u64) >> 1) ^ (1 << 63)
    };
    let unkey = |k: u64| {
        let b = k ^ (1 << 63);
        f64::from_bits(b ^ ((((b as i64) >> 63) as u64) >> 1))
    };
    let mut keys = [0u64; 256];
    let keys = &mut keys[..v.len().min(256)];
    for (k, x) in keys.iter_mut().zip(v) {
        *k = key(*x);
    }
    keys.sort_unstable();
    let last = keys.len() - 1;
    q.map(|q| unkey(keys[((last as f64 * q).round() as usize).min(last)]))
}

/// Number of entries in [`WindowFeatures::vector`].
pub const N_FEATURES: usize = 21;

/// Names of the entries of [`WindowFeatures::vector`].
pub const FEATURE_NAMES: [&str; N_FEATURES] = [
    "fwd_frac",
    "sweep_frac",
    "regress_frac",
    "unrelated_frac",
    "ln_amp",
    "ln_fix_ms",
    "pursuit_frac",
    "h_frac",
    "right_frac",
    "left_jump_frac",
    "ln_spread",
    "ln_speed_med",
    "still_frac",
    "jump_frac",
    "sweep_rate",
    "line_cycles",
    "progression",
    "fix_rate",
    "coherent_frac",
    "coverage",
    "long_fix_frac",
];

impl WindowFeatures {
    /// The features as the vector the linear model scores (see [`FEATURE_NAMES`]).
    pub fn vector(&self) -> [f64; N_FEATURES] {
        let secs = (self.valid_ms / 1000.0).max(0.1);
        let v = [
            self.fwd_frac,
            self.sweep_frac,
            self.regress_frac,
            self.unrelated_frac,
            (1.0 + self.mean_amp).ln(),
            (self.mean_fix_ms.max(20.0) / 200.0).ln(),
            self.pursuit_frac,
            self.h_frac,
            self.right_frac,
            self.left_jump_frac,
            (1.0 + self.spread).ln(),
            (1.0 + self.speed_med).ln(),
            self.still_frac,
            self.jump_frac,
            self.sweep_rate,
            self.line_cycles,
            self.progression,
            self.n_fix / secs,
            self.coherent_frac,
            self.coverage,
            self.long_fix_frac,
        ];
        v.map(|x| if x.is_finite() { x } else { 0.0 })
    }
}

/// Number of entries in [`WindowFeatures::extended`].
pub const N_EXT_FEATURES: usize = N_FEATURES + 23;

/// Names of the entries of [`WindowFeatures::extended`] (the inputs of the boosted-tree
/// model): the 21 of [`FEATURE_NAMES`] followed by the richer scan-path features.
pub const EXT_FEATURE_NAMES: [&str; N_EXT_FEATURES] = ext_feature_names();

/// The richer scan-path features that follow [`FEATURE_NAMES`] in [`EXT_FEATURE_NAMES`].
const EXTRA_FEATURE_NAMES: [&str; N_EXT_FEATURES - N_FEATURES] = [
    "ln_sd_x",
    "ln_sd_y",
    "x_slope",
    "y_slope",
    "dir_right",
    "dir_left",
    "dir_up",
    "dir_down",
    "step_small",
    "step_mid",
    "step_large",
    "step_huge",
    "vdrift_frac",
    "ln_fix_med",
    "ln_fix_p90",
    "short_fix_frac",
    "ln_amp_med",
    "ln_amp_p90",
    "invalid_frac",
    "gap_rate",
    "coverage5",
    "reading_score",
    "lab",
];

const fn ext_feature_names() -> [&'static str; N_EXT_FEATURES] {
    let mut out = [""; N_EXT_FEATURES];
    let mut i = 0;
    while i < N_EXT_FEATURES {
        out[i] = if i < N_FEATURES {
            FEATURE_NAMES[i]
        } else {
            EXTRA_FEATURE_NAMES[i - N_FEATURES]
        };
        i += 1;
    }
    out
}

impl WindowFeatures {
    /// The richer feature vector the boosted-tree model scores (see [`EXT_FEATURE_NAMES`]);
    /// non-finite entries become 0.
    pub fn extended(&self) -> [f64; N_EXT_FEATURES] {
        let base = self.vector();
        let ext = [
            (1.0 + self.sd_x).ln(),
            (1.0 + self.sd_y).ln(),
            self.x_slope,
            self.y_slope,
            self.dir_right,
            self.dir_left,
            self.dir_up,
            self.dir_down,
            self.step_small,
            self.step_mid,
            self.step_large,
            self.step_huge,
            self.vdrift_frac,
            (self.fix_med_ms.max(20.0) / 200.0).ln(),
            (self.fix_p90_ms.max(20.0) / 200.0).ln(),
            self.short_fix_frac,
            (1.0 + self.amp_med).ln(),
            (1.0 + self.amp_p90).ln(),
            self.invalid_frac,
            self.gap_rate,
            self.coverage5,
            self.reading_score,
            self.lab,
        ];
        let mut out = [0.0; N_EXT_FEATURES];
        out[..N_FEATURES].copy_from_slice(&base);
        for (o, v) in out[N_FEATURES..].iter_mut().zip(ext) {
            *o = if v.is_finite() { v } else { 0.0 };
        }
        out
    }
}

/// Multinomial logistic model over [`WindowFeatures::vector`]: class probabilities for
/// reading, browsing, watching. Features are standardised with `mean` / `scale` first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearModel {
    /// Feature means.
    pub mean: [f64; N_FEATURES],
    /// Feature standard deviations.
    pub scale: [f64; N_FEATURES],
    /// Weights per class (reading, browsing, watching).
    pub weights: [[f64; N_FEATURES]; 3],
    /// Bias per class.
    pub bias: [f64; 3],
}

impl LinearModel {
    /// Class probabilities (reading, browsing, watching) for a feature vector.
    pub fn probabilities(&self, x: &[f64; N_FEATURES]) -> [f64; 3] {
        let mut z = self.bias;
        for (j, &xj) in x.iter().enumerate() {
            let s = if self.scale[j].is_finite() && self.scale[j] > 1e-9 {
                self.scale[j]
            } else {
                1.0
            };
            let v = ((xj - self.mean[j]) / s).clamp(-6.0, 6.0);
            for (zc, w) in z.iter_mut().zip(&self.weights) {
                *zc += w[j] * v;
            }
        }
        let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if !m.is_finite() {
            return [1.0 / 3.0; 3];
        }
        let e = z.map(|v| (v - m).exp());
        let sum: f64 = e.iter().sum();
        e.map(|v| v / sum)
    }
}

fn ramp(v: f64, lo: f64, hi: f64) -> f64 {
    if hi <= lo {
        return if v >= hi { 1.0 } else { 0.0 };
    }
    ((v - lo) / (hi - lo)).clamp(0.0, 1.0)
}

/// Hand-set reading evidence (Campbell & Maglio style, extended with the coarse
/// sawtooth): each cue is mapped linearly from `lo` (no evidence) to `hi` (full evidence),
/// the weighted mean is the reading score, and `sigmoid(gain · (score − threshold))` the
/// reading probability. Not fitted to data: the cues are rate independent, so the same
/// rule serves webcam and lab rates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReadingRule {
    /// Forward reading saccades among fixation transitions: (lo, hi, weight).
    pub forward: (f64, f64, f64),
    /// Net rightward share of small steps: (lo, hi, weight).
    pub progression: (f64, f64, f64),
    /// Read line + return sweep cycles per second: (lo, hi, weight).
    pub line_cycles: (f64, f64, f64),
    /// Share of rightward horizontal steps: (lo, hi, weight).
    pub rightward: (f64, f64, f64),
    /// Transitions fitting no reading pattern — counts against reading: (lo, hi, weight).
    pub unrelated: (f64, f64, f64),
    /// Share of time in smooth pursuit that vetoes reading (text does not move): the score
    /// is multiplied by `1 − ramp(pursuit, lo, hi)`.
    pub pursuit_veto: (f64, f64),
    /// Score at which the reading probability is 0.5.
    pub threshold: f64,
    /// Steepness of the probability around the threshold.
    pub gain: f64,
}

impl Default for ReadingRule {
    fn default() -> Self {
        ReadingRule {
            forward: (0.25, 0.6, 1.0),
            progression: (0.1, 0.5, 1.0),
            line_cycles: (0.05, 0.3, 1.0),
            rightward: (0.5, 0.66, 0.5),
            unrelated: (0.2, 0.5, 0.5),
            pursuit_veto: (0.03, 0.15),
            threshold: 0.7,
            gain: 12.0,
        }
    }
}

impl ReadingRule {
    /// Reading score in 0..1 (weighted mean of the cues).
    pub fn score(&self, f: &WindowFeatures) -> f64 {
        let cue = |v: f64, (lo, hi, w): (f64, f64, f64)| (w, w * ramp(v, lo, hi));
        let parts = [
            cue(f.fwd_frac, self.forward),
            cue(f.progression, self.progression),
            cue(f.line_cycles, self.line_cycles),
            cue(f.right_frac, self.rightward),
        ];
        let (uw, u) = cue(f.unrelated_frac, self.unrelated);
        let wsum: f64 = parts.iter().map(|p| p.0).sum::<f64>() + uw;
        let s: f64 = parts.iter().map(|p| p.1).sum::<f64>() + (uw - u);
        let veto = 1.0 - ramp(f.pursuit_frac, self.pursuit_veto.0, self.pursuit_veto.1);
        if wsum > 0.0 && s.is_finite() {
            (veto * s / wsum).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }

    /// Reading probability.
    pub fn probability(&self, f: &WindowFeatures) -> f64 {
        let z = self.gain * (self.score(f) - self.threshold);
        if z.is_finite() {
            1.0 / (1.0 + (-z).exp())
        } else {
            0.0
        }
    }
}

/// Class probabilities for reading, browsing, watching. With a boosted-tree model
/// ([`ActivityModel::Builtin`] or [`ActivityModel::Trees`]) they are its calibrated
/// probabilities over [`WindowFeatures::extended`]. With [`ActivityModel::Linear`], the rate-specific linear model gives
/// all three; the hand-set reading rule can only raise P(reading) (it catches clean reading
/// the fitted model has seen too little of), the rest is split as the model says.
#[cfg(test)]
pub(crate) fn scores(f: &WindowFeatures, cfg: &ActivityConfig, lab: bool) -> [f64; 3] {
    scores_with(f, cfg, lab, None)
}

/// [`scores`] with the model's trees already flattened (`flat`, built from the model
/// `cfg.model` names, with the memo of its previous walk): the same probabilities, computed
/// faster.
pub(crate) fn scores_with(
    f: &WindowFeatures,
    cfg: &ActivityConfig,
    lab: bool,
    flat: Option<(&FlatTrees, &mut TreeMemo)>,
) -> [f64; 3] {
    if let (Some((flat, memo)), ActivityModel::Builtin | ActivityModel::Trees(_)) =
        (flat, &cfg.model)
    {
        return flat.probabilities_memo(&f.extended(), &cfg.class_bias, memo);
    }
    let trees = match &cfg.model {
        ActivityModel::Builtin => BoostedTrees::builtin(),
        ActivityModel::Trees(m) => Some(&**m),
        ActivityModel::Linear => None,
    };
    if let Some(m) = trees {
        return m.probabilities(&f.extended(), &cfg.class_bias);
    }
    let model = if lab {
        &cfg.model_lab
    } else {
        &cfg.model_webcam
    };
    let p = model.probabilities(&f.vector());
    let rest = p[1] + p[2];
    let (b, w) = if rest > 1e-12 {
        (p[1] / rest, p[2] / rest)
    } else {
        (0.5, 0.5)
    };
    let r = p[0].max(cfg.reading.probability(f));
    [r, (1.0 - r) * b, (1.0 - r) * w]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_by_integer_sort_equal_selection() {
        let mut state = 0x1234_5678_9ABC_DEF1u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let special = [
            0.0,
            -0.0,
            1.5,
            -1.5,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e-300,
        ];
        for n in 1..=256 {
            let v: Vec<f64> = (0..n)
                .map(|i| match next() % 4 {
                    0 => special[i % special.len()],
                    1 => (next() % 7) as f64,
                    _ => (next() % 100_000) as f64 / 37.0 - 900.0,
                })
                .collect();
            let got = quantiles(&v, [0.5, 0.9]);
            let mut a = v.clone();
            let want = [quantile(&mut a, 0.5), quantile(&mut a, 0.9)];
            assert_eq!(got.map(f64::to_bits), want.map(f64::to_bits), "{v:?}");
        }
    }
}
