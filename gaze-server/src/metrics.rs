//! Process-wide counters exported at `/metrics` in the Prometheus text format.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Upper bounds (ms) of the frame processing time histogram.
const BUCKETS_MS: [f64; 9] = [5.0, 10.0, 20.0, 35.0, 50.0, 75.0, 100.0, 250.0, 1000.0];

/// Counters and gauges. All operations are lock-free.
#[derive(Debug, Default)]
pub struct Metrics {
    /// HTTP requests served.
    pub http_requests: AtomicU64,
    /// Frames received over track sockets.
    pub frames_received: AtomicU64,
    /// Frames processed.
    pub frames_processed: AtomicU64,
    /// Frames dropped because a newer one arrived before they were processed.
    pub frames_dropped: AtomicU64,
    /// Frames or messages refused (bad data, too large).
    pub frames_rejected: AtomicU64,
    /// Sessions started.
    pub sessions_started: AtomicU64,
    /// Sessions finalised.
    pub sessions_ended: AtomicU64,
    /// Open track sockets.
    pub track_sockets: AtomicU64,
    /// Open watch sockets.
    pub watch_sockets: AtomicU64,
    /// Checkpoints written.
    pub checkpoints: AtomicU64,
    /// Checkpoint write attempts that failed.
    pub checkpoint_errors: AtomicU64,
    /// Checkpoint writes retried after a failure (store unavailable).
    pub checkpoint_retries: AtomicU64,
    /// Resync checkpoints sent after the store reported a gap (acknowledged checkpoints lost,
    /// e.g. by a Redis crash): each rewrote the stored timeline in full.
    pub checkpoint_resyncs: AtomicU64,
    /// Checkpoints waiting for the store to come back (gauge).
    pub checkpoints_pending: AtomicU64,
    /// Final-report writes retried after a failure (store unavailable).
    pub end_retries: AtomicU64,
    /// Ended sessions whose final report waits for the store to come back (gauge).
    pub ends_pending: AtomicU64,
    /// Live-feed messages the store refused or did not answer.
    pub publish_errors: AtomicU64,
    /// Live-feed messages dropped because the session's publish queue was full.
    pub publish_dropped: AtomicU64,
    /// Live sessions this instance took over from another (or a dead) instance.
    pub sessions_taken_over: AtomicU64,
    /// Live sessions this instance handed over on request (lease released).
    pub sessions_handed_off: AtomicU64,
    /// Writes of this instance refused because another instance owns the session now
    /// (stale lease token); the session was dropped here.
    pub lease_fenced: AtomicU64,
    /// Lease renewals that failed (store unavailable).
    pub lease_renew_errors: AtomicU64,
    /// Rate-limit decisions taken by the local buckets because the shared ones (Redis)
    /// did not answer.
    pub limit_fallbacks: AtomicU64,
    buckets: [AtomicU64; BUCKETS_MS.len()],
    latency_sum_us: AtomicU64,
    latency_count: AtomicU64,
}

impl Metrics {
    /// Records one frame's decode + track + account time.
    pub fn observe_processing(&self, ms: f64) {
        for (i, b) in BUCKETS_MS.iter().enumerate() {
            if ms <= *b {
                self.buckets[i].fetch_add(1, Relaxed);
            }
        }
        self.latency_sum_us.fetch_add((ms * 1000.0) as u64, Relaxed);
        self.latency_count.fetch_add(1, Relaxed);
    }

    /// Renders every metric; `live_sessions` is the current number of live sessions.
    pub fn render(&self, live_sessions: usize) -> String {
        let mut s = String::with_capacity(2048);
        let counters: [(&str, &str, &AtomicU64); 19] = [
            (
                "gaze_http_requests_total",
                "HTTP requests served",
                &self.http_requests,
            ),
            (
                "gaze_frames_received_total",
                "Frames received",
                &self.frames_received,
            ),
            (
                "gaze_frames_processed_total",
                "Frames processed",
                &self.frames_processed,
            ),
            (
                "gaze_frames_dropped_total",
                "Stale frames dropped (latest wins)",
                &self.frames_dropped,
            ),
            (
                "gaze_frames_rejected_total",
                "Frames or messages refused",
                &self.frames_rejected,
            ),
            (
                "gaze_sessions_started_total",
                "Sessions started",
                &self.sessions_started,
            ),
            (
                "gaze_sessions_ended_total",
                "Sessions finalised",
                &self.sessions_ended,
            ),
            (
                "gaze_checkpoints_total",
                "Checkpoints written",
                &self.checkpoints,
            ),
            (
                "gaze_checkpoint_errors_total",
                "Checkpoint write attempts that failed",
                &self.checkpoint_errors,
            ),
            (
                "gaze_checkpoint_retries_total",
                "Checkpoint writes retried (store unavailable)",
                &self.checkpoint_retries,
            ),
            (
                "gaze_checkpoint_resyncs_total",
                "Resync checkpoints (whole timeline) sent after the store lost checkpoints",
                &self.checkpoint_resyncs,
            ),
            (
                "gaze_end_retries_total",
                "Final-report writes retried (store unavailable)",
                &self.end_retries,
            ),
            (
                "gaze_publish_errors_total",
                "Live-feed messages the store refused or did not answer",
                &self.publish_errors,
            ),
            (
                "gaze_publish_dropped_total",
                "Live-feed messages dropped (publish queue full)",
                &self.publish_dropped,
            ),
            (
                "gaze_sessions_taken_over_total",
                "Live sessions taken over from another or a dead instance",
                &self.sessions_taken_over,
            ),
            (
                "gaze_sessions_handed_off_total",
                "Live sessions handed over to another instance on request",
                &self.sessions_handed_off,
            ),
            (
                "gaze_lease_fenced_total",
                "Writes refused because another instance owns the session now",
                &self.lease_fenced,
            ),
            (
                "gaze_lease_renew_errors_total",
                "Lease renewals that failed (store unavailable)",
                &self.lease_renew_errors,
            ),
            (
                "gaze_limit_fallbacks_total",
                "Rate-limit decisions taken locally because the shared buckets did not answer",
                &self.limit_fallbacks,
            ),
        ];
        for (name, help, v) in counters {
            let _ = writeln!(
                s,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                v.load(Relaxed)
            );
        }
        let gauges: [(&str, &str, u64); 5] = [
            (
                "gaze_live_sessions",
                "Live sessions on this instance",
                live_sessions as u64,
            ),
            (
                "gaze_track_sockets",
                "Open track sockets",
                self.track_sockets.load(Relaxed),
            ),
            (
                "gaze_watch_sockets",
                "Open watch sockets",
                self.watch_sockets.load(Relaxed),
            ),
            (
                "gaze_checkpoints_pending",
                "Checkpoints waiting for the store",
                self.checkpoints_pending.load(Relaxed),
            ),
            (
                "gaze_ends_pending",
                "Final reports waiting for the store",
                self.ends_pending.load(Relaxed),
            ),
        ];
        for (name, help, v) in gauges {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
        let name = "gaze_frame_processing_seconds";
        let _ = writeln!(
            s,
            "# HELP {name} Decode + track + account time per frame\n# TYPE {name} histogram"
        );
        for (i, b) in BUCKETS_MS.iter().enumerate() {
            let _ = writeln!(
                s,
                "{name}_bucket{{le=\"{}\"}} {}",
                b / 1000.0,
                self.buckets[i].load(Relaxed)
            );
        }
        let count = self.latency_count.load(Relaxed);
        let _ = writeln!(s, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            s,
            "{name}_sum {}",
            self.latency_sum_us.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(s, "{name}_count {count}");
        s
    }
}
