//! Gives the shared object a SONAME carrying the C ABI major, so a runtime
//! linked against `libl3l2q.so.1` never loads an incompatible one, and makes
//! that name resolve in the build tree.

use std::path::{Path, PathBuf};

fn main() {
    let major = env!("CARGO_PKG_VERSION_MAJOR");
    // Pre-1.0 crate versions still ship ABI 1 of the C interface.
    let abi_major = if major == "0" { "1" } else { major };
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os == "linux" || target_os == "android" {
        let soname = format!("libl3l2q.so.{abi_major}");
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");
        if let Some(dir) = profile_dir() {
            // `cargo build` leaves the library in the profile directory,
            // `cargo test` only in deps/.
            soname_link(&dir, &soname);
            soname_link(&dir.join("deps"), &soname);
        }
    }
    // The tests that start processes run them through the target's runner
    // on a cross build (tests/support/runner.rs).
    for (var, name) in [
        ("TARGET", "L3L2Q_BUILD_TARGET"),
        ("HOST", "L3L2Q_BUILD_HOST"),
    ] {
        if let Ok(value) = std::env::var(var) {
            println!("cargo:rustc-env={name}={value}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}

/// `<target>/[<triple>/]<profile>/`, where cargo leaves `libl3l2q.so`, from
/// `OUT_DIR` = `<profile dir>/build/l3l2q-<hash>/out`; `None` for any other
/// shape (then no link is made).
fn profile_dir() -> Option<PathBuf> {
    let out = PathBuf::from(std::env::var_os("OUT_DIR")?);
    let build = out.ancestors().nth(2)?;
    if build.file_name()? != "build" {
        return None;
    }
    Some(build.parent()?.to_path_buf())
}

/// Programs linked with `-ll3l2q` record the SONAME and ask the loader for
/// it, but cargo only writes `libl3l2q.so`. So that
/// `cc app.c -Ltarget/release -ll3l2q -Wl,-rpath,$PWD/target/release` runs
/// without an install step, put the SONAME beside it as a relative link
/// (cargo writes the library itself after this script has run; a dangling
/// link until then is harmless). This is the one write outside `OUT_DIR`,
/// and a failure only costs the convenience, so it is not an error.
fn soname_link(dir: &Path, soname: &str) {
    #[cfg(unix)]
    {
        if !dir.is_dir() {
            return;
        }
        let link = dir.join(soname);
        if std::fs::read_link(&link).is_ok_and(|t| t == Path::new("libl3l2q.so")) {
            return;
        }
        let _ = std::fs::remove_file(&link);
        if let Err(e) = std::os::unix::fs::symlink("libl3l2q.so", &link) {
            println!("cargo:warning=could not create {}: {e}", link.display());
        }
    }
    #[cfg(not(unix))]
    let _ = (dir, soname);
}
