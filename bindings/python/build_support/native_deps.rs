//! Detection of the native tools a source build of gaze needs (shared by `build.rs` and the
//! unit tests in `tests/native_deps.rs`).
//!
//! The `opencv` crate's build script fails with long, generic messages when the OpenCV
//! development files, libclang or the `clang` binary are missing. A build from the sdist
//! (`pip install gaze-<version>.tar.gz`) runs this check first and, when something is missing,
//! stops with one message that names the packages to install per distribution.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Environment variables the `opencv` crate reads to bypass its probes: when any is set the
/// user configured OpenCV by hand and the pkg-config / CMake probes are not checked.
pub const OPENCV_OVERRIDES: &[&str] = &[
    "OPENCV_LINK_LIBS",
    "OPENCV_LINK_PATHS",
    "OPENCV_INCLUDE_PATHS",
    "OpenCV_DIR",
];

/// Every environment variable the check reads (for `cargo::rerun-if-env-changed`).
pub const WATCHED_ENV: &[&str] = &[
    "OPENCV_LINK_LIBS",
    "OPENCV_LINK_PATHS",
    "OPENCV_INCLUDE_PATHS",
    "OpenCV_DIR",
    "PKG_CONFIG_PATH",
    "PKG_CONFIG_LIBDIR",
    "LIBCLANG_PATH",
    "CLANG_PATH",
    "LLVM_CONFIG_PATH",
    "CXX",
    "PATH",
    "GAZE_SKIP_NATIVE_CHECK",
];

/// A native prerequisite that was not found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    /// The OpenCV 4 development files (pkg-config `opencv4` or a CMake config).
    OpenCv(String),
    /// libclang (the `opencv` crate generates its bindings with it).
    LibClang(String),
    /// The `clang` executable (asked for the system include paths).
    Clang(String),
    /// A C++ compiler (the `opencv` crate compiles C++ glue code).
    CxxCompiler(String),
}

impl Missing {
    /// What was looked for and the packages that provide it.
    pub fn explain(&self) -> String {
        let (what, detail, debian, fedora, hint) = match self {
            Missing::OpenCv(d) => (
                "OpenCV 4 development files (headers and pkg-config file `opencv4`)",
                d,
                "libopencv-dev",
                "opencv-devel",
                "or point the opencv crate at an OpenCV build: OPENCV_LINK_LIBS, \
                 OPENCV_LINK_PATHS, OPENCV_INCLUDE_PATHS (or OpenCV_DIR for CMake)",
            ),
            Missing::LibClang(d) => (
                "libclang (the opencv crate generates its Rust bindings with it)",
                d,
                "libclang-dev",
                "clang-devel",
                "or set LIBCLANG_PATH to the directory that holds libclang.so",
            ),
            Missing::Clang(d) => (
                "the clang compiler (asked for the system include paths)",
                d,
                "clang",
                "clang",
                "or set CLANG_PATH to the clang executable",
            ),
            Missing::CxxCompiler(d) => (
                "a C++ compiler (the opencv crate compiles C++ glue code)",
                d,
                "g++",
                "gcc-c++",
                "or set CXX to the compiler",
            ),
        };
        format!(
            "  - {what}: {detail}\n      Debian/Ubuntu: sudo apt-get install {debian}\n      \
             Fedora:        sudo dnf install {fedora}\n      {hint}"
        )
    }
}

/// The full message for a build that cannot go on.
pub fn message(missing: &[Missing]) -> String {
    let mut debian: Vec<&str> = Vec::new();
    let mut fedora: Vec<&str> = Vec::new();
    for m in missing {
        let (d, f): (&[&str], &[&str]) = match m {
            Missing::OpenCv(_) => (&["libopencv-dev"], &["opencv-devel"]),
            Missing::LibClang(_) => (&["libclang-dev"], &["clang-devel"]),
            Missing::Clang(_) => (&["clang"], &["clang"]),
            Missing::CxxCompiler(_) => (&["g++"], &["gcc-c++"]),
        };
        debian.extend(d);
        fedora.extend(f);
    }
    let mut out = String::from(
        "gaze: building the Python extension from source needs native tools that were not \
         found:\n",
    );
    for m in missing {
        out.push_str(&m.explain());
        out.push('\n');
    }
    out.push_str(&format!(
        "All at once:\n  Debian/Ubuntu: sudo apt-get install pkg-config {}\n  \
         Fedora:        sudo dnf install pkgconf-pkg-config {}\n\
         A prebuilt (manylinux) gaze wheel needs none of these.\n\
         Set GAZE_SKIP_NATIVE_CHECK=1 to skip this check.",
        debian.join(" "),
        fedora.join(" ")
    ));
    out
}

