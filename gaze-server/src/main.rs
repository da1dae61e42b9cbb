//! `gaze-server`: see `gaze-server --help`.

use std::process::ExitCode;

use clap::Parser;
use gaze_server::Config;
use tracing_subscriber::EnvFilter;

/// glibc's allocator raises its mmap threshold after the first large free and keeps up to
/// 8 arenas per core, so the freed buffers of decoded frames and OpenCV blobs (≈1 MiB each,
/// short-lived, on many blocking threads) stay resident and RSS creeps up as sessions come
/// and go (soak, 6 sessions churned every 15 s: +17 MiB/min, 340 MiB after 3 min). Fixing
/// the threshold (large buffers are mmapped and returned on free) and capping the arenas
/// keeps it flat. `MALLOC_MMAP_THRESHOLD_` / `MALLOC_ARENA_MAX` in the environment win.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_allocator() {
    unsafe extern "C" {
        fn mallopt(param: i32, value: i32) -> i32;
    }
    const M_MMAP_THRESHOLD: i32 = -3;
    const M_ARENA_MAX: i32 = -8;
    // SAFETY: mallopt only changes allocator parameters; called before any other thread
    // exists.
    unsafe {
        if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
            mallopt(M_MMAP_THRESHOLD, 128 * 1024);
        }
        if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
            mallopt(M_ARENA_MAX, 2);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_allocator() {}

fn main() -> ExitCode {
    tune_allocator();
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(serve()),
        Err(e) => {
            eprintln!("gaze-server: cannot start the runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve() -> ExitCode {
    let config = Config::parse();
    let filter = EnvFilter::try_new(&config.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if config.log_json {
        builder.json().init();
    } else {
        builder.init();
    }
    match gaze_server::run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "gaze-server failed");
            eprintln!("gaze-server: {e}");
            ExitCode::FAILURE
        }
    }
}
