//! Where this build's artifacts are: the repository root, the shared and
//! static libraries `cargo test` just built, and the functions the committed
//! header declares. Used by the Rust tests here and by the C test kit in
//! `ctests/` (which includes this file), so both read them the same way.

use std::path::{Path, PathBuf};

/// The repository root (the directory holding `include/l3l2q.h`), from
/// whichever workspace member's manifest directory this is compiled in.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|d| d.join("include/l3l2q.h").is_file())
        .expect("include/l3l2q.h above the manifest directory")
        .to_path_buf()
}

/// The directory holding `libl3l2q.so` and `libl3l2q.a` of this build.
/// `cargo test` leaves them in `<target>/<profile>/deps/` (and copies them up
/// to `<target>/<profile>/` only on `cargo build`), so look in both and take
/// the newer.
pub fn library_dir() -> PathBuf {
    // The test binary lives in <target>/<profile>/deps/.
    let exe = std::env::current_exe().expect("current exe");
    let deps = exe.parent().expect("deps dir").to_path_buf();
    let profile = deps.parent().expect("target profile dir").to_path_buf();
    let modified = |dir: &Path| -> Option<std::time::SystemTime> {
        let so = std::fs::metadata(dir.join("libl3l2q.so")).ok()?;
        std::fs::metadata(dir.join("libl3l2q.a")).ok()?;
        so.modified().ok()
    };
    match (modified(&deps), modified(&profile)) {
        (Some(d), Some(p)) if p > d => profile,
        (Some(_), _) => deps,
        (None, Some(_)) => profile,
        (None, None) => panic!(
            "libl3l2q.so/.a not built in {} or {}",
            deps.display(),
            profile.display()
        ),
    }
}

/// Path to the shared library of this build.
pub fn shared_library() -> PathBuf {
    library_dir().join("libl3l2q.so")
}

/// Function names the committed header declares.
pub fn header_functions() -> Vec<String> {
    let header = std::fs::read_to_string(root().join("include/l3l2q.h")).expect("header");
    header
        .lines()
        .filter(|l| {
            l.contains('(')
                && l.starts_with(|c: char| c.is_ascii_lowercase())
                && !l.starts_with("typedef")
        })
        .map(|l| {
            l.split('(')
                .next()
                .unwrap()
                .split_whitespace()
                .last()
                .unwrap()
                .trim_start_matches('*')
                .to_string()
        })
        .collect()
}
