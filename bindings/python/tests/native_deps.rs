//! The source-build check of `build.rs` (build_support/native_deps.rs): what it finds on this
//! machine (which has the Debian packages of scripts/setup.sh), and what it reports in
//! environments where OpenCV, libclang, clang or a C++ compiler are out of reach.

#[path = "../build_support/native_deps.rs"]
#[allow(dead_code)]
mod native_deps;

use native_deps::{Missing, check_all, check_opencv, find_libclang, find_program, is_libclang_name};
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("gaze-native-deps-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch(dir)
    }
    fn touch(&self, name: &str) -> PathBuf {
        let p = self.0.join(name);
        fs::write(&p, b"").expect("write file");
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> =
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |k: &str| map.get(k).cloned()
}

/// The real process PATH (pkg-config, clang and the compilers come from there).
fn real_path() -> String {
    std::env::var("PATH").unwrap_or_default()
}

#[test]
fn libclang_file_names() {
    for ok in ["libclang.so", "libclang.so.1", "libclang-14.so", "libclang-14.so.1", "libclang-14.0.6.so", "libclang-14.so.14.0.6"] {
        assert!(is_libclang_name(ok), "{ok} should count as libclang");
    }
    for bad in ["libclang-cpp.so.14", "libclangAST.a", "libclang.a", "libclang.so.x", "libclang-.so", "clang.so", "libclang-14.so.", "libclangBasic.so"] {
        assert!(!is_libclang_name(bad), "{bad} should not count as libclang");
    }
}

#[test]
fn this_machine_has_everything() {
    let env = native_deps::process_env;
    let missing = check_all(&env, &native_deps::default_libclang_dirs(), &native_deps::default_cmake_dirs(&env));
    assert!(missing.is_empty(), "scripts/setup.sh installs all of these: {missing:?}");
    let found = check_opencv(&env, &[]).expect("pkg-config opencv4");
    assert!(found.starts_with("pkg-config opencv4 4."), "{found}");
}

#[test]
fn opencv_missing_when_pkg_config_finds_nothing() {
    let empty = Scratch::new("pc");
    let path = real_path();
    let dir = empty.0.to_str().expect("utf-8 temp dir");
    let env = env_of(&[("PATH", &path), ("PKG_CONFIG_LIBDIR", dir), ("PKG_CONFIG_PATH", dir)]);
    let err = check_opencv(&env, &[empty.0.clone()]).expect_err("no opencv4.pc there");
    let Missing::OpenCv(detail) = &err else { panic!("{err:?}") };
    assert!(detail.contains("does not know opencv4"), "{detail}");
    let msg = native_deps::message(&[err]);
    assert!(msg.contains("sudo apt-get install pkg-config libopencv-dev"), "{msg}");
    assert!(msg.contains("sudo dnf install pkgconf-pkg-config opencv-devel"), "{msg}");

    // An OpenCV 3 pkg-config file is not enough; a CMake config next to it is.
    fs::write(
        empty.0.join("opencv4.pc"),
        "Name: opencv4\nDescription: test\nVersion: 3.4.16\nLibs: -lopencv_core\n",
    )
    .expect("write pc");
    let err = check_opencv(&env, &[empty.0.clone()]).expect_err("3.x is refused");
    assert!(format!("{err:?}").contains("gaze needs 4.x"), "{err:?}");
    empty.touch("OpenCVConfig.cmake");
    let ok = check_opencv(&env, &[empty.0.clone()]).expect("cmake config found");
    assert!(ok.starts_with("CMake config in"), "{ok}");
}

#[test]
fn opencv_override_variables_skip_the_probe() {
    let env = env_of(&[("PATH", ""), ("OPENCV_LINK_LIBS", "opencv_core")]);
    assert_eq!(check_opencv(&env, &[]), Ok("configured by OPENCV_LINK_LIBS".to_string()));
}

#[test]
fn pkg_config_that_cannot_run_is_reported() {
    let env = env_of(&[("PATH", ""), ("PKG_CONFIG", "/nonexistent/pkg-config")]);
    let err = check_opencv(&env, &[]).expect_err("no pkg-config");
    assert!(format!("{err:?}").contains("could not run"), "{err:?}");
}

#[test]
fn libclang_search() {
    let lib = Scratch::new("clang");
    let env = env_of(&[]);
    let err = find_libclang(&env, &[lib.0.clone(), PathBuf::from("/nonexistent")]).expect_err("empty dirs");
    let msg = native_deps::message(std::slice::from_ref(&err));
    assert!(msg.contains("sudo apt-get install libclang-dev"), "{msg}");
    assert!(msg.contains("sudo dnf install clang-devel"), "{msg}");
    assert!(msg.contains("LIBCLANG_PATH"), "{msg}");

    lib.touch("libclang-cpp.so.14"); // not libclang itself
    assert!(find_libclang(&env, std::slice::from_ref(&lib.0)).is_err());
    let real = lib.touch("libclang-14.so.1");
    assert_eq!(find_libclang(&env, &[PathBuf::from("/nonexistent"), lib.0.clone()]), Ok(real.clone()));

    // LIBCLANG_PATH wins over the search list, as a directory or a file.
    let other = Scratch::new("clang-env");
    let dir = other.0.to_str().expect("utf-8");
    let env = env_of(&[("LIBCLANG_PATH", dir)]);
    assert!(find_libclang(&env, std::slice::from_ref(&lib.0)).is_err(), "LIBCLANG_PATH dir has no libclang");
    let file = other.touch("libclang.so");
    assert_eq!(find_libclang(&env, &[]), Ok(file.clone()));
    let env = env_of(&[("LIBCLANG_PATH", file.to_str().expect("utf-8"))]);
    assert_eq!(find_libclang(&env, &[]), Ok(file));
}

#[test]
fn programs_from_path_or_variable() {
    let bin = Scratch::new("bin");
    let path = bin.0.to_str().expect("utf-8").to_string();
    let env = env_of(&[("PATH", &path)]);
    assert_eq!(find_program(&env, "CLANG_PATH", &["clang", "clang-14"]), None);
    let clang14 = bin.touch("clang-14");
    assert_eq!(find_program(&env, "CLANG_PATH", &["clang", "clang-14"]), Some(clang14.clone()));
    let env = env_of(&[("PATH", &path), ("CXX", "ccache clang-14")]);
    assert_eq!(find_program(&env, "CXX", &["c++"]), Some(PathBuf::from("clang-14")));
    let env = env_of(&[("PATH", &path), ("CXX", "/nonexistent/g++")]);
    assert_eq!(find_program(&env, "CXX", &["clang-14"]), None, "a set CXX must exist");
}

#[test]
fn nothing_found_names_every_package() {
    let empty = Scratch::new("none");
    let dir = empty.0.to_str().expect("utf-8");
    let env = env_of(&[("PATH", dir), ("PKG_CONFIG", "/nonexistent/pkg-config")]);
    let missing = check_all(&env, std::slice::from_ref(&empty.0), &[]);
    assert_eq!(missing.len(), 4, "{missing:?}");
    let msg = native_deps::message(&missing);
    assert!(
        msg.contains("sudo apt-get install pkg-config libopencv-dev libclang-dev clang g++"),
        "{msg}"
    );
    assert!(msg.contains("sudo dnf install pkgconf-pkg-config opencv-devel clang-devel clang gcc-c++"), "{msg}");
    assert!(msg.contains("GAZE_SKIP_NATIVE_CHECK"), "{msg}");
    assert!(Path::new(dir).is_dir());
}
