//! Gives the shared object a SONAME carrying the wire-ABI major, so a
//! runtime linked against `libl3l2q.so.1` never loads an incompatible one.

fn main() {
    let major = env!("CARGO_PKG_VERSION_MAJOR");
    // Pre-1.0 crate versions still ship ABI 1 of the C interface.
    let abi_major = if major == "0" { "1" } else { major };
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os == "linux" || target_os == "android" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libl3l2q.so.{abi_major}");
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
