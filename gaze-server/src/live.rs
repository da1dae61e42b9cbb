//! Live sessions on this instance: the per-session engine (tracker + accounting), frame
//! processing off the async runtime, checkpoints, and finalisation.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use base64::Engine as _;
use gaze_core::{
    Calibration, Frame, FrameMessage, FrameResult, PixelFormat, SessionReport, Tracker,
    TrackerConfig,
};
use gaze_store::{
    Checkpoint, CheckpointOutcome, LeaseAcquire, LeaseRenewal, LeaseRequest,
    MAX_SEGMENTS_PER_CHECKPOINT, StoreError,
};
use serde::Serialize;
use tokio::sync::{mpsc, watch};

use crate::accounting::{LiveAccount, LiveStatus};
use crate::error::{AppError, AppResult};
use crate::state::SharedState;

/// Encoded image bytes of one frame, as received.
#[derive(Debug)]
pub enum FramePayload {
    /// A binary WebSocket message: JPEG or PNG bytes.
    Encoded(Bytes),
    /// A `data:image/...;base64,` URL or bare base64 (the original client's `image` field).
    Base64(String),
}

/// One frame to process.
#[derive(Debug)]
pub struct FrameInput {
    /// Image bytes.
    pub payload: FramePayload,
    /// Capture time (ms; the client's clock when given, else the server's).
    pub timestamp_ms: f64,
}

/// The single pending-frame slot of a track connection: a new frame replaces the waiting
/// one (latest wins), so a connection holds at most one frame besides the one in work.
#[derive(Debug, Default)]
pub struct FrameSlot {
    frame: Mutex<Option<FrameInput>>,
    dropped: AtomicU64,
}

impl FrameSlot {
    /// Stores `f`; returns true when it replaced (dropped) a waiting frame.
    pub fn put(&self, f: FrameInput) -> bool {
        let replaced = lock(&self.frame).replace(f).is_some();
        if replaced {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        replaced
    }
    /// Takes the waiting frame.
    pub fn take(&self) -> Option<FrameInput> {
        lock(&self.frame).take()
    }
    /// True when no frame waits.
    pub fn is_empty(&self) -> bool {
        lock(&self.frame).is_none()
    }
    /// Frames dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Size limits applied to every frame.
#[derive(Debug, Clone, Copy)]
pub struct FrameLimits {
    /// Largest encoded frame (bytes).
    pub max_bytes: usize,
    /// Largest width or height (pixels).
    pub max_side: u32,
}

/// Decodes base64 (optionally inside a data URL) with a size check before decoding.
pub fn decode_base64_image(s: &str, max_bytes: usize) -> AppResult<Vec<u8>> {
    let b64 = match s.split_once(',') {
        Some((head, rest)) if head.starts_with("data:") => {
            if !head.ends_with(";base64") {
                return Err(AppError::BadRequest(
                    "image data URL must be base64-encoded".into(),
                ));
            }
            rest
        }
        _ => s,
    };
    let b64 = b64.trim();
    if b64.len() / 4 * 3 > max_bytes.saturating_add(3) {
        return Err(AppError::TooLarge(format!(
            "frame larger than {max_bytes} bytes"
        )));
    }
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(b64))
        .map_err(|e| AppError::BadRequest(format!("image is not valid base64: {e}")))
}

/// Decodes JPEG/PNG bytes to packed RGB, refusing oversized data before decoding pixels.
pub fn decode_image(bytes: &[u8], limits: FrameLimits) -> AppResult<image::RgbImage> {
    let mut buf = Vec::new();
    let (w, h) = decode_image_into(bytes, limits, &mut buf)?;
    image::RgbImage::from_raw(w, h, buf)
        .ok_or_else(|| AppError::Internal("decoded frame has the wrong size".into()))
}

/// [`decode_image`] into `buf` (replaced by the packed RGB pixels, `3 × width × height`
/// bytes), returning the frame's width and height. A caller that keeps `buf` between frames
/// decodes without allocating (or zeroing) a new frame buffer each time.
pub fn decode_image_into(
    bytes: &[u8],
    limits: FrameLimits,
    buf: &mut Vec<u8>,
) -> AppResult<(u32, u32)> {
    use image::ImageDecoder as _;
    if bytes.len() > limits.max_bytes {
        return Err(AppError::TooLarge(format!(
            "frame of {} bytes exceeds the limit of {} bytes",
            bytes.len(),
            limits.max_bytes
        )));
    }
    let format = image::guess_format(bytes)
        .map_err(|_| AppError::BadRequest("frame is not a JPEG or PNG image".into()))?;
    if !matches!(format, image::ImageFormat::Jpeg | image::ImageFormat::Png) {
        return Err(AppError::BadRequest(
            "frame is not a JPEG or PNG image".into(),
        ));
    }
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), format);
    let mut lim = image::Limits::default();
    lim.max_image_width = Some(limits.max_side);
    lim.max_image_height = Some(limits.max_side);
    lim.max_alloc = Some(256 * 1024 * 1024);
    reader.limits(lim);
    let map_err = |e: image::ImageError| match e {
        image::ImageError::Limits(_) => {
            AppError::TooLarge(format!("frame larger than {0}x{0} pixels", limits.max_side))
        }
        other => AppError::BadRequest(format!("cannot decode frame: {other}")),
    };
    let decoder = reader.into_decoder().map_err(map_err)?;
    let (w, h) = decoder.dimensions();
    if decoder.color_type() == image::ColorType::Rgb8 {
        // The common case (colour JPEG, RGB PNG): straight into the caller's buffer.
        let n = usize::try_from(decoder.total_bytes())
            .map_err(|_| AppError::TooLarge("frame too large".into()))?;
        buf.resize(n, 0);
        decoder.read_image(buf).map_err(map_err)?;
    } else {
        // Grey, RGBA, 16-bit: decode, then convert.
        let img = image::DynamicImage::from_decoder(decoder).map_err(map_err)?;
        *buf = img.into_rgb8().into_raw();
    }
    Ok((w, h))
}

