//! Session accounting: integrates activity labels over time into a [`SessionReport`].
//!
//! A [`Session`] wraps an [`ActivityClassifier`]: feed it [`FrameResult`]s with
//! [`Session::push_frame`] (or [`GazeSample`]s with [`Session::push_sample`]), read the live
//! [`LiveStatus`] after every frame, a running [`Session::report`] at any time, and the final
//! report from [`Session::finish`]. [`Session::snapshot`] / [`Session::restore`] checkpoint
//! the whole live state through serde so a server can resume a session after a restart.
//!
//! Accounting rules:
//! * Time is integrated from sample timestamps, never from frame counts: the interval from
//!   one accepted sample to the next gets the label of the first (sample-and-hold), so
//!   `duration = focus_time + distraction_time + no_data_time` and
//!   `focus_time = reading + browsing + watching + other_time` exactly (up to rounding).
//! * A gap between samples longer than [`ActivityConfig::max_gap_ms`], and a run of samples
//!   without a gaze point (face present, eyes open) that lasts that long, count as
//!   `no_data_time`, not focus. Shorter dropouts keep the current label.
//! * Eyes closed up to [`ActivityConfig::closed_min_ms`] is a blink and stays focused;
//!   longer closures, and no face / head turned away / gaze off screen for at least
//!   [`ActivityConfig::away_min_ms`], are distraction **from their start**.
//! * Out-of-order, duplicate or non-finite timestamps are **rejected** (they change nothing
//!   and are counted in [`LiveStatus::rejected`]); the batch
//!   [`crate::activity::classify_trace`] reorders instead.
//! * The report also says where the gaze rested ([`GazeHeatmap`]: seconds per cell of a
//!   fixed grid over the screen, or over the gaze-ratio plane without calibration, by the
//!   same sample-and-hold rule) and when each blink began
//!   ([`SessionReport::blink_onsets_ms`]). Both cost O(1) per frame; the grid is allocated
//!   on first use.

use serde::{Deserialize, Serialize};

use crate::activity::{ActivityClassifier, ActivityConfig, ActivityTotals, GazeSample};
use crate::error::{Error, Result};
use crate::result::FrameResult;

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

/// Columns of the screen-plane heatmap grid (16:9 cells on a 16:9 screen).
pub const HEATMAP_SCREEN_COLS: usize = 32;
/// Rows of the screen-plane heatmap grid.
pub const HEATMAP_SCREEN_ROWS: usize = 18;
/// Columns (and rows) of the gaze-ratio-plane heatmap grid.
pub const HEATMAP_RATIO_CELLS: usize = 32;
/// Half-width of the gaze-ratio plane the heatmap covers: ratios in ±this. Looking at a
/// screen moves the ratios by a few tenths at most; beyond counts as outside.
pub const HEATMAP_RATIO_EXTENT: f64 = 0.5;

/// Which plane a [`GazeHeatmap`] covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeatmapPlane {
    /// Screen pixels (`x` right, `y` down): the calibrated screen point
    /// (`gaze.screen`), or the sample's pixel position for [`Session::push_sample`].
    #[default]
    Screen,
    /// Gaze ratios of an uncalibrated session: `x` = `gaze.horizontal` (−1 image-left … 1
    /// image-right, i.e. 1 = toward the **user's left**), `y` = `gaze.vertical` (−1 up …
    /// 1 down).
    Ratio,
}

/// Where the gaze rested during a session: seconds of gaze per cell of a fixed grid.
///
/// Each accepted sample with a gaze point (eyes open) holds its cell until the next
/// accepted sample (the same sample-and-hold rule as the time accounting; intervals longer
/// than [`ActivityConfig::max_gap_ms`] count nowhere). `cells` is row-major, row 0 at
/// `y_min` (the top), column 0 at `x_min`; a cell covers
/// `(x_max − x_min) / cols` × `(y_max − y_min) / rows` plane units.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GazeHeatmap {
    /// The plane the grid covers.
    pub plane: HeatmapPlane,
    /// Left edge of the grid (pixels or ratio).
    pub x_min: f64,
    /// Right edge.
    pub x_max: f64,
    /// Top edge.
    pub y_min: f64,
    /// Bottom edge.
    pub y_max: f64,
    /// Number of columns.
    pub cols: u32,
    /// Number of rows.
    pub rows: u32,
    /// Seconds per cell, `rows × cols` values, row-major.
    pub cells: Vec<f64>,
    /// Seconds with the gaze outside the grid (off screen / beyond ±[`HEATMAP_RATIO_EXTENT`]).
    pub outside: f64,
}

