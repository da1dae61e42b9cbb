//! Feature pin (see Cargo.toml): no code; its dependency list makes single-package builds
//! resolve the same features as `cargo test --workspace`.
