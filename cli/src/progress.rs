//! Progress display on stderr: an indicatif bar on a terminal, plain periodic lines when forced
//! with `--progress` on a non-terminal, nothing with `--quiet` or when stderr is redirected.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// A bar when stderr is a terminal, otherwise nothing.
    Auto,
    /// Always (a bar on a terminal, one line per second otherwise).
    Forced,
    /// Never.
    Quiet,
}

impl ProgressMode {
    /// From the `--progress` / `--quiet` flags.
    pub fn from_flags(progress: bool, quiet: bool) -> Self {
        match (progress, quiet) {
            (_, true) => ProgressMode::Quiet,
            (true, false) => ProgressMode::Forced,
            _ => ProgressMode::Auto,
        }
    }
}

enum Display {
    None,
    Bar(ProgressBar),
    Lines { last: Instant },
}

/// Frame progress: frames done, frames per second, ETA.
pub struct Progress {
    display: Display,
    total: Option<u64>,
    start: Instant,
    done: u64,
}

impl Progress {
    /// A progress display for `total` frames (None: unknown, e.g. a camera).
    pub fn new(mode: ProgressMode, total: Option<u64>) -> Self {
        let tty = std::io::stderr().is_terminal();
        let display = match (mode, tty) {
            (ProgressMode::Quiet, _) | (ProgressMode::Auto, false) => Display::None,
            (_, true) => {
                let bar = match total {
                    Some(n) => ProgressBar::with_draw_target(
                        Some(n),
                        ProgressDrawTarget::stderr_with_hz(10),
                    )
                    .with_style(
                        ProgressStyle::with_template(
                            "{bar:30.cyan/blue} {pos}/{len} frames  {msg} fps  ETA {eta}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                    ),
                    None => ProgressBar::with_draw_target(
                        None,
                        ProgressDrawTarget::stderr_with_hz(10),
                    )
                    .with_style(
                        ProgressStyle::with_template(
                            "{spinner} {pos} frames  {msg} fps  {elapsed} (Ctrl-C ends the session)",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    ),
                };
                Display::Bar(bar)
            }
            (ProgressMode::Forced, false) => Display::Lines {
                last: Instant::now(),
            },
        };
        Progress {
            display,
            total,
            start: Instant::now(),
            done: 0,
        }
    }

    fn fps(&self) -> f64 {
        let s = self.start.elapsed().as_secs_f64();
        if s > 0.0 { self.done as f64 / s } else { 0.0 }
    }

    /// One more frame processed.
    pub fn inc(&mut self) {
        self.done += 1;
        let fps = self.fps();
        match &mut self.display {
            Display::None => {}
            Display::Bar(bar) => {
                bar.set_message(format!("{fps:.1}"));
                bar.inc(1);
            }
            Display::Lines { last } => {
                if last.elapsed() >= Duration::from_secs(1) {
                    *last = Instant::now();
                    let eta = match self.total {
                        Some(n) if fps > 0.0 => {
                            format!(", ETA {:.0} s", n.saturating_sub(self.done) as f64 / fps)
                        }
                        _ => String::new(),
                    };
                    let of = self.total.map(|n| format!("/{n}")).unwrap_or_default();
                    eprintln!("gaze: {}{of} frames, {fps:.1} fps{eta}", self.done);
                }
            }
        }
    }

    /// Frames done so far.
    pub fn done(&self) -> u64 {
        self.done
    }

    /// Seconds since the start.
    pub fn elapsed_secs(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Display::Bar(bar) = &self.display {
            bar.finish_and_clear();
        }
    }
}