impl GazeHeatmap {
    /// Seconds in the grid plus outside it.
    pub fn total(&self) -> f64 {
        self.cells.iter().sum::<f64>() + self.outside
    }

    /// Seconds in cell (`col`, `row`), 0 outside the grid.
    pub fn cell(&self, col: usize, row: usize) -> f64 {
        if col >= self.cols as usize || row >= self.rows as usize {
            return 0.0;
        }
        self.cells
            .get(row * self.cols as usize + col)
            .copied()
            .unwrap_or(0.0)
    }
}

/// Accumulates one plane's grid inside a [`Session`] (allocated on first use).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
struct HeatGrid {
    /// Seconds per cell (empty until the first sample on this plane).
    cells: Vec<f64>,
    /// Seconds outside the grid.
    outside: f64,
}

impl HeatGrid {
    fn add(&mut self, cell: Option<usize>, len: usize, secs: f64) {
        match cell {
            Some(i) => {
                if self.cells.len() != len {
                    self.cells = vec![0.0; len];
                }
                if let Some(c) = self.cells.get_mut(i) {
                    *c += secs;
                }
            }
            None => self.outside += secs,
        }
    }

    fn total(&self) -> f64 {
        self.cells.iter().sum::<f64>() + self.outside
    }
}

/// Grid cell of a point on a plane of `[x0, x1] × [y0, y1]`; `None` outside (or non-finite).
fn grid_cell(x: f64, y: f64, extent: [f64; 4], cols: usize, rows: usize) -> Option<usize> {
    let [x0, x1, y0, y1] = extent;
    let fx = (x - x0) / (x1 - x0);
    let fy = (y - y0) / (y1 - y0);
    if !(fx.is_finite() && fy.is_finite() && (0.0..=1.0).contains(&fx) && (0.0..=1.0).contains(&fy))
    {
        return None;
    }
    // The right / bottom edge belongs to the last cell.
    let c = ((fx * cols as f64) as usize).min(cols - 1);
    let r = ((fy * rows as f64) as usize).min(rows - 1);
    Some(r * cols + c)
}

const RATIO_EXTENT: [f64; 4] = [
    -HEATMAP_RATIO_EXTENT,
    HEATMAP_RATIO_EXTENT,
    -HEATMAP_RATIO_EXTENT,
    HEATMAP_RATIO_EXTENT,
];

/// Where one accepted sample's gaze is, for the heatmap.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct HeatPoint {
    plane: HeatmapPlane,
    /// Cell index, `None` outside the grid.
    cell: Option<usize>,
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
    /// Part of `other_time` during which no activity was confident (the activity model had
    /// enough data but no class reached [`ActivityConfig::min_score`]). Absent (0) in reports
    /// from before this field existed.
    #[serde(default)]
    pub uncertain_time: f64,
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
    /// Where the gaze rested: over the screen when the session's gaze points were mostly
    /// calibrated screen points (or pushed samples), else over the gaze-ratio plane; `None`
    /// without any gaze point (then omitted from JSON). Absent in reports from before this
    /// field existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gaze_heatmap: Option<GazeHeatmap>,
    /// Onset of every counted blink (ms, the samples' clock, ascending; the blink event's
    /// `start_ms`, or the first closed sample for [`Session::push_sample`] input). Absent in
    /// reports from before this field existed.
    #[serde(default)]
    pub blink_onsets_ms: Vec<f64>,
}

/// Live status after one frame or sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LiveStatus {
    /// Time of the frame (ms).
    pub t_ms: f64,
    /// False when the frame was rejected (non-finite, duplicate or out-of-order timestamp).
    pub accepted: bool,
    /// Current activity (`none` while distracted or without data).
    pub activity: Activity,
    /// Current attention.
    pub attention: Attention,
    /// Running totals in seconds.
    pub totals: ActivityTotals,
    /// Seconds since the first accepted frame.
    pub duration: f64,
    /// Blinks so far.
    pub blink_count: u32,
    /// Frames rejected so far.
    pub rejected: u64,
}

