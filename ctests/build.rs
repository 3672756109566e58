//! Lets the C test kit ask `cc` for a compiler of the target being built,
//! so the C programs cross-compile along with the library.

fn main() {
    if let Ok(target) = std::env::var("TARGET") {
        println!("cargo:rustc-env=L3L2Q_BUILD_TARGET={target}");
    }
    if let Ok(host) = std::env::var("HOST") {
        println!("cargo:rustc-env=L3L2Q_BUILD_HOST={host}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
