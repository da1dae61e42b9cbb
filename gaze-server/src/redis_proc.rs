//! A local redis-server the server starts itself when no store URL is configured
//! (AOF `everysec`, data under `--data-dir`). Stopped with SIGTERM on shutdown, which makes
//! Redis flush the AOF.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use crate::error::AppError;

/// A managed redis-server child process.
#[derive(Debug)]
pub struct ManagedRedis {
    child: Child,
    port: u16,
    dir: PathBuf,
}

/// A free TCP port on 127.0.0.1 (racy by nature, good enough for a local process).
pub fn free_port() -> Result<u16, AppError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| AppError::Internal(format!("no free port: {e}")))
}

impl ManagedRedis {
    /// Starts `redis_server` on 127.0.0.1:`port` (0: a free port) with its data in `dir`,
    /// and waits until it answers.
    pub async fn start(redis_server: &str, dir: &Path, port: u16) -> Result<Self, AppError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| AppError::Internal(format!("cannot create {}: {e}", dir.display())))?;
        // Keep the data out of git when it lives inside a checkout.
        let ignore = dir.join(".gitignore");
        if !ignore.exists() {
            let _ = std::fs::write(&ignore, "*\n");
        }
        let dir = std::fs::canonicalize(dir)
            .map_err(|e| AppError::Internal(format!("{}: {e}", dir.display())))?;
        let port = if port == 0 { free_port()? } else { port };
        let child = Command::new(redis_server)
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .arg("--dir")
            .arg(&dir)
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "",
                "--protected-mode",
                "yes",
                "--daemonize",
                "no",
                "--logfile",
                "redis.log",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                AppError::Internal(format!(
                    "cannot start {redis_server} (install redis-server or pass --store-url): {e}"
                ))
            })?;
        let mut me = ManagedRedis { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = me.child.try_wait() {
                return Err(AppError::Internal(format!(
                    "redis-server exited at startup ({status}); see {}/redis.log (is port {port} taken?)",
                    me.dir.display()
                )));
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            if Instant::now() > deadline {
                me.stop().await;
                return Err(AppError::Internal(
                    "redis-server did not start in 10 s".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tracing::info!(port, dir = %me.dir.display(), "started local redis-server (AOF everysec)");
        Ok(me)
    }

    /// The URL to connect to it.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stops it with SIGTERM (Redis flushes the AOF), killing it after 5 s.
    pub async fn stop(&mut self) {
        if let Some(pid) = self.child.id() {
            // SAFETY-free: `kill` via the command line keeps this crate free of libc.
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
            if tokio::time::timeout(Duration::from_secs(5), self.child.wait())
                .await
                .is_ok()
            {
                tracing::info!("local redis-server stopped");
                return;
            }
        }
        let _ = self.child.kill().await;
    }
}
