//! The committed `include/gaze.h` must equal a fresh cbindgen generation.
//! Set `GAZE_BLESS_HEADER=1` to rewrite it after changing the API.

use std::path::PathBuf;

#[test]
fn committed_header_is_up_to_date() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(&dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut fresh = Vec::new();
    bindings.write(&mut fresh);
    let fresh = String::from_utf8(fresh).expect("header is UTF-8");
    let path = dir.join("include/gaze.h");
    if std::env::var_os("GAZE_BLESS_HEADER").is_some() {
        std::fs::write(&path, &fresh).expect("write include/gaze.h");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "bindings/c/include/gaze.h is out of date; regenerate it with \
         `GAZE_BLESS_HEADER=1 cargo test -p gaze-c --test header` and commit it"
    );
}
