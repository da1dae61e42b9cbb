//! `gaze-server`: see `gaze-server --help`.

use std::process::ExitCode;

use clap::Parser;
use gaze_server::Config;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
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