/// Format version of [`SessionSnapshot`].
pub const SNAPSHOT_VERSION: u32 = 1;

/// A checkpoint of a live [`Session`] (serde; store it as JSON and give it back to
/// [`Session::restore`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionSnapshot {
    /// Format version ([`SNAPSHOT_VERSION`]).
    pub version: u32,
    /// The session state.
    pub session: Session,
}

/// One session's accounting: frames in, live status and [`SessionReport`] out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    session_id: String,
    classifier: ActivityClassifier,
    /// Blinks from `FrameResult::blink.event`.
    frame_blinks: u32,
    /// End time of the last counted blink event (dedupe).
    last_blink_end: Option<f64>,
    /// Blinks found by the classifier in `push_sample` input (eyes_closed runs).
    sample_blinks: u32,
    /// Seconds with a face present.
    face_secs: f64,
    /// Time and face presence of the last accepted sample.
    last: Option<(f64, bool)>,
    /// Heatmap over screen pixels.
    #[serde(default)]
    heat_screen: HeatGrid,
    /// Heatmap over gaze ratios.
    #[serde(default)]
    heat_ratio: HeatGrid,
    /// Gaze of the last accepted sample (it holds until the next one).
    #[serde(default)]
    heat_last: Option<HeatPoint>,
    /// Blink onsets (ms).
    #[serde(default)]
    blink_onsets: Vec<f64>,
}