thread_local! {
    /// The decoded frame buffer of this (worker) thread, reused frame after frame.
    static FRAME_PIXELS: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` on `bytes` decoded to a packed RGB [`Frame`], in this thread's reused buffer.
fn with_decoded<T>(
    bytes: &[u8],
    limits: FrameLimits,
    timestamp_ms: f64,
    f: impl FnOnce(&Frame<'_>) -> AppResult<T>,
) -> AppResult<T> {
    FRAME_PIXELS.with(|cell| {
        // A re-entrant call (none today) would get its own buffer instead of a panic.
        let mut local = Vec::new();
        let mut guard = cell.try_borrow_mut();
        let buf = match guard.as_mut() {
            Ok(b) => &mut **b,
            Err(_) => &mut local,
        };
        let (w, h) = decode_image_into(bytes, limits, buf)?;
        let frame = Frame::packed(buf, w, h, PixelFormat::Rgb8, timestamp_ms)?;
        f(&frame)
    })
}

/// Runs a tracker on decoded frame bytes.
pub fn track_bytes(
    tracker: &mut Tracker,
    bytes: &[u8],
    limits: FrameLimits,
    timestamp_ms: f64,
) -> AppResult<FrameResult> {
    with_decoded(bytes, limits, timestamp_ms, |frame| {
        Ok(tracker.process(frame)?)
    })
}

/// The per-frame reply on a track socket: the original client's shape (`gaze`, `face`)
/// plus direction, blink, head pose, screen, confidence, activity, attention and totals.
#[derive(Debug, Clone, Serialize)]
pub struct TrackMessage {
    /// Gaze-core's wire message (original shape plus richer fields).
    #[serde(flatten)]
    pub frame: FrameMessage,
    /// Live activity, attention and running totals.
    #[serde(flatten)]
    pub status: LiveStatus,
    /// Frame width (pixels).
    pub width: u32,
    /// Frame height (pixels).
    pub height: u32,
    /// Session id.
    pub session_id: String,
    /// Frames processed in this session.
    pub frame_index: u64,
    /// Frames dropped so far on this connection (a newer frame arrived first).
    pub dropped: u64,
    /// Decode + track + account time (ms).
    pub processing_ms: f64,
}

struct Engine {
    tracker: Option<Tracker>,
    account: LiveAccount,
    calibration: Option<Calibration>,
    final_report: Option<SessionReport>,
    seq: u64,
    last_checkpoint: Instant,
    sent_segments: usize,
    /// Fencing token of this instance's lease on the session.
    lease_token: u64,
    /// Set when the session left this instance (handed over or fenced): no more frames.
    closed: bool,
    /// Set while a restore from a checkpoint is not confirmed by a client (see
    /// [`PendingResume`]).
    pending: Option<PendingResume>,
}

/// Replies a track socket must have delivered after its `resumed` event before the restore
/// counts as confirmed.
const CONFIRMING_REPLIES: u32 = 2;

/// A restore from a checkpoint that no client has confirmed yet.
///
/// Until a track socket that was sent the `resumed` event has delivered
/// [`CONFIRMING_REPLIES`] frame replies, the frames accounted are provisional: no checkpoint
/// is cut and their replies are held back from the live feed. When another socket attaches
/// meanwhile (the client gave up on the first one, e.g. while the takeover waited for the
/// dead holder's lease, and the reply to a frame it had sent went nowhere) or the session is
/// handed over, the provisional frames are discarded and the accounting restarts from the
/// checkpoint, so every client that attaches is told where the accounting resumed and its
/// next reply is numbered right after it. Discarded frames are time lost, never counted twice.
struct PendingResume {
    /// Where the accounting resumed: sent to every socket that attaches meanwhile.
    info: ResumeInfo,
    /// The restored accounting (what a rollback returns to).
    account: LiveAccount,
    /// Attach number of the socket whose frames are accounted (0: none attached yet).
    socket: u64,
    /// Frame replies delivered on that socket.
    replies: u32,
    /// Its replies held back from the live feed, published on confirmation.
    held: Vec<String>,
}

/// Where the accounting of a session resumed after it moved to this instance (or this
/// instance restarted): sent to the client as `{"event": "resumed", ...}`.
#[derive(Debug, Clone, Serialize)]
pub struct ResumeInfo {
    /// Sequence number of the checkpoint the accounting resumed from (0: none).
    pub checkpoint_seq: u64,
    /// When that checkpoint was cut (server clock, epoch ms).
    pub checkpoint_at_ms: Option<i64>,
    /// Frames accounted up to the checkpoint; the next reply has `frame_index + 1`.
    pub frame_index: u64,
    /// Timestamp (ms, the frames' clock) of the last frame accounted at the checkpoint:
    /// frames after it that the previous instance processed were lost.
    pub resumed_at_ms: f64,
    /// Running totals at the checkpoint.
    pub totals: crate::accounting::LiveTotals,
    /// The instance now serving the session.
    pub instance: String,
}

/// One live session hosted by this instance.
pub struct LiveSession {
    /// Session id.
    pub id: String,
    /// Owner's user id.
    pub owner: String,
    engine: Arc<Mutex<Engine>>,
    ended: AtomicBool,
    attached: AtomicU32,
    generation: AtomicU64,
    end_tx: watch::Sender<Option<Arc<SessionReport>>>,
    finalize_lock: tokio::sync::Mutex<Option<SessionReport>>,
    /// True while a checkpoint is being written (or retried): no new one is cut meanwhile,
    /// so the segments it carries are delivered exactly once and in order.
    checkpoint_inflight: AtomicBool,
    /// True while a failed finalisation is queued for retry.
    end_queued: AtomicBool,
    /// Live-feed messages to publish, in order, off the frame path (see [`publish`]).
    publisher: OnceLock<mpsc::Sender<String>>,
    /// Fencing token of this instance's lease.
    lease_token: AtomicU64,
    /// Set (with a reason) when the session left this instance: its sockets close with
    /// [`CLOSE_MOVED`] and the client reconnects (to any instance).
    moved_tx: watch::Sender<Option<&'static str>>,
    /// Set with [`Engine::pending`] (a restore no client confirmed yet), so that the frame
    /// path checks it without taking the engine lock — which a frame being tracked holds for
    /// milliseconds, and async code must not wait for.
    resume_pending: AtomicBool,
}

/// WebSocket close code sent when a session moved to another instance: reconnect.
pub const CLOSE_MOVED: u16 = 4001;

impl std::fmt::Debug for LiveSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSession")
            .field("id", &self.id)
            .field("owner", &self.owner)
            .finish()
    }
}

impl LiveSession {
    /// A new live session; the tracker is created on the first frame.
    pub fn new(
        id: &str,
        owner: &str,
        calibration: Option<Calibration>,
        screen: Option<(f64, f64)>,
    ) -> Arc<Self> {
        Self::with_account(id, owner, calibration, LiveAccount::new(id, screen), 0)
    }

    /// A session resumed from a checkpoint (`seq` is the last stored checkpoint's).
    pub fn with_account(
        id: &str,
        owner: &str,
        calibration: Option<Calibration>,
        account: LiveAccount,
        seq: u64,
    ) -> Arc<Self> {
        Self::leased(id, owner, calibration, account, seq, 0)
    }

    /// A session owned through a lease with fencing token `lease_token`, its accounting
    /// resumed from `account` (`seq` = the last stored checkpoint's).
    pub fn leased(
        id: &str,
        owner: &str,
        calibration: Option<Calibration>,
        account: LiveAccount,
        seq: u64,
        lease_token: u64,
    ) -> Arc<Self> {
        let sent_segments = account.report().timeline.len().saturating_sub(1);
        let (end_tx, _) = watch::channel(None);
        Arc::new(LiveSession {
            id: id.to_string(),
            owner: owner.to_string(),
            engine: Arc::new(Mutex::new(Engine {
                tracker: None,
                account,
                calibration,
                final_report: None,
                seq,
                last_checkpoint: Instant::now(),
                sent_segments,
                lease_token,
                closed: false,
                pending: None,
            })),
            ended: AtomicBool::new(false),
            attached: AtomicU32::new(0),
            generation: AtomicU64::new(0),
            end_tx,
            finalize_lock: tokio::sync::Mutex::new(None),
            checkpoint_inflight: AtomicBool::new(false),
            end_queued: AtomicBool::new(false),
            publisher: OnceLock::new(),
            lease_token: AtomicU64::new(lease_token),
            moved_tx: watch::channel(None).0,
            resume_pending: AtomicBool::new(false),
        })
    }

    /// This instance's fencing token for the session.
    pub fn lease_token(&self) -> u64 {
        self.lease_token.load(Ordering::SeqCst)
    }

    /// Changes to `Some(reason)` when the session leaves this instance.
    pub fn subscribe_moved(&self) -> watch::Receiver<Option<&'static str>> {
        self.moved_tx.subscribe()
    }

    /// True once the session left this instance.
    pub fn has_moved(&self) -> bool {
        self.moved_tx.borrow().is_some()
    }

    /// Where the accounting resumed, for track socket number `socket` (from
    /// [`LiveSession::attach`]) when this instance restored the session from a checkpoint and
    /// no client has confirmed it yet: every socket attaching until then gets it, and frames
    /// accounted provisionally for an earlier socket are discarded (see `PendingResume`).
    pub fn resume_for(&self, socket: u64) -> Option<ResumeInfo> {
        if !self.resume_pending.load(Ordering::SeqCst) {
            return None;
        }
        let mut guard = lock(&self.engine);
        let e = &mut *guard;
        let p = e.pending.as_mut()?;
        if e.final_report.is_some() || e.closed {
            return None;
        }
        if p.socket != 0 {
            // An earlier socket's frames were provisional: discard them.
            let discarded = e.account.frames().saturating_sub(p.account.frames());
            e.account = p.account.clone();
            tracing::info!(session = %self.id, socket, discarded, "a new socket attached before the restore was confirmed; resuming from the checkpoint again");
        }
        p.socket = socket;
        p.replies = 0;
        p.held.clear();
        Some(p.info.clone())
    }

    /// Frames accounted so far.
    pub fn frames(&self) -> u64 {
        lock(&self.engine).account.frames()
    }

    /// True once the session has been finalised (or is being finalised).
    pub fn is_ended(&self) -> bool {
        self.ended.load(Ordering::SeqCst)
    }

    /// Resolves when the session ends, with its final report.
    pub fn subscribe_end(&self) -> watch::Receiver<Option<Arc<SessionReport>>> {
        self.end_tx.subscribe()
    }

    /// Registers a tracking connection; returns its attach number (1, 2, ...).
    pub fn attach(&self) -> u64 {
        self.attached.fetch_add(1, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Creates the tracker ahead of the first frame (loading the models takes a while), on
    /// the blocking pool.
    pub fn prepare(self: &Arc<Self>) {
        let engine = self.engine.clone();
        tokio::task::spawn_blocking(move || {
            {
                let e = lock(&engine);
                if e.tracker.is_some() || e.final_report.is_some() {
                    return;
                }
            }
            // Created without the engine lock: readers of the session (reports, resume
            // checks) do not wait for the model loading.
            match new_tracker() {
                Ok(mut t) => {
                    let mut e = lock(&engine);
                    if e.tracker.is_none() && e.final_report.is_none() {
                        t.set_calibration(e.calibration.clone());
                        e.tracker = Some(t);
                    }
                }
                Err(err) => tracing::warn!(error = %err, "cannot create tracker"),
            }
        });
    }

    /// Marks a restore from a checkpoint that a client must confirm (see [`PendingResume`]).
    fn set_pending(&self, p: PendingResume) {
        lock(&self.engine).pending = Some(p);
        self.resume_pending.store(true, Ordering::SeqCst);
    }

    /// The running report (without ending the session).
    pub fn running_report(&self) -> SessionReport {
        let e = lock(&self.engine);
        e.final_report.clone().unwrap_or_else(|| e.account.report())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Live sessions of this instance by id.
#[derive(Debug, Default)]
pub struct LiveRegistry {
    map: Mutex<HashMap<String, Arc<LiveSession>>>,
}

impl LiveRegistry {
    /// The live session `id`, if hosted here.
    pub fn get(&self, id: &str) -> Option<Arc<LiveSession>> {
        lock(&self.map).get(id).cloned()
    }
    /// Adds a session.
    pub fn insert(&self, s: Arc<LiveSession>) {
        lock(&self.map).insert(s.id.clone(), s);
    }
    /// Removes a session.
    pub fn remove(&self, id: &str) {
        lock(&self.map).remove(id);
    }
    /// Number of live sessions.
    pub fn len(&self) -> usize {
        lock(&self.map).len()
    }
    /// True when no session is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Every live session.
    pub fn all(&self) -> Vec<Arc<LiveSession>> {
        lock(&self.map).values().cloned().collect()
    }
    /// The newest live session of `owner`, if any.
    pub fn latest_of(&self, owner: &str) -> Option<Arc<LiveSession>> {
        lock(&self.map)
            .values()
            .filter(|s| s.owner == owner && !s.is_ended())
            .max_by(|a, b| a.id.cmp(&b.id))
            .cloned()
    }
}

/// A tracker with the default configuration (the networks are compiled once per process
/// and shared, so this is quick after the first).
fn new_tracker() -> AppResult<Tracker> {
    let t0 = Instant::now();
    let t = Tracker::new(TrackerConfig::default())
        .map_err(|err| AppError::Internal(format!("cannot create tracker: {err}")))?;
    tracing::debug!(
        ms = t0.elapsed().as_secs_f64() * 1000.0,
        engine = t.engine().name(),
        "tracker created"
    );
    Ok(t)
}

/// Loads the networks and compiles one copy of each per worker (OpenVINO), so that the
/// first sessions do not wait for compilations; logs the engine and how long it took.
pub fn warm_up_networks(workers: usize) {
    let t0 = Instant::now();
    let engine = match Tracker::new(TrackerConfig::default()) {
        Ok(t) => t.engine(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot load the tracking networks");
            return;
        }
    };
    if let Err(e) = gaze_core::inference::openvino_prepare_copies(workers) {
        tracing::warn!(error = %e, "cannot compile the networks for every worker");
    }
    tracing::info!(
        engine = engine.name(),
        ms = t0.elapsed().as_secs_f64() * 1000.0,
        copies = ?gaze_core::inference::openvino_compiled_copies(),
        "tracking networks ready"
    );
}

fn ensure_tracker(e: &mut Engine) -> AppResult<&mut Tracker> {
    if e.final_report.is_some() {
        return Err(AppError::Conflict("session has ended".into()));
    }
    if e.tracker.is_none() {
        let mut t = new_tracker()?;
        t.set_calibration(e.calibration.clone());
        e.tracker = Some(t);
    }
    e.tracker
        .as_mut()
        .ok_or_else(|| AppError::Internal("tracker missing".into()))
}

fn process_blocking(
    live: &LiveSession,
    input: FrameInput,
    limits: FrameLimits,
    checkpoint_every: Duration,
    dropped: u64,
    socket: u64,
) -> AppResult<(TrackMessage, Option<Checkpoint>, bool)> {
    let t0 = Instant::now();
    let owned;
    let bytes: &[u8] = match &input.payload {
        FramePayload::Encoded(b) => b,
        FramePayload::Base64(s) => {
            owned = decode_base64_image(s, limits.max_bytes)?;
            &owned
        }
    };
    with_decoded(bytes, limits, input.timestamp_ms, |frame| {
        track_decoded(live, frame, checkpoint_every, dropped, socket, t0)
    })
}

/// [`process_blocking`] once the frame is decoded: track, account, cut a checkpoint when due.
fn track_decoded(
    live: &LiveSession,
    frame: &Frame<'_>,
    checkpoint_every: Duration,
    dropped: u64,
    socket: u64,
    t0: Instant,
) -> AppResult<(TrackMessage, Option<Checkpoint>, bool)> {
    let (engine, session_id) = (&live.engine, live.id.as_str());
    let checkpoint_inflight = &live.checkpoint_inflight;
    let mut guard = lock(engine);
    let e = &mut *guard;
    if e.final_report.is_some() {
        return Err(AppError::Conflict("session has ended".into()));
    }
    if e.closed {
        return Err(AppError::Conflict(
            "the session moved to another server instance; reconnect".into(),
        ));
    }
    // After a restore, only the latest socket's frames count until a client confirmed it.
    let provisional = match &e.pending {
        None => false,
        Some(p) if p.socket == socket => true,
        Some(_) => {
            return Err(AppError::Conflict(
                "a newer connection resumed this session; this one no longer counts".into(),
            ));
        }
    };
    let tracker = ensure_tracker(e)?;
    let result = tracker.process(frame)?;
    let status = e.account.push(&result);
    // While the previous checkpoint is still being written (the store is slow or down) no
    // new one is cut: its segments stay unsent and go with the next checkpoint once the
    // pending one has landed. Provisional frames are never checkpointed (they may be
    // discarded).
    let checkpoint = if !provisional
        && e.last_checkpoint.elapsed() >= checkpoint_every
        && !checkpoint_inflight.swap(true, Ordering::SeqCst)
    {
        Some(cut_checkpoint(e))
    } else {
        None
    };
    let msg = TrackMessage {
        frame: FrameMessage::from(&result),
        status,
        width: frame.width(),
        height: frame.height(),
        session_id: session_id.to_string(),
        frame_index: e.account.frames(),
        dropped,
        processing_ms: t0.elapsed().as_secs_f64() * 1000.0,
    };
    Ok((msg, checkpoint, provisional))
}

/// Cuts the next checkpoint: running report, the timeline segments closed since the last
/// one, the accounting state. The caller holds the in-flight flag.
fn cut_checkpoint(e: &mut Engine) -> Checkpoint {
    e.last_checkpoint = Instant::now();
    e.seq += 1;
    let mut report = e.account.report();
    let timeline = std::mem::take(&mut report.timeline);
    // Segments before the last one are closed; the last may still grow.
    let closed = timeline.len().saturating_sub(1);
    let segments = timeline
        .get(e.sent_segments.min(closed)..closed)
        .map(|s| s.to_vec())
        .unwrap_or_default();
    e.sent_segments = closed.max(e.sent_segments);
    Checkpoint {
        seq: e.seq,
        prev_seq: e.seq - 1,
        replace_timeline: false,
        at_ms: now_ms() as i64,
        report,
        segments,
        state: e.account.snapshot(),
        lease_token: e.lease_token,
    }
}

/// Current wall-clock time, Unix epoch ms.
pub fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

/// Processes one frame on the worker pool and returns the JSON reply. Publishes the reply
/// to watchers and writes a checkpoint when one is due.
///
/// The frame is taken from `slot` only once a worker is free, so under load the freshest
/// frame is processed and the ones it replaced count as dropped. Returns `None` when the
/// slot was empty. `socket` is the track socket's attach number ([`LiveSession::attach`]);
/// after a restore, its replies reach the live feed once a client confirmed the restore
/// (see [`confirm_reply`]).
pub async fn process_frame(
    st: &SharedState,
    live: &Arc<LiveSession>,
    slot: &Arc<FrameSlot>,
    socket: u64,
) -> AppResult<Option<String>> {
    let live2 = live.clone();
    let slot = slot.clone();
    let limits = st.frame_limits();
    let every = Duration::from_secs(st.config.checkpoint_secs.max(1));
    let started = Instant::now();
    // Everything CPU-bound, the reply's JSON included, runs on the worker: the frame is taken
    // from the slot only when a worker starts on it (latest wins while it waited).
    let out = st
        .workers
        .run(move || -> AppResult<Option<Processed>> {
            let Some(input) = slot.take() else {
                return Ok(None);
            };
            let dropped = slot.dropped();
            let (msg, checkpoint, provisional) =
                process_blocking(&live2, input, limits, every, dropped, socket)?;
            let text = serde_json::to_string(&msg)
                .map_err(|e| AppError::Internal(format!("cannot serialise reply: {e}")));
            Ok(Some(Processed {
                text,
                checkpoint,
                provisional,
            }))
        })
        .await?;
    let p = match out {
        Ok(Some(p)) => p,
        Ok(None) => return Ok(None),
        Err(e) => {
            st.metrics.frames_rejected.fetch_add(1, Ordering::Relaxed);
            return Err(e);
        }
    };
    // First: a cut checkpoint must always be written (it holds the in-flight flag).
    if let Some(cp) = p.checkpoint {
        write_checkpoint(st, live, cp);
    }
    st.metrics
        .observe_processing(started.elapsed().as_secs_f64() * 1000.0);
    st.metrics.frames_processed.fetch_add(1, Ordering::Relaxed);
    let text = p.text?;
    if p.provisional {
        hold(st, live, socket, text.clone());
    } else {
        publish(st, live, text.clone());
    }
    Ok(Some(text))
}

/// A processed frame as the worker hands it back: the reply's JSON, a checkpoint to write
/// (if one was cut) and whether the frame is provisional (after a restore).
struct Processed {
    text: AppResult<String>,
    checkpoint: Option<Checkpoint>,
    provisional: bool,
}

/// Most provisional replies held back from the live feed per session.
const HELD_MAX: usize = 16;

/// Holds back a provisional reply of socket `socket` until the restore is confirmed
/// (dropped when a newer socket discarded its frame meanwhile; published at once when no
/// restore is pending any more, e.g. the session was finalised).
fn hold(st: &SharedState, live: &Arc<LiveSession>, socket: u64, text: String) {
    let mut e = lock(&live.engine);
    match e.pending.as_mut() {
        Some(p) if p.socket == socket => {
            if p.held.len() >= HELD_MAX {
                p.held.remove(0);
            }
            p.held.push(text);
        }
        Some(_) => {}
        None => {
            drop(e);
            publish(st, live, text);
        }
    }
}

/// Called after a frame reply was delivered on track socket `socket`: the
/// `CONFIRMING_REPLIES`-th one after its `resumed` event confirms the restore. The live
/// feed then gets the `resumed` event and the replies held back so far, and frames are
/// checkpointed again.
pub fn confirm_reply(st: &SharedState, live: &Arc<LiveSession>, socket: u64) {
    if !live.resume_pending.load(Ordering::SeqCst) {
        return;
    }
    let confirmed = {
        let mut e = lock(&live.engine);
        match e.pending.as_mut() {
            Some(p) if p.socket == socket => {
                p.replies += 1;
                if p.replies >= CONFIRMING_REPLIES {
                    live.resume_pending.store(false, Ordering::SeqCst);
                    e.pending.take()
                } else {
                    None
                }
            }
            _ => None,
        }
    };
    let Some(p) = confirmed else {
        return;
    };
    tracing::debug!(session = %live.id, seq = p.info.checkpoint_seq, "restore confirmed by the client");
    publish(st, live, resumed_event(&live.id, &p.info));
    for m in p.held {
        publish(st, live, m);
    }
}

/// The `{"event": "resumed", ...}` message of `info`.
pub fn resumed_event(session_id: &str, info: &ResumeInfo) -> String {
    let mut v = serde_json::to_value(info).unwrap_or_default();
    v["event"] = "resumed".into();
    v["session_id"] = session_id.into();
    v.to_string()
}

/// Live-feed messages waiting per session before new ones are dropped (store slow or down).
const PUBLISH_QUEUE: usize = 64;
/// First retry delay of a failed checkpoint or finalisation; doubles up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_millis(200);
/// Longest delay between retries.
const RETRY_MAX: Duration = Duration::from_secs(3);

/// Queues `message` for the session's live feed. A per-session task publishes in order, so
/// a slow or unreachable store never delays the reply to the tracking client; when the
/// queue is full (store down) the message is dropped and counted.
fn publish(st: &SharedState, live: &Arc<LiveSession>, message: String) {
    let tx = live.publisher.get_or_init(|| {
        let (tx, mut rx) = mpsc::channel::<String>(PUBLISH_QUEUE);
        let st = st.clone();
        let id = live.id.clone();
        // Ends when the session (the only sender) is dropped.
        tokio::spawn(async move {
            while let Some(m) = rx.recv().await {
                if let Err(e) = st.store.publish_live(&id, &m).await {
                    st.metrics.publish_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(session = %id, error = %e, "live publish failed");
                }
            }
        });
        tx
    });
    if tx.try_send(message).is_err() {
        st.metrics.publish_dropped.fetch_add(1, Ordering::Relaxed);
    }
}

/// Writes a checkpoint in the background, retrying with backoff while the store is
/// unavailable until it lands. Checkpoints are idempotent by `seq` (a retry after a lost
/// reply is a `Duplicate`), and no newer checkpoint is cut while this one is pending, so
/// each timeline segment is appended exactly once and in order.
///
/// Each checkpoint names its predecessor (`prev_seq`). When the store answers `Gap` (it
/// lost checkpoints it had acknowledged, e.g. a Redis crash with `appendfsync everysec`),
/// the same checkpoint is resent as a resync carrying every segment sent so far, which
/// replaces the stored timeline: nothing is missing and nothing doubled.
fn write_checkpoint(st: &SharedState, live: &Arc<LiveSession>, cp: Checkpoint) {
    let st = st.clone();
    let live = live.clone();
    tokio::spawn(async move {
        store_checkpoint(&st, &live, cp).await;
        live.checkpoint_inflight.store(false, Ordering::SeqCst);
    });
}

/// How a checkpoint write ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Written {
    /// Stored (or already stored).
    Stored,
    /// Not stored: another instance owns the session now (the session was dropped here),
    /// or it ended meanwhile, or the store refused it for good.
    Refused,
}

/// Writes one checkpoint, retrying with backoff while the store is unavailable, resyncing
/// the whole timeline after a gap. A `Fenced` answer drops the session from this instance.
async fn store_checkpoint(st: &SharedState, live: &Arc<LiveSession>, cp: Checkpoint) -> Written {
    let mut cp = cp;
    let mut delay = RETRY_FIRST;
    let mut retrying = false;
    let result = loop {
        if live.has_moved() {
            break Written::Refused;
        }
        match st.store.checkpoint(&live.id, cp.clone()).await {
            Ok(CheckpointOutcome::Gap { stored_seq }) if !cp.replace_timeline => {
                st.metrics
                    .checkpoint_resyncs
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(session = %live.id, seq = cp.seq, stored_seq, "the store lost checkpoints; resending the whole timeline");
                let engine = live.engine.clone();
                match tokio::task::spawn_blocking(move || sent_timeline(&engine)).await {
                    Ok(segments) => {
                        cp.segments = segments;
                        cp.replace_timeline = true;
                    }
                    Err(e) => {
                        st.metrics.checkpoint_errors.fetch_add(1, Ordering::Relaxed);
                        tracing::error!(session = %live.id, error = %e, "cannot build a resync checkpoint");
                        break Written::Refused;
                    }
                }
            }
            Ok(CheckpointOutcome::Gap { stored_seq }) => {
                // A resync is never gap-checked; only a store breaking that rule gets here.
                st.metrics.checkpoint_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(session = %live.id, seq = cp.seq, stored_seq, "resync checkpoint refused as a gap");
                break Written::Refused;
            }
            Ok(CheckpointOutcome::Fenced { current_token }) => {
                tracing::warn!(session = %live.id, seq = cp.seq, token = cp.lease_token, current_token, "checkpoint fenced: another instance owns the session now");
                lose(st, live, "fenced");
                break Written::Refused;
            }
            Ok(CheckpointOutcome::Applied | CheckpointOutcome::Duplicate) => {
                st.metrics.checkpoints.fetch_add(1, Ordering::Relaxed);
                if retrying {
                    tracing::info!(session = %live.id, seq = cp.seq, "checkpoint stored after retries");
                }
                break Written::Stored;
            }
            // Ended meanwhile: the final report carries everything.
            Err(StoreError::Conflict(_)) => break Written::Refused,
            Err(e @ StoreError::Unavailable(_)) => {
                st.metrics.checkpoint_errors.fetch_add(1, Ordering::Relaxed);
                if !retrying {
                    retrying = true;
                    st.metrics
                        .checkpoints_pending
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(session = %live.id, seq = cp.seq, error = %e, "checkpoint failed; retrying until the store is back");
                }
                if live.is_ended() && live.end_stored() {
                    break Written::Refused;
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(RETRY_MAX);
                st.metrics
                    .checkpoint_retries
                    .fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                st.metrics.checkpoint_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(session = %live.id, seq = cp.seq, error = %e, "checkpoint rejected");
                break Written::Refused;
            }
        }
    };
    if retrying {
        st.metrics
            .checkpoints_pending
            .fetch_sub(1, Ordering::Relaxed);
    }
    result
}

/// The session left this instance without ending (another instance owns it now): no more
/// frames are accounted or written here, its sockets close with [`CLOSE_MOVED`] so the
/// client reconnects, and it is forgotten. Nothing is written to the store.
pub fn lose(st: &SharedState, live: &Arc<LiveSession>, reason: &'static str) {
    lock(&live.engine).closed = true;
    if live.moved_tx.send_replace(Some(reason)).is_none() {
        if reason == "fenced" {
            st.metrics.lease_fenced.fetch_add(1, Ordering::Relaxed);
        }
        tracing::info!(session = %live.id, reason, "session left this instance");
    }
    if st.live.get(&live.id).is_some_and(|l| Arc::ptr_eq(&l, live)) {
        st.live.remove(&live.id);
    }
}

/// Hands a session over to another instance that asked for it: stops accounting, writes a
/// last checkpoint with everything accounted so far, releases the lease (the other
/// instance takes it at once), and closes the session's sockets here.
pub async fn hand_off(st: &SharedState, live: &Arc<LiveSession>) {
    if live.is_ended() || live.has_moved() {
        return;
    }
    // Wait for a checkpoint in flight (it owns the flag), then cut the last one.
    let deadline = Instant::now() + Duration::from_secs(10);
    while live.checkpoint_inflight.swap(true, Ordering::SeqCst) {
        if Instant::now() > deadline {
            tracing::warn!(session = %live.id, "hand-off: a checkpoint is still pending; not handing over");
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let engine = live.engine.clone();
    let cp = tokio::task::spawn_blocking(move || {
        let mut e = lock(&engine);
        if e.final_report.is_some() {
            return None;
        }
        // A restore no client confirmed: its provisional frames are discarded, the next
        // instance resumes where this one did.
        if let Some(p) = e.pending.take().filter(|p| p.socket != 0) {
            e.account = p.account;
        }
        e.closed = true;
        Some(cut_checkpoint(&mut e))
    })
    .await
    .ok()
    .flatten();
    let Some(cp) = cp else {
        live.checkpoint_inflight.store(false, Ordering::SeqCst);
        return;
    };
    let written = store_checkpoint(st, live, cp).await;
    live.checkpoint_inflight.store(false, Ordering::SeqCst);
    if written == Written::Stored {
        if let Err(e) = st.store.release_lease(&live.id, live.lease_token()).await {
            tracing::warn!(session = %live.id, error = %e, "cannot release the lease; it expires by itself");
        }
        st.metrics
            .sessions_handed_off
            .fetch_add(1, Ordering::Relaxed);
    }
    lose(st, live, "handed over");
}

/// Renews the leases of every session of this instance, forever (one task per instance).
/// A renewal tells the holder when another instance asked for a session (hand it over or
/// end it) or took it over (drop it).
pub async fn keep_leases(st: SharedState) {
    let every = st.config.lease_renew_interval();
    let ttl = st.config.lease_ttl();
    let mut shutdown = st.shutdown_signal();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
        let sessions: Vec<Arc<LiveSession>> = st
            .live
            .all()
            .into_iter()
            .filter(|l| !l.is_ended() && !l.has_moved())
            .collect();
        let renewals = sessions.iter().map(|l| {
            let st = st.clone();
            let l = l.clone();
            async move {
                let r = st
                    .store
                    .renew_lease(&l.id, &st.instance_id, l.lease_token(), ttl)
                    .await;
                match r {
                    Ok(LeaseRenewal::Renewed { request: None }) => {}
                    Ok(LeaseRenewal::Renewed {
                        request: Some(LeaseRequest::Release),
                    }) => {
                        tokio::spawn(async move { hand_off(&st, &l).await });
                    }
                    Ok(LeaseRenewal::Renewed {
                        request: Some(LeaseRequest::End),
                    }) => {
                        tokio::spawn(async move {
                            if let Err(e) = finalize(&st, &l, "ended by request").await {
                                tracing::warn!(session = %l.id, error = %e, "cannot end on request");
                            }
                        });
                    }
                    Ok(LeaseRenewal::Fenced { current_token }) => {
                        tracing::warn!(session = %l.id, token = l.lease_token(), current_token, "lease lost: another instance took the session over");
                        lose(&st, &l, "fenced");
                    }
                    Err(StoreError::NotFound(_)) | Err(StoreError::Conflict(_)) => {
                        lose(&st, &l, "ended elsewhere");
                    }
                    Err(e) => {
                        st.metrics.lease_renew_errors.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(session = %l.id, error = %e, "lease renewal failed");
                    }
                }
            }
        });
        futures_util::future::join_all(renewals).await;
    }
}

/// Per-session locks of takeovers in progress on this instance.
#[derive(Debug, Default)]
pub struct Takeovers {
    map: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Takeovers {
    fn lock_for(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut m = lock(&self.map);
        m.retain(|_, v| Arc::strong_count(v) > 1);
        m.entry(id.to_owned()).or_default().clone()
    }
}

/// Takes a live session over to this instance: acquires its lease (asking the current
/// holder to release it, or waiting until its lease expires when the holder is gone), then
/// restores the accounting from the last checkpoint. `Busy` (503) if the holder neither
/// released nor let the lease expire within `lease_ttl + 2 s`.
pub async fn take_over(st: &SharedState, id: &str) -> AppResult<Arc<LiveSession>> {
    let guard = st.takeovers.lock_for(id);
    let _g = guard.lock().await;
    if let Some(l) = st.live.get(id) {
        return Ok(l);
    }
    let ttl = st.config.lease_ttl();
    let deadline = Instant::now() + ttl + Duration::from_secs(2);
    let started = Instant::now();
    let mut asked = false;
    let token = loop {
        // The orphan sweep may have adopted the session here meanwhile.
        if let Some(l) = st.live.get(id) {
            return Ok(l);
        }
        match st.store.acquire_lease(id, &st.instance_id, ttl).await {
            Ok(LeaseAcquire::Acquired { token, .. }) => break token,
            Ok(LeaseAcquire::Held { holder, .. }) => {
                if !asked {
                    asked = true;
                    tracing::info!(session = %id, %holder, "session held by another instance; asking it to hand over");
                    let _ = st.store.request_lease(id, LeaseRequest::Release).await;
                }
            }
            Err(StoreError::Unavailable(m)) => {
                tracing::debug!(session = %id, error = %m, "takeover: store unavailable");
            }
            Err(e) => return Err(e.into()),
        }
        if Instant::now() > deadline {
            return Err(AppError::Busy(
                "the session is held by another server instance that did not hand it over; retry"
                    .into(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let live = match restore(st, id, token).await {
        Ok(l) => l,
        Err(e) => {
            let _ = st.store.release_lease(id, token).await;
            return Err(e);
        }
    };
    st.metrics
        .sessions_taken_over
        .fetch_add(1, Ordering::Relaxed);
    tracing::info!(session = %id, token, waited_ms = started.elapsed().as_millis() as u64, "session taken over");
    Ok(live)
}

/// Builds the hosted session from its last checkpoint after this instance got the lease
/// (`token`), and registers it.
async fn restore(st: &SharedState, id: &str, token: u64) -> AppResult<Arc<LiveSession>> {
    let rec = st.store.get_session(id).await?;
    let calibration = st.store.get_calibration(&rec.owner).await.ok().flatten();
    let account = rec
        .state
        .as_ref()
        .and_then(LiveAccount::restore)
        .unwrap_or_else(|| {
            LiveAccount::new(
                id,
                calibration
                    .as_ref()
                    .map(|c| (c.screen_width as f64, c.screen_height as f64)),
            )
        });
    let report = account.report();
    let info = ResumeInfo {
        checkpoint_seq: rec.checkpoint_seq,
        checkpoint_at_ms: rec.last_checkpoint_ms,
        frame_index: account.frames(),
        resumed_at_ms: report.ended_at,
        totals: crate::accounting::LiveTotals::from_report(&report),
        instance: st.instance_id.clone(),
    };
    let pending = PendingResume {
        info,
        account: account.clone(),
        socket: 0,
        replies: 0,
        held: Vec::new(),
    };
    let live = LiveSession::leased(
        id,
        &rec.owner,
        calibration,
        account,
        rec.checkpoint_seq,
        token,
    );
    live.set_pending(pending);
    live.prepare();
    st.live.insert(live.clone());
    Ok(live)
}

/// Sessions left live whose owner is gone (lease expired, no checkpoint for a while):
/// taken over here and finalised after the reconnect grace unless their client reconnects
/// (to any instance); sessions that never checkpointed are ended with their stored report.
/// Runs at startup and then every few seconds (with `--finalize-stale`).
pub async fn adopt_orphans(st: &SharedState) {
    let ttl = st.config.lease_ttl();
    let quiet_ms = (st.config.checkpoint_secs.max(1) * 1000) as i64 + 2 * ttl.as_millis() as i64;
    let mut cursor = None;
    let (mut resumed, mut ended) = (0usize, 0usize);
    loop {
        let page = match st
            .store
            .list_live_sessions(gaze_store::PageRequest {
                limit: 100,
                cursor: cursor.take(),
            })
            .await
        {
            Ok(p) => p,
            Err(e) => {
                tracing::debug!(error = %e, "cannot list live sessions");
                return;
            }
        };
        for rec in page.items {
            let last = rec.last_checkpoint_ms.unwrap_or(rec.started_at_ms);
            if (now_ms() as i64) - last < quiet_ms {
                continue;
            }
            // Not while a track socket takes the session over here (it would get the lease
            // a second time, with a newer token, and fence this adoption).
            let takeover = st.takeovers.lock_for(&rec.id);
            let Ok(_takeover) = takeover.try_lock() else {
                continue;
            };
            if st.live.get(&rec.id).is_some() {
                continue;
            }
            let token = match st.store.acquire_lease(&rec.id, &st.instance_id, ttl).await {
                Ok(LeaseAcquire::Acquired { token, .. }) => token,
                _ => continue,
            };
            if rec.state.is_some() {
                match restore(st, &rec.id, token).await {
                    Ok(l) => {
                        finalize_if_abandoned(st, &l);
                        resumed += 1;
                    }
                    Err(e) => {
                        let _ = st.store.release_lease(&rec.id, token).await;
                        tracing::warn!(session = %rec.id, error = %e, "cannot resume orphaned session");
                    }
                }
                continue;
            }
            let mut report: SessionReport = rec.report.clone().unwrap_or_default();
            report.session_id = rec.id.clone();
            if report.timeline.is_empty() {
                report.timeline = st.store.get_timeline(&rec.id).await.unwrap_or_default();
            }
            match st.store.end_session_fenced(&rec.id, report, token).await {
                Ok(_) | Err(StoreError::Conflict(_)) => ended += 1,
                Err(e) => {
                    tracing::warn!(session = %rec.id, error = %e, "cannot finalise orphaned session")
                }
            }
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    if resumed > 0 || ended > 0 {
        tracing::info!(
            resumed,
            ended,
            "orphaned live sessions: resumed from their checkpoint (finalised unless the client reconnects within the grace) or ended"
        );
    }
}

/// Ends a live session hosted by another instance (or by none): asks its holder to end
/// it and waits for the stored report; when nobody holds it (or the holder is gone and
/// its lease expires), takes it over and ends it here.
pub async fn end_elsewhere(st: &SharedState, id: &str) -> AppResult<SessionReport> {
    let ttl = st.config.lease_ttl();
    let deadline = Instant::now() + ttl + Duration::from_secs(3);
    let mut asked = false;
    loop {
        let rec = st.store.get_session(id).await?;
        if rec.status == gaze_store::SessionStatus::Ended {
            return Ok(rec.report.unwrap_or_default());
        }
        if let Some(l) = st.live.get(id) {
            return finalize(st, &l, "ended by request").await;
        }
        match st.store.acquire_lease(id, &st.instance_id, ttl).await? {
            LeaseAcquire::Acquired { token, .. } => {
                let live = restore(st, id, token).await?;
                lock(&live.engine).pending = None;
                return finalize(st, &live, "ended by request").await;
            }
            LeaseAcquire::Held { .. } => {
                if !asked {
                    asked = st.store.request_lease(id, LeaseRequest::End).await?;
                }
            }
        }
        if Instant::now() > deadline {
            return Err(AppError::Busy(
                "the session's server instance did not end it in time; retry".into(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every timeline segment sent in checkpoints so far, oldest first (the last
/// [`MAX_SEGMENTS_PER_CHECKPOINT`] of them: a resync is one checkpoint). While a checkpoint
/// is in flight no new one is cut, so this is exactly what the pending one completes.
fn sent_timeline(engine: &Mutex<Engine>) -> Vec<gaze_core::TimelineSegment> {
    let e = lock(engine);
    let timeline = match &e.final_report {
        Some(r) => r.timeline.clone(),
        None => e.account.report().timeline,
    };
    let end = e.sent_segments.min(timeline.len());
    let start = end.saturating_sub(MAX_SEGMENTS_PER_CHECKPOINT);
    timeline[start..end].to_vec()
}

/// Ends a live session: finishes the accounting, stores the final report, notifies the
/// track and watch sockets. Idempotent: later calls return the same report.
///
/// When the store is unavailable the session still ends at once (no more frames are
/// accounted, the report is fixed) and the call fails with [`AppError::Unavailable`] (503);
/// storing the report is queued and retried with backoff in the background, and calling
/// `finalize` again (e.g. `POST /session/end`) retries immediately and returns the report
/// once it is stored.
pub async fn finalize(
    st: &SharedState,
    live: &Arc<LiveSession>,
    reason: &str,
) -> AppResult<SessionReport> {
    match finalize_once(st, live, reason).await {
        Err(AppError::Unavailable(m)) => {
            queue_finalize(st, live, reason);
            Err(AppError::Unavailable(format!(
                "{m}; the session has ended and its report will be stored when the store is back"
            )))
        }
        other => other,
    }
}

/// Retries storing the final report in the background until it lands.
fn queue_finalize(st: &SharedState, live: &Arc<LiveSession>, reason: &str) {
    if live.end_queued.swap(true, Ordering::SeqCst) {
        return;
    }
    st.metrics.ends_pending.fetch_add(1, Ordering::Relaxed);
    let st = st.clone();
    let live = live.clone();
    let reason = reason.to_string();
    tokio::spawn(async move {
        let mut delay = RETRY_FIRST;
        loop {
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(RETRY_MAX);
            st.metrics.end_retries.fetch_add(1, Ordering::Relaxed);
            match finalize_once(&st, &live, &reason).await {
                Ok(_) => break,
                Err(AppError::Unavailable(_)) => continue,
                Err(e) => {
                    tracing::error!(session = %live.id, error = %e, "cannot store the final report");
                    break;
                }
            }
        }
        st.metrics.ends_pending.fetch_sub(1, Ordering::Relaxed);
        live.end_queued.store(false, Ordering::SeqCst);
    });
}

impl LiveSession {
    /// True once the final report is stored.
    fn end_stored(&self) -> bool {
        self.end_tx.borrow().is_some()
    }
}

async fn finalize_once(
    st: &SharedState,
    live: &Arc<LiveSession>,
    reason: &str,
) -> AppResult<SessionReport> {
    let mut done = live.finalize_lock.lock().await;
    if let Some(r) = done.as_ref() {
        return Ok(r.clone());
    }
    live.ended.store(true, Ordering::SeqCst);
    let engine = live.engine.clone();
    let (report, trace) = tokio::task::spawn_blocking(move || {
        let mut e = lock(&engine);
        let trace = e.account.trace();
        if let Some(r) = &e.final_report {
            return (r.clone(), trace);
        }
        e.pending = None;
        let r = e.account.finish();
        e.final_report = Some(r.clone());
        e.tracker = None;
        (r, trace)
    })
    .await?;
    match st
        .store
        .end_session_fenced(&live.id, report.clone(), live.lease_token())
        .await
    {
        Ok(_) | Err(StoreError::Conflict(_)) => {}
        Err(e @ StoreError::Fenced(_)) => {
            // Another instance owns the session now: its final report is theirs to store.
            drop(done);
            lose(st, live, "fenced");
            return Err(e.into());
        }
        Err(e) => return Err(e.into()),
    }
    crate::routes::labels::store_trace(st, &live.id, &trace).await;
    *done = Some(report.clone());
    st.live.remove(&live.id);
    st.metrics.sessions_ended.fetch_add(1, Ordering::Relaxed);
    let shared = Arc::new(report.clone());
    live.end_tx.send_replace(Some(shared));
    let ended = serde_json::json!({"event": "ended", "reason": reason, "report": report});
    publish(st, live, ended.to_string());
    tracing::info!(session = %live.id, reason, duration_s = report.duration, "session finalised");
    Ok(report)
}

/// Called when a track socket closes: after the reconnect grace, a session with no
/// connection left is finalised.
pub fn detach(st: &SharedState, live: &Arc<LiveSession>) {
    let left = live
        .attached
        .fetch_sub(1, Ordering::SeqCst)
        .saturating_sub(1);
    if left > 0 || live.is_ended() || live.has_moved() {
        return;
    }
    finalize_if_abandoned(st, live);
}

/// Finalises a session nobody ever connected to after `wait` (a client that started a
/// session and vanished must not hold a tracker forever).
pub fn finalize_if_never_connected(st: &SharedState, live: &Arc<LiveSession>, wait: Duration) {
    let st = st.clone();
    let live = live.clone();
    tokio::spawn(async move {
        tokio::time::sleep(wait).await;
        if live.generation.load(Ordering::SeqCst) == 0 && !live.is_ended() && !live.has_moved() {
            if let Err(e) = finalize(&st, &live, "never connected").await {
                tracing::warn!(session = %live.id, error = %e, "cannot finalise unused session");
            }
        }
    });
}

/// Live sessions of `owner` on this instance.
pub fn live_count_of(st: &SharedState, owner: &str) -> usize {
    st.live
        .all()
        .iter()
        .filter(|l| l.owner == owner && !l.is_ended())
        .count()
}

/// Finalises `live` after the reconnect grace unless a track socket attaches meanwhile.
pub fn finalize_if_abandoned(st: &SharedState, live: &Arc<LiveSession>) {
    let generation = live.generation.load(Ordering::SeqCst);
    let grace = Duration::from_secs(st.config.reconnect_grace_secs);
    let st = st.clone();
    let live = live.clone();
    tokio::spawn(async move {
        if !grace.is_zero() {
            tokio::time::sleep(grace).await;
        }
        if live.attached.load(Ordering::SeqCst) == 0
            && live.generation.load(Ordering::SeqCst) == generation
            && !live.is_ended()
            && !live.has_moved()
        {
            if let Err(e) = finalize(&st, &live, "connection dropped").await {
                tracing::warn!(session = %live.id, error = %e, "cannot finalise dropped session");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: FrameLimits = FrameLimits {
        max_bytes: 10_000,
        max_side: 64,
    };

    fn png(w: u32, h: u32) -> Vec<u8> {
        let mut out = Vec::new();
        image::DynamicImage::new_rgb8(w, h)
            .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
            .expect("png");
        out
    }

    #[test]
    fn base64_accepts_data_urls_and_bare_base64() {
        let b = base64::engine::general_purpose::STANDARD.encode(b"hello");
        assert_eq!(
            decode_base64_image(&format!("data:image/jpeg;base64,{b}"), 100).ok(),
            Some(b"hello".to_vec())
        );
        assert_eq!(decode_base64_image(&b, 100).ok(), Some(b"hello".to_vec()));
        assert!(matches!(
            decode_base64_image("data:image/png,rawdata", 100),
            Err(AppError::BadRequest(_))
        ));
        assert!(matches!(
            decode_base64_image("%%%", 100),
            Err(AppError::BadRequest(_))
        ));
        assert!(matches!(
            decode_base64_image(&"A".repeat(1000), 100),
            Err(AppError::TooLarge(_))
        ));
    }

    #[test]
    fn images_are_checked_before_decoding() {
        let ok = decode_image(&png(32, 16), LIMITS).expect("small png");
        assert_eq!(ok.dimensions(), (32, 16));
        assert!(matches!(
            decode_image(&png(65, 8), LIMITS),
            Err(AppError::TooLarge(_))
        ));
        assert!(matches!(
            decode_image(&[0u8; 20_000], LIMITS),
            Err(AppError::TooLarge(_))
        ));
        assert!(matches!(
            decode_image(b"GIF89a....", LIMITS),
            Err(AppError::BadRequest(_))
        ));
        assert!(matches!(
            decode_image(b"\xff\xd8\xff\xe0 truncated", LIMITS),
            Err(AppError::BadRequest(_))
        ));
    }

    #[test]
    fn frame_slot_keeps_only_the_latest_frame() {
        let slot = FrameSlot::default();
        let frame = |t: f64| FrameInput {
            payload: FramePayload::Encoded(Bytes::from_static(b"x")),
            timestamp_ms: t,
        };
        assert!(!slot.put(frame(1.0)));
        assert!(slot.put(frame(2.0)));
        assert!(slot.put(frame(3.0)));
        assert_eq!(slot.dropped(), 2);
        assert_eq!(slot.take().map(|f| f.timestamp_ms), Some(3.0));
        assert!(slot.is_empty());
    }
}
