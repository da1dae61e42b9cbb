//! The `gaze` command-line tool: `gaze track`, `gaze report`, `gaze serve`, `gaze bench`,
//! `gaze completions`. See `gaze --help`; exit codes are listed in [`error::EXIT_CODES_HELP`].

mod bench;
mod error;
mod input;
mod progress;
mod report;
mod track;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use clap_complete::Shell;

use crate::error::{CliError, CliResult, EXIT_CODES_HELP, one_line};

const MAIN_EXAMPLES: &str = "\
Examples:
  gaze track clip.mp4 -o out/                 # out/results.jsonl + out/report.json
  gaze report out/report.json --out out/report.pdf
  gaze serve --bind 127.0.0.1:8000 --open
  gaze bench clip.mp4
  gaze completions bash > ~/.local/share/bash-completion/completions/gaze";

const SERVE_EXAMPLES: &str = "\
Examples:
  gaze serve                                   # http://127.0.0.1:8000, own redis-server in data/redis
  gaze serve --store-url memory:// --bind 127.0.0.1:0
  gaze serve --store-url redis://127.0.0.1:6379 --admin-user alice
Same flags (and GAZE_* environment variables) as the gaze-server binary. Ctrl-C stops it
gracefully (live sessions are finalised).";

const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  gaze completions bash > ~/.local/share/bash-completion/completions/gaze
  gaze completions zsh > ~/.zfunc/_gaze        # with fpath+=~/.zfunc in ~/.zshrc
  gaze completions fish > ~/.config/fish/completions/gaze.fish";

/// gaze: webcam frames in, gaze and activity out.
#[derive(Debug, Parser)]
#[command(
    name = "gaze",
    version,
    about = "gaze: webcam frames in, gaze and activity out",
    after_help = format!("{MAIN_EXAMPLES}\n\n{EXIT_CODES_HELP}"),
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Track a video file, camera or image folder: per-frame results + session report.
    #[command(after_help = track::TRACK_EXAMPLES)]
    Track(track::TrackArgs),
    /// Render a report (JSON, CSV, SVG, PNG, PDF) from report.json or results.jsonl.
    #[command(after_help = report::REPORT_EXAMPLES)]
    Report(report::ReportArgs),
    /// Start the gaze server (REST + WebSocket API and web UI).
    #[command(after_help = SERVE_EXAMPLES)]
    Serve(ServeArgs),
    /// Time each pipeline stage on this machine (median / p90 / mean ms, fps).
    #[command(after_help = bench::BENCH_EXAMPLES)]
    Bench(bench::BenchArgs),
    /// Print a shell completion script to stdout.
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions {
        /// Shell to generate completions for.
        #[arg(value_enum)]
        shell: Shell,
    },
}

/// `gaze serve`: exactly the gaze-server binary's flags.
#[derive(Debug, clap::Args)]
struct ServeArgs {
    #[command(flatten)]
    config: gaze_server::Config,
}

fn serve(args: ServeArgs) -> CliResult<()> {
    use tracing_subscriber::EnvFilter;
    let config = args.config;
    let filter = EnvFilter::try_new(&config.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let init = if config.log_json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    if let Err(e) = init {
        return Err(CliError::Server(format!("cannot set up logging: {e}")));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Server(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(gaze_server::run(config))
        .map_err(|e| CliError::Server(e.to_string()))
}

fn dispatch(cli: Cli) -> CliResult<()> {
    match cli.command {
        Command::Track(a) => track::run(a),
        Command::Report(a) => report::run(a),
        Command::Serve(a) => serve(a),
        Command::Bench(a) => bench::run(a),
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "gaze", &mut script);
            write_stdout(&script)
        }
    }
}

/// Writes `bytes` to stdout; a closed pipe (`gaze ... | head`) is not an error.
pub(crate) fn write_stdout(bytes: &[u8]) -> CliResult<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(CliError::output(std::path::Path::new("-"), e)),
    }
}

/// A clap usage error as one line: its text up to the first blank line, without the
/// `error: ` prefix.
fn clap_one_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let head: Vec<&str> = text
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    let msg = head.join(" ");
    msg.strip_prefix("error: ").unwrap_or(&msg).to_string()
}

/// Silences OpenCV's and FFmpeg's own messages (a missing camera or a broken file would
/// otherwise add lines around the one-line error). `OPENCV_LOG_LEVEL` and
/// `OPENCV_FFMPEG_LOGLEVEL` in the environment still win.
fn quiet_opencv() {
    if std::env::var_os("OPENCV_LOG_LEVEL").is_none() {
        let _ = opencv::core::set_log_level(opencv::core::LogLevel::LOG_LEVEL_SILENT);
    }
    if std::env::var_os("OPENCV_FFMPEG_LOGLEVEL").is_none() {
        // SAFETY: called at the start of main, before any other thread exists (the Ctrl-C
        // thread and the server runtime start later), so nothing reads the environment
        // concurrently. -8 is AV_LOG_QUIET; OpenCV reads it when its FFmpeg backend starts.
        unsafe { std::env::set_var("OPENCV_FFMPEG_LOGLEVEL", "-8") };
    }
}

fn main() -> ExitCode {
    // A bug must still end as one line, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "gaze: error: internal error{at}: {} (please report this)",
            one_line(&msg)
        );
    }));
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    let _ = e.print();
                    ExitCode::SUCCESS
                }
                ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    let _ = e.print();
                    ExitCode::from(2)
                }
                _ => {
                    eprintln!(
                        "gaze: error: {} (see gaze --help)",
                        one_line(&clap_one_line(&e))
                    );
                    ExitCode::from(2)
                }
            };
        }
    };
    quiet_opencv();
    match dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gaze: error: {}", one_line(&e.to_string()));
            ExitCode::from(e.exit_code())
        }
    }
}
