//! Renders a report JSON file: `cargo run -p gaze-report --example render_report -- REPORT.json OUT.{svg,png,pdf,csv,json}`.

use std::process::ExitCode;

use gaze_report::{Format, RenderOptions};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output] = args.as_slice() else {
        eprintln!("usage: render_report REPORT.json OUT.{{svg,png,pdf,csv,json}}");
        return ExitCode::from(2);
    };
    let Some(format) = Format::from_extension(output) else {
        eprintln!("unknown output extension: {output}");
        return ExitCode::from(2);
    };
    let run = || -> Result<(), Box<dyn std::error::Error>> {
        let report = serde_json::from_str(&std::fs::read_to_string(input)?)?;
        let bytes = gaze_report::render(&report, format, &RenderOptions::default())?;
        std::fs::write(output, bytes)?;
        Ok(())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
