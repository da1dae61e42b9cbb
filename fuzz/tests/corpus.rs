//! Replays every committed corpus input (`fuzz/corpus/<target>/`) and every input that once
//! crashed a target (`fuzz/artifacts-regressions/<target>/`) through the target's function.

use std::path::{Path, PathBuf};

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[test]
fn every_corpus_and_regression_input_passes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut failed = Vec::new();
    for (name, run) in gaze_fuzz::TARGETS {
        let corpus = files(&root.join("corpus").join(name));
        assert!(!corpus.is_empty(), "no seed corpus for {name}");
        let regressions = files(&root.join("artifacts-regressions").join(name));
        let n = corpus.len() + regressions.len();
        for path in corpus.iter().chain(&regressions) {
            let data = std::fs::read(path).expect("read input");
            if std::panic::catch_unwind(|| run(&data)).is_err() {
                failed.push(path.display().to_string());
            }
        }
        eprintln!("{name}: {n} inputs replayed");
    }
    assert!(failed.is_empty(), "inputs that fail: {failed:#?}");
}
