//! Starting a program built for the target under test. On a cross build
//! (`cargo test --target` other than the host, e.g. aarch64 under qemu-user)
//! the kernel cannot execute the target's binaries itself, so they go through
//! the runner cargo uses for the test binaries, `CARGO_TARGET_<TRIPLE>_RUNNER`
//! (e.g. `qemu-aarch64 -L /usr/aarch64-linux-gnu`). Used by the Rust tests
//! that start processes and by the C test kit in `ctests/`.

use std::path::Path;
use std::process::Command;

/// The target the tests were built for and the machine that built them,
/// as the package's build script recorded them.
pub fn triples() -> (&'static str, &'static str) {
    let target = option_env!("L3L2Q_BUILD_TARGET").unwrap_or("x86_64-unknown-linux-gnu");
    (target, option_env!("L3L2Q_BUILD_HOST").unwrap_or(target))
}

/// A command that runs `exe`, through the target's runner on a cross build.
pub fn program(exe: impl AsRef<Path>) -> Command {
    let (target, host) = triples();
    let var = format!(
        "CARGO_TARGET_{}_RUNNER",
        target.to_uppercase().replace(['-', '.'], "_")
    );
    let runner = if target == host {
        None
    } else {
        std::env::var(var).ok()
    };
    let mut words = runner.as_deref().unwrap_or("").split_whitespace();
    match words.next() {
        Some(first) => {
            let mut cmd = Command::new(first);
            cmd.args(words).arg(exe.as_ref());
            cmd
        }
        None => Command::new(exe.as_ref()),
    }
}
