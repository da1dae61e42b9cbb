//! `/calibration/*`: 9-point calibration. The browser shows each target, captures a few
//! frames while the user looks at it and posts them; the server tracks them, averages the
//! gaze features, fits a [`Calibration`] and stores it for the user's next sessions.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Json;
use axum::extract::State;
use gaze_core::{Calibration, CalibrationSample, GazeFeatures, Point, Tracker, TrackerConfig};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::live::{decode_base64_image, track_bytes};
use crate::routes::ApiJson;
use crate::state::SharedState;

/// Most frames per calibration point.
pub const MAX_FRAMES_PER_POINT: usize = 10;
/// Most points per calibration run.
pub const MAX_POINTS: usize = 32;

/// A calibration in progress (one per user).
pub struct CalibrationRun {
    id: String,
    screen: (f32, f32),
    tracker: Option<Tracker>,
    samples: Vec<CalibrationSample>,
    clock_ms: f64,
    started: Instant,
}

/// `POST /calibration/start` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CalibrationStart {
    /// Screen (viewport) width in pixels (100–16384).
    #[schema(minimum = 100, maximum = 16384)]
    pub screen_width: f32,
    /// Screen (viewport) height in pixels (100–16384).
    #[schema(minimum = 100, maximum = 16384)]
    pub screen_height: f32,
}

/// A screen point in pixels.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
pub struct TargetPoint {
    /// Horizontal pixel.
    pub x: f32,
    /// Vertical pixel.
    pub y: f32,
}

/// `POST /calibration/start` reply: the 9 targets to show, in order.
#[derive(Debug, Serialize, ToSchema)]
pub struct CalibrationStarted {
    /// Run id to pass to the next calls.
    pub calibration_id: String,
    /// Targets (10 % / 50 % / 90 % of each axis).
    pub points: Vec<TargetPoint>,
}

/// `POST /calibration/point` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CalibrationPoint {
    /// Run id.
    pub calibration_id: String,
    /// The target the user looked at.
    pub target: TargetPoint,
    /// 1–10 frames (data URLs or base64 JPEG/PNG) taken while looking at it.
    #[schema(min_items = 1, max_items = 10)]
    pub frames: Vec<String>,
}

/// `POST /calibration/point` reply.
#[derive(Debug, Serialize, ToSchema)]
pub struct CalibrationPointResult {
    /// Whether a sample was recorded (false when no frame had a usable gaze).
    pub accepted: bool,
    /// Frames in which a gaze was found.
    pub frames_with_gaze: usize,
    /// Samples recorded so far.
    pub samples: usize,
}

/// `POST /calibration/complete` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CalibrationComplete {
    /// Run id.
    pub calibration_id: String,
}

/// A stored calibration.
#[derive(Debug, Serialize, ToSchema)]
pub struct CalibrationView {
    /// Samples it was fitted from (0 when fetched later).
    pub samples: usize,
    /// The fitted model (gaze-core `Calibration`, serde JSON).
    #[schema(value_type = Object)]
    pub calibration: Calibration,
}

fn run_of(st: &SharedState, user: &str, id: &str) -> AppResult<Arc<Mutex<CalibrationRun>>> {
    let map = st.calibrations.lock().unwrap_or_else(|p| p.into_inner());
    let run = map
        .get(user)
        .cloned()
        .ok_or_else(|| AppError::NotFound("no calibration in progress".into()))?;
    let same = run.lock().map(|r| r.id == id).unwrap_or(false);
    if !same {
        return Err(AppError::NotFound(format!("calibration {id}")));
    }
    Ok(run)
}

/// Starts a calibration run (replacing any run in progress) and returns the 9 targets.
#[utoipa::path(post, path = "/calibration/start", tag = "calibration",
    request_body = CalibrationStart,
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = CalibrationStarted), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn start(
    State(st): State<SharedState>,
    auth: AuthUser,
    ApiJson(req): ApiJson<CalibrationStart>,
) -> AppResult<Json<CalibrationStarted>> {
    let (w, h) = (req.screen_width, req.screen_height);
    if !(w.is_finite()
        && h.is_finite()
        && (100.0..=16384.0).contains(&w)
        && (100.0..=16384.0).contains(&h))
    {
        return Err(AppError::BadRequest(
            "screen_width and screen_height must be 100..16384".into(),
        ));
    }
    let id = format!("cal-{:016x}", rand::random::<u64>());
    let mut points = Vec::with_capacity(9);
    for fy in [0.1f32, 0.5, 0.9] {
        for fx in [0.1f32, 0.5, 0.9] {
            points.push(TargetPoint {
                x: fx * w,
                y: fy * h,
            });
        }
    }
    let run = CalibrationRun {
        id: id.clone(),
        screen: (w, h),
        tracker: None,
        samples: Vec::new(),
        clock_ms: 0.0,
        started: Instant::now(),
    };
    let mut map = st.calibrations.lock().unwrap_or_else(|p| p.into_inner());
    // Drop abandoned runs older than an hour.
    map.retain(|_, r| {
        r.lock()
            .map(|r| r.started.elapsed().as_secs() < 3600)
            .unwrap_or(false)
    });
    map.insert(auth.user.id.clone(), Arc::new(Mutex::new(run)));
    Ok(Json(CalibrationStarted {
        calibration_id: id,
        points,
    }))
}

