//! The frame workers: a fixed set of OS threads that run the CPU-bound work of the server
//! (JPEG decode, tracking, accounting, the reply's JSON) off the async runtime.
//!
//! Jobs wait in one FIFO queue and a worker takes the next one as soon as it finishes the
//! last, on its own thread: no async task has to be woken and scheduled, and no blocking
//! thread has to be started or handed a job, between two frames. Under load that hand-over
//! (the tokio semaphore + `spawn_blocking` this replaced) left cores idle while frames were
//! waiting; see gaze-server/README.md for the measured throughput.
//!
//! A track socket has at most one job queued or running (it keeps newer frames in its
//! [`FrameSlot`](crate::live::FrameSlot) and the job takes the newest when it starts), so the
//! queue is at most one job per live session long and serves sessions round-robin.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use tokio::sync::oneshot;

use crate::error::{AppError, AppResult};

type Job = Box<dyn FnOnce() + Send + 'static>;

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    closed: bool,
}

#[derive(Default)]
struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A fixed pool of worker threads fed from one FIFO queue (see the module docs).
///
/// Dropping the pool closes it: queued jobs still run, then the threads exit.
pub struct FrameWorkers {
    shared: Arc<Shared>,
    threads: usize,
}

impl std::fmt::Debug for FrameWorkers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameWorkers")
            .field("threads", &self.threads)
            .field("queued", &self.queued())
            .finish()
    }
}

impl FrameWorkers {
    /// Starts `threads` worker threads (at least one), named `gaze-worker-N`.
    pub fn new(threads: usize) -> std::io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let n = threads.max(1);
        for i in 0..n {
            let s = shared.clone();
            let started = std::thread::Builder::new()
                .name(format!("gaze-worker-{i}"))
                .spawn(move || work(&s));
            if let Err(e) = started {
                // Stop the ones already started before reporting.
                drop(FrameWorkers { shared, threads: i });
                return Err(e);
            }
        }
        Ok(FrameWorkers { shared, threads: n })
    }

    /// Number of worker threads.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Jobs waiting for a worker (not counting the running ones).
    pub fn queued(&self) -> usize {
        self.shared.lock().jobs.len()
    }

    /// Runs `f` on the next free worker and waits (asynchronously) for its result. A panic
    /// in `f` is caught and returned as [`AppError::Internal`]; the worker keeps running.
    /// After [`FrameWorkers::close`] the job is refused with [`AppError::Busy`].
    pub async fn run<T, F>(&self, f: F) -> AppResult<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let out = std::panic::catch_unwind(AssertUnwindSafe(f));
            // The caller may have gone away (its connection closed): nothing to report to.
            let _ = tx.send(out);
        });
        {
            let mut q = self.shared.lock();
            if q.closed {
                return Err(AppError::Busy("server is shutting down".into()));
            }
            q.jobs.push_back(job);
        }
        self.shared.ready.notify_one();
        match rx.await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(panic)) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                tracing::error!(panic = %what, "a frame worker job panicked");
                Err(AppError::Internal("frame processing failed".into()))
            }
            Err(_) => Err(AppError::Busy("server is shutting down".into())),
        }
    }

    /// Refuses new jobs; the queued ones still run, then the threads exit.
    pub fn close(&self) {
        self.shared.lock().closed = true;
        self.shared.ready.notify_all();
    }
}

impl Drop for FrameWorkers {
    /// Closes the pool without waiting: the threads finish the queued jobs and exit on their
    /// own (joining here could block an async runtime thread for a whole frame).
    fn drop(&mut self) {
        self.close();
    }
}

/// A worker's loop: the next job, or exit once the pool is closed and empty.
fn work(s: &Shared) {
    loop {
        let job = {
            let mut q = s.lock();
            loop {
                if let Some(j) = q.jobs.pop_front() {
                    break j;
                }
                if q.closed {
                    return;
                }
                q = s.ready.wait(q).unwrap_or_else(|p| p.into_inner());
            }
        };
        job();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn runs_jobs_on_worker_threads_and_returns_results() {
        let w = FrameWorkers::new(2).expect("threads");
        assert_eq!(w.threads(), 2);
        let name = w
            .run(|| std::thread::current().name().map(str::to_string))
            .await
            .expect("ran");
        assert!(name.is_some_and(|n| n.starts_with("gaze-worker-")));
        let sum = w.run(|| (1..=10).sum::<u32>()).await.expect("ran");
        assert_eq!(sum, 55);
    }

    #[tokio::test]
    async fn a_panicking_job_is_an_error_and_the_worker_survives() {
        let w = FrameWorkers::new(1).expect("threads");
        let r: AppResult<()> = w.run(|| panic!("boom")).await;
        assert!(matches!(r, Err(AppError::Internal(_))), "{r:?}");
        // The single worker still takes jobs.
        assert_eq!(w.run(|| 7).await.expect("ran"), 7);
    }

    #[tokio::test]
    async fn closed_pool_refuses_jobs_and_queued_jobs_all_run() {
        let w = Arc::new(FrameWorkers::new(2).expect("threads"));
        let done = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..40 {
            let (w, done) = (w.clone(), done.clone());
            tasks.push(tokio::spawn(async move {
                w.run(move || {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                    done.fetch_add(1, Ordering::SeqCst);
                })
                .await
            }));
        }
        for t in tasks {
            t.await.expect("joined").expect("ran");
        }
        assert_eq!(done.load(Ordering::SeqCst), 40);
        w.close();
        let r = w.run(|| ()).await;
        assert!(matches!(r, Err(AppError::Busy(_))), "{r:?}");
    }
}