impl Session {
    /// A new session, refusing an invalid `config` with the error of
    /// [`ActivityConfig::validate`].
    pub fn try_new(session_id: impl Into<String>, config: ActivityConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self::new(session_id, config))
    }

    /// A new session. Invalid config values are replaced by the defaults (use
    /// [`Session::try_new`] to get an error instead).
    pub fn new(session_id: impl Into<String>, config: ActivityConfig) -> Self {
        Session {
            session_id: session_id.into(),
            classifier: ActivityClassifier::new(config),
            frame_blinks: 0,
            last_blink_end: None,
            sample_blinks: 0,
            face_secs: 0.0,
            last: None,
            heat_screen: HeatGrid::default(),
            heat_ratio: HeatGrid::default(),
            heat_last: None,
            blink_onsets: Vec::new(),
        }
    }

    /// The session id.
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// The classifier (configuration, features, event statistics).
    pub fn classifier(&self) -> &ActivityClassifier {
        &self.classifier
    }

    /// Converts a tracker result into a gaze sample: the calibrated screen point when
    /// `gaze.screen` is set, otherwise the gaze ratios mapped with
    /// [`crate::activity::ScreenGeometry::ratios_to_px`]; evidence from `attention` (eyes
    /// closed also when `blink.closed`); invalid without gaze or with non-finite values.
    pub fn frame_to_sample(frame: &FrameResult, config: &ActivityConfig) -> GazeSample {
        let mut evidence = frame.attention;
        evidence.eyes_closed |= frame.blink.closed;
        let t = frame.timestamp_ms;
        let Some(g) = frame.gaze else {
            return GazeSample::invalid(t, evidence);
        };
        let (x, y) = match g.screen {
            Some(p) => (f64::from(p.x), f64::from(p.y)),
            None => config
                .geometry
                .ratios_to_px(f64::from(g.horizontal), f64::from(g.vertical)),
        };
        if x.is_finite() && y.is_finite() {
            GazeSample::new(t, x, y).with_evidence(evidence)
        } else {
            GazeSample::invalid(t, evidence)
        }
    }

    /// Pushes one tracker result (see [`Session::frame_to_sample`]); blinks are counted from
    /// `blink.event` (closures up to [`ActivityConfig::closed_min_ms`]).
    pub fn push_frame(&mut self, frame: &FrameResult) -> LiveStatus {
        let sample = Self::frame_to_sample(frame, self.classifier.config());
        let heat = if sample.valid && !sample.evidence.eyes_closed {
            match frame.gaze {
                Some(g) if g.screen.is_some() => Some(self.screen_point(sample.x, sample.y)),
                Some(g) => Some(HeatPoint {
                    plane: HeatmapPlane::Ratio,
                    cell: grid_cell(
                        f64::from(g.horizontal),
                        f64::from(g.vertical),
                        RATIO_EXTENT,
                        HEATMAP_RATIO_CELLS,
                        HEATMAP_RATIO_CELLS,
                    ),
                }),
                None => None,
            }
        } else {
            None
        };
        let status = self.push_inner(sample, heat);
        if status.accepted
            && let Some(ev) = frame.blink.event
            && ev.end_ms.is_finite()
            && ev.duration_ms.is_finite()
            && ev.duration_ms <= self.classifier.config().closed_min_ms
            && self.last_blink_end.is_none_or(|l| ev.end_ms > l)
        {
            self.frame_blinks = self.frame_blinks.saturating_add(1);
            self.last_blink_end = Some(ev.end_ms);
            let onset = if ev.start_ms.is_finite() {
                ev.start_ms
            } else {
                ev.end_ms - ev.duration_ms
            };
            self.blink_onsets.push(onset);
        }
        LiveStatus {
            blink_count: self.blink_count(),
            ..status
        }
    }

    /// Pushes one gaze sample. Blinks are counted from runs of `evidence.eyes_closed`
    /// shorter than [`ActivityConfig::closed_min_ms`].
    pub fn push_sample(&mut self, sample: GazeSample) -> LiveStatus {
        let before = self.classifier.closed_blinks();
        let heat = (sample.valid && !sample.evidence.eyes_closed)
            .then(|| self.screen_point(sample.x, sample.y));
        let status = self.push_inner(sample, heat);
        let new = self.classifier.closed_blinks().saturating_sub(before);
        if new > 0
            && let Some(t) = self.classifier.last_blink_start_ms()
        {
            self.blink_onsets.push(t);
        }
        self.sample_blinks = self
            .sample_blinks
            .saturating_add(u32::try_from(new).unwrap_or(u32::MAX));
        LiveStatus {
            blink_count: self.blink_count(),
            ..status
        }
    }

    fn screen_point(&self, x: f64, y: f64) -> HeatPoint {
        let g = &self.classifier.config().geometry;
        HeatPoint {
            plane: HeatmapPlane::Screen,
            cell: grid_cell(
                x,
                y,
                [0.0, g.width(), 0.0, g.height()],
                HEATMAP_SCREEN_COLS,
                HEATMAP_SCREEN_ROWS,
            ),
        }
    }

    fn push_inner(&mut self, sample: GazeSample, heat: Option<HeatPoint>) -> LiveStatus {
        let st = self.classifier.push(sample);
        if st.accepted {
            if let Some((t0, face)) = self.last {
                let dt = st.t_ms - t0;
                if dt <= self.classifier.config().max_gap_ms {
                    if face {
                        self.face_secs += dt / 1000.0;
                    }
                    match self.heat_last {
                        Some(HeatPoint {
                            plane: HeatmapPlane::Screen,
                            cell,
                        }) => self.heat_screen.add(
                            cell,
                            HEATMAP_SCREEN_COLS * HEATMAP_SCREEN_ROWS,
                            dt / 1000.0,
                        ),
                        Some(HeatPoint {
                            plane: HeatmapPlane::Ratio,
                            cell,
                        }) => self.heat_ratio.add(
                            cell,
                            HEATMAP_RATIO_CELLS * HEATMAP_RATIO_CELLS,
                            dt / 1000.0,
                        ),
                        None => {}
                    }
                }
            }
            self.last = Some((st.t_ms, sample.evidence.face_present));
            self.heat_last = heat;
        }
        LiveStatus {
            t_ms: st.t_ms,
            accepted: st.accepted,
            activity: st.activity,
            attention: st.attention,
            totals: st.totals,
            duration: st.totals.total_time(),
            blink_count: self.blink_count(),
            rejected: self.classifier.rejected(),
        }
    }

    /// Blinks counted so far.
    pub fn blink_count(&self) -> u32 {
        self.frame_blinks.saturating_add(self.sample_blinks)
    }

    fn build(&self, totals: &ActivityTotals, timeline: Vec<TimelineSegment>) -> SessionReport {
        let started_at = self.classifier.started_at().unwrap_or(0.0);
        let ended_at = self.classifier.ended_at().unwrap_or(started_at);
        let blink_count = self.blink_count();
        let face_min = self.face_secs / 60.0;
        SessionReport {
            session_id: self.session_id.clone(),
            focus_time: totals.focus_time(),
            distraction_time: totals.distraction_time,
            session_report: ActivityTimes {
                reading_time: totals.reading_time,
                browsing_time: totals.browsing_time,
                watching_time: totals.watching_time,
            },
            started_at,
            ended_at,
            duration: (ended_at - started_at) / 1000.0,
            other_time: totals.other_time,
            no_data_time: totals.no_data_time,
            uncertain_time: totals.uncertain_time,
            blink_count,
            blink_rate_per_min: if face_min > 0.0 {
                f64::from(blink_count) / face_min
            } else {
                0.0
            },
            fixation_count: u32::try_from(self.classifier.fixation_count()).unwrap_or(u32::MAX),
            mean_fixation_ms: self.classifier.mean_fixation_ms(),
            timeline,
            gaze_heatmap: self.heatmap(),
            blink_onsets_ms: self.blink_onsets.clone(),
        }
    }

    /// The heatmap of the plane that holds most of the gaze time (screen on a tie).
    fn heatmap(&self) -> Option<GazeHeatmap> {
        let (screen, ratio) = (self.heat_screen.total(), self.heat_ratio.total());
        let (grid, plane, extent, cols, rows) = if screen > 0.0 && screen >= ratio {
            let g = &self.classifier.config().geometry;
            (
                &self.heat_screen,
                HeatmapPlane::Screen,
                [0.0, g.width(), 0.0, g.height()],
                HEATMAP_SCREEN_COLS,
                HEATMAP_SCREEN_ROWS,
            )
        } else if ratio > 0.0 {
            (
                &self.heat_ratio,
                HeatmapPlane::Ratio,
                RATIO_EXTENT,
                HEATMAP_RATIO_CELLS,
                HEATMAP_RATIO_CELLS,
            )
        } else {
            return None;
        };
        let mut cells = grid.cells.clone();
        cells.resize(cols * rows, 0.0);
        Some(GazeHeatmap {
            plane,
            x_min: extent[0],
            x_max: extent[1],
            y_min: extent[2],
            y_max: extent[3],
            cols: cols as u32,
            rows: rows as u32,
            cells,
            outside: grid.outside,
        })
    }

    /// The report so far, as if the session ended now (the state is not changed; a
    /// looking-away stretch still shorter than its threshold counts as focus).
    pub fn report(&self) -> SessionReport {
        let (totals, timeline) = self.classifier.provisional();
        self.build(&totals, timeline)
    }

    /// Ends the session and returns the final report. Later pushes continue the accounting.
    pub fn finish(&mut self) -> SessionReport {
        let (totals, timeline) = self.classifier.finish();
        self.build(&totals, timeline)
    }

    /// A checkpoint of the complete live state.
    pub fn snapshot(&self) -> SessionSnapshot {
        SessionSnapshot {
            version: SNAPSHOT_VERSION,
            session: self.clone(),
        }
    }

    /// Resumes a session from a checkpoint. Continuing to push frames gives exactly the
    /// result an uninterrupted session would have given.
    pub fn restore(snapshot: SessionSnapshot) -> Result<Session> {
        if snapshot.version != SNAPSHOT_VERSION {
            return Err(Error::Activity(format!(
                "snapshot version {} is not supported (expected {SNAPSHOT_VERSION})",
                snapshot.version
            )));
        }
        snapshot.session.classifier.config().validate()?;
        Ok(snapshot.session)
    }

    /// The checkpoint as JSON.
    pub fn snapshot_json(&self) -> Result<String> {
        Ok(serde_json::to_string(&self.snapshot())?)
    }

    /// Resumes a session from [`Session::snapshot_json`] output.
    pub fn restore_json(json: &str) -> Result<Session> {
        Self::restore(serde_json::from_str(json)?)
    }
}