/// Records one target: tracks the frames and stores their mean gaze features.
#[utoipa::path(post, path = "/calibration/point", tag = "calibration",
    request_body = CalibrationPoint,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = CalibrationPointResult),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, description = "Unknown run", body = ErrorBody),
        (status = 413, body = ErrorBody)
    ))]
pub async fn point(
    State(st): State<SharedState>,
    auth: AuthUser,
    ApiJson(req): ApiJson<CalibrationPoint>,
) -> AppResult<Json<CalibrationPointResult>> {
    if req.frames.is_empty() || req.frames.len() > MAX_FRAMES_PER_POINT {
        return Err(AppError::BadRequest(format!(
            "send 1..{MAX_FRAMES_PER_POINT} frames per point"
        )));
    }
    let (tx, ty) = (req.target.x, req.target.y);
    if !(tx.is_finite() && ty.is_finite()) {
        return Err(AppError::BadRequest("target must be finite".into()));
    }
    let run = run_of(&st, &auth.user.id, &req.calibration_id)?;
    let limits = st.frame_limits();
    let mut decoded = Vec::with_capacity(req.frames.len());
    for f in &req.frames {
        decoded.push(decode_base64_image(f, limits.max_bytes)?);
    }
    let out = st
        .workers
        .run(move || -> AppResult<CalibrationPointResult> {
            let mut r = run.lock().unwrap_or_else(|p| p.into_inner());
            if r.samples.len() >= MAX_POINTS {
                return Err(AppError::BadRequest(format!("at most {MAX_POINTS} points")));
            }
            if r.tracker.is_none() {
                r.tracker = Some(
                    Tracker::new(TrackerConfig::default())
                        .map_err(|e| AppError::Internal(format!("cannot create tracker: {e}")))?,
                );
            }
            let mut feats: Vec<GazeFeatures> = Vec::new();
            for bytes in &decoded {
                r.clock_ms += 66.0;
                let ts = r.clock_ms;
                let tracker = r
                    .tracker
                    .as_mut()
                    .ok_or_else(|| AppError::Internal("tracker missing".into()))?;
                let res = track_bytes(tracker, bytes, limits, ts)?;
                if let Some(f) = GazeFeatures::from_result(&res) {
                    feats.push(f);
                }
            }
            let n = feats.len();
            if n > 0 {
                let k = n as f64;
                let mean = feats
                    .iter()
                    .fold(GazeFeatures::default(), |a, f| GazeFeatures {
                        yaw_deg: a.yaw_deg + f.yaw_deg / k,
                        pitch_deg: a.pitch_deg + f.pitch_deg / k,
                        horizontal: a.horizontal + f.horizontal / k,
                        vertical: a.vertical + f.vertical / k,
                        head_yaw_deg: a.head_yaw_deg + f.head_yaw_deg / k,
                        head_pitch_deg: a.head_pitch_deg + f.head_pitch_deg / k,
                    });
                r.samples.push(CalibrationSample {
                    features: mean,
                    target: Point::new(tx, ty),
                });
            }
            Ok(CalibrationPointResult {
                accepted: n > 0,
                frames_with_gaze: n,
                samples: r.samples.len(),
            })
        })
        .await??;
    Ok(Json(out))
}

/// Fits the calibration from the recorded points and stores it for the user.
#[utoipa::path(post, path = "/calibration/complete", tag = "calibration",
    request_body = CalibrationComplete,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = CalibrationView),
        (status = 400, description = "Too few usable points", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)
    ))]
pub async fn complete(
    State(st): State<SharedState>,
    auth: AuthUser,
    ApiJson(req): ApiJson<CalibrationComplete>,
) -> AppResult<Json<CalibrationView>> {
    let run = run_of(&st, &auth.user.id, &req.calibration_id)?;
    let (samples, screen) = {
        let r = run.lock().unwrap_or_else(|p| p.into_inner());
        (r.samples.clone(), r.screen)
    };
    let cal = Calibration::fit(&samples, screen.0, screen.1)?;
    st.store.set_calibration(&auth.user.id, &cal).await?;
    st.calibrations
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&auth.user.id);
    tracing::info!(user = %auth.user.id, samples = samples.len(), "calibration stored");
    Ok(Json(CalibrationView {
        samples: samples.len(),
        calibration: cal,
    }))
}

/// The caller's stored calibration (404 if never calibrated).
#[utoipa::path(get, path = "/calibration", tag = "calibration",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = CalibrationView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_calibration(
    State(st): State<SharedState>,
    auth: AuthUser,
) -> AppResult<Json<CalibrationView>> {
    let cal = st
        .store
        .get_calibration(&auth.user.id)
        .await?
        .ok_or_else(|| AppError::NotFound("no calibration stored".into()))?;
    Ok(Json(CalibrationView {
        samples: 0,
        calibration: cal,
    }))
}
