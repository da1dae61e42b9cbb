//! Stops a source build (e.g. from the sdist) early, with the packages to install, when the
//! native tools the `opencv` crate needs are missing. See `build_support/native_deps.rs`.

#[path = "build_support/native_deps.rs"]
mod native_deps;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=build_support/native_deps.rs");
    for var in native_deps::WATCHED_ENV {
        println!("cargo::rerun-if-env-changed={var}");
    }
    if native_deps::process_env("GAZE_SKIP_NATIVE_CHECK").is_some() {
        return;
    }
    let env = native_deps::process_env;
    let missing = native_deps::check_all(
        &env,
        &native_deps::default_libclang_dirs(),
        &native_deps::default_cmake_dirs(&env),
    );
    if !missing.is_empty() {
        eprintln!("{}", native_deps::message(&missing));
        // Cargo prints a failing build script's stderr under "--- stderr".
        std::process::exit(1);
    }
}