/// Reads an environment variable (a function so tests can pass their own environment).
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment.
pub fn process_env(name: &str) -> Option<String> {
    env::var(name).ok().filter(|v| !v.is_empty())
}

/// OpenCV: an override variable, `pkg-config opencv4` (version ≥ 4), or an
/// `OpenCVConfig.cmake` under one of `cmake_dirs`.
pub fn check_opencv(env: EnvLookup<'_>, cmake_dirs: &[PathBuf]) -> Result<String, Missing> {
    if let Some(var) = OPENCV_OVERRIDES.iter().find(|v| env(v).is_some()) {
        return Ok(format!("configured by {var}"));
    }
    let mut cmd = Command::new(env("PKG_CONFIG").unwrap_or_else(|| "pkg-config".into()));
    cmd.args(["--modversion", "opencv4"]);
    for var in ["PKG_CONFIG_PATH", "PKG_CONFIG_LIBDIR"] {
        match env(var) {
            Some(v) => cmd.env(var, v),
            None => cmd.env_remove(var),
        };
    }
    let pkg = match cmd.output() {
        Ok(out) if out.status.success() => {
            let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if version.split('.').next().and_then(|m| m.parse::<u32>().ok()) >= Some(4) {
                return Ok(format!("pkg-config opencv4 {version}"));
            }
            format!("pkg-config finds opencv4 {version}, gaze needs 4.x")
        }
        Ok(_) => "pkg-config does not know opencv4".to_string(),
        Err(e) => format!("pkg-config could not run ({e})"),
    };
    for dir in cmake_dirs {
        if dir.join("OpenCVConfig.cmake").is_file() {
            return Ok(format!("CMake config in {}", dir.display()));
        }
    }
    Err(Missing::OpenCv(format!("{pkg}, and no OpenCVConfig.cmake was found")))
}

/// Where CMake configs of OpenCV usually live.
pub fn default_cmake_dirs(env: EnvLookup<'_>) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = env("OpenCV_DIR").into_iter().map(PathBuf::from).collect();
    for base in ["/usr/lib", "/usr/lib64", "/usr/local/lib", "/usr/local/lib64", "/usr/share"] {
        dirs.push(Path::new(base).join("cmake/opencv4"));
        for triple in ["x86_64-linux-gnu", "aarch64-linux-gnu"] {
            dirs.push(Path::new(base).join(triple).join("cmake/opencv4"));
        }
    }
    dirs
}

/// True for a file name clang-sys accepts as libclang: `libclang.so`, `libclang-14.so`,
/// `libclang.so.1`, `libclang-14.so.14.0.6` (not `libclang-cpp*` or static archives).
pub fn is_libclang_name(name: &str) -> bool {
    let Some(mut rest) = name.strip_prefix("libclang") else {
        return false;
    };
    let version_ok = |v: &str| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit() || c == '.');
    if let Some(r) = rest.strip_prefix('-') {
        let Some(n) = r.find(".so") else {
            return false;
        };
        if !version_ok(&r[..n]) {
            return false;
        }
        rest = &r[n..];
    }
    match rest.strip_prefix(".so") {
        Some("") => true,
        Some(suffix) => suffix.strip_prefix('.').is_some_and(version_ok),
        None => false,
    }
}

