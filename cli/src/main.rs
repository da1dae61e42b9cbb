//! The `gaze` command-line tool.

fn main() {
    eprintln!("gaze: not implemented yet");
    std::process::exit(2);
}