/// libclang: `LIBCLANG_PATH` (a directory or the file), else the first of `dirs` (and one
/// level of sub-folders named `llvm-*`) that holds a libclang shared library.
pub fn find_libclang(env: EnvLookup<'_>, dirs: &[PathBuf]) -> Result<PathBuf, Missing> {
    let has_lib = |dir: &Path| -> Option<PathBuf> {
        let entries = std::fs::read_dir(dir).ok()?;
        entries
            .filter_map(|e| e.ok())
            .find(|e| e.file_name().to_str().is_some_and(is_libclang_name))
            .map(|e| e.path())
    };
    if let Some(p) = env("LIBCLANG_PATH") {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        return has_lib(&p).ok_or_else(|| {
            Missing::LibClang(format!("LIBCLANG_PATH={} holds no libclang*.so*", p.display()))
        });
    }
    let mut searched = Vec::new();
    for dir in dirs {
        if let Some(found) = has_lib(dir) {
            return Ok(found);
        }
        searched.push(dir.display().to_string());
    }
    Err(Missing::LibClang(format!(
        "no libclang*.so* in {}",
        if searched.is_empty() { "(no directories)".to_string() } else { searched.join(", ") }
    )))
}

/// The directories clang-sys searches on Linux, in a short form: `llvm-config --libdir`,
/// `/usr/lib/llvm-*/lib`, `/usr/local/lib*`, `/usr/lib*` and their multiarch folders.
pub fn default_libclang_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Ok(out) = Command::new("llvm-config").arg("--libdir").output() {
        if out.status.success() {
            dirs.push(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
        }
    }
    for base in ["/usr/lib", "/usr/local/lib", "/usr/lib64", "/usr/local/lib64"] {
        if let Ok(entries) = std::fs::read_dir(base) {
            let mut llvm: Vec<PathBuf> = entries
                .filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_str().is_some_and(|n| n.starts_with("llvm")))
                .map(|e| e.path().join("lib"))
                .collect();
            llvm.sort();
            llvm.reverse(); // newest LLVM first
            dirs.extend(llvm);
        }
        dirs.push(PathBuf::from(base));
        for triple in ["x86_64-linux-gnu", "aarch64-linux-gnu"] {
            dirs.push(Path::new(base).join(triple));
        }
    }
    dirs
}

/// An executable: the path in `var` if set, else the first of `names` found in `PATH`.
pub fn find_program(env: EnvLookup<'_>, var: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = env(var) {
        // CXX may carry arguments ("ccache g++"); the last word that exists decides.
        return p.split_whitespace().map(PathBuf::from).find(|c| {
            c.is_file() || path_dirs(env).iter().any(|d| d.join(c).is_file())
        });
    }
    let dirs = path_dirs(env);
    names
        .iter()
        .flat_map(|n| dirs.iter().map(move |d| d.join(n)))
        .find(|p| p.is_file())
}

fn path_dirs(env: EnvLookup<'_>) -> Vec<PathBuf> {
    env("PATH").map(|p| env::split_paths(&p).collect()).unwrap_or_default()
}

/// Every check; empty when the source build can go on.
pub fn check_all(env: EnvLookup<'_>, libclang_dirs: &[PathBuf], cmake_dirs: &[PathBuf]) -> Vec<Missing> {
    let mut missing = Vec::new();
    if let Err(m) = check_opencv(env, cmake_dirs) {
        missing.push(m);
    }
    if let Err(m) = find_libclang(env, libclang_dirs) {
        missing.push(m);
    }
    let clangs: Vec<String> =
        std::iter::once("clang".to_string()).chain((11..=22).rev().map(|v| format!("clang-{v}"))).collect();
    let clang_names: Vec<&str> = clangs.iter().map(String::as_str).collect();
    if find_program(env, "CLANG_PATH", &clang_names).is_none() {
        missing.push(Missing::Clang("no clang or clang-<N> in PATH".into()));
    }
    if find_program(env, "CXX", &["c++", "g++", "clang++"]).is_none() {
        missing.push(Missing::CxxCompiler("no c++, g++ or clang++ in PATH (and CXX unset)".into()));
    }
    missing
}
