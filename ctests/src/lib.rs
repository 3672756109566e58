//! The C test kit: compiles and runs C/C++ programs against the library
//! built by this very `cargo test` run, shared and static. The tests under
//! `ctests/tests/` drive it; the C and C++ programs sit beside this crate's
//! manifest.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "../../tests/support/artifacts.rs"]
mod artifacts;
pub use artifacts::{header_functions, library_dir, root, shared_library};
#[path = "../../tests/support/runner.rs"]
mod runner;
pub use runner::program;
use runner::triples;

/// How a program is linked to l3l2q.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Linkage {
    /// Against `libl3l2q.so` by SONAME, found through an rpath.
    Shared,
    /// Against `libl3l2q.a`.
    Static,
    /// Not linked at all (the program dlopens the library itself).
    None,
}

/// A fresh scratch directory for one test's build products, holding a
/// `libl3l2q.so.1` link so the SONAME resolves through an rpath.
pub fn scratch(name: &str) -> PathBuf {
    scratch_for(name, &library_dir())
}

/// As [`scratch`], with the `libl3l2q.so.1` link pointing into `lib_dir`
/// (another build of the library, such as a release build).
pub fn scratch_for(name: &str, lib_dir: &Path) -> PathBuf {
    let dir = lib_dir.join("ctests").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    let soname = dir.join("libl3l2q.so.1");
    std::os::unix::fs::symlink(lib_dir.join("libl3l2q.so"), &soname).expect("soname link");
    dir
}

/// Builds the library with `cargo build --release --lib` into its own
/// target directory next to this test build's (so it neither waits for
/// nor disturbs the build lock of the `cargo test` running this), and
/// returns the directory holding its `libl3l2q.so`. The release profile
/// is exactly what users ship; the build is incremental after the first.
pub fn release_library_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // <target>/<profile>/deps/<test binary>
    let target = exe
        .ancestors()
        .nth(3)
        .expect("target dir above the test binary")
        .join("release-for-tests");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["build", "--release", "--lib", "--manifest-path"])
        .arg(root().join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .expect("run cargo build --release");
    assert!(
        out.status.success(),
        "cargo build --release --lib failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = target.join("release");
    assert!(
        dir.join("libl3l2q.so").is_file(),
        "no libl3l2q.so in {}",
        dir.display()
    );
    dir
}

fn compiler(cpp: bool, out_dir: &Path) -> cc::Tool {
    // A distinct host makes cc pick the cross compiler (e.g.
    // aarch64-linux-gnu-gcc) rather than the native `cc`.
    let (target, host) = triples();
    cc::Build::new()
        .cpp(cpp)
        .cargo_metadata(false)
        .cargo_warnings(false)
        .target(target)
        .host(host)
        .opt_level(1)
        .debug(true)
        .out_dir(out_dir)
        .try_get_compiler()
        .expect("a C/C++ compiler (install gcc/g++)")
}

/// Compiles `sources` (all C or all C++, by the first file's extension)
/// into an executable `name` in `dir`, with `-Wall -Wextra -Werror` and
/// the project's `include/` (and, for `compat_*` programs, `include/compat/`
/// with `-fno-exceptions -fno-rtti`). Panics with the compiler's output on failure.
pub fn compile(
    dir: &Path,
    name: &str,
    sources: &[PathBuf],
    linkage: Linkage,
    extra: &[&str],
) -> PathBuf {
    let cpp = sources
        .iter()
        .any(|s| s.extension().is_some_and(|e| e == "cpp"));
    let tool = compiler(cpp, dir);
    let exe = dir.join(format!("{name}-{linkage:?}").to_lowercase());
    let mut cmd = Command::new(tool.path());
    cmd.args(["-Wall", "-Wextra", "-Werror", "-g"]);
    cmd.arg(if cpp { "-std=c++17" } else { "-std=c11" });
    cmd.arg("-D_GNU_SOURCE");
    cmd.arg("-I").arg(root().join("include"));
    cmd.arg("-I").arg(root().join("ctests"));
    // Programs for the drop-in headers (ctests/compat_*) include them as an
    // existing runtime does, and prove they need no exceptions or RTTI.
    if sources.iter().any(|s| {
        s.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("compat_"))
    }) {
        cmd.arg("-I").arg(root().join("include/compat"));
        cmd.args(["-fno-exceptions", "-fno-rtti"]);
    }
    cmd.args(extra);
    cmd.args(sources);
    cmd.arg("-o").arg(&exe);
    match linkage {
        Linkage::Shared => {
            cmd.arg(format!("-L{}", dir.display()));
            cmd.arg("-l:libl3l2q.so.1");
            cmd.arg(format!("-Wl,-rpath,{}", dir.display()));
        }
        Linkage::Static => {
            cmd.arg(library_dir().join("libl3l2q.a"));
        }
        Linkage::None => {}
    }
    cmd.args(["-lpthread", "-ldl", "-lm", "-lrt"]);
    let out = cmd.output().expect("run the compiler");
    assert!(
        out.status.success(),
        "compiling {name} ({linkage:?}) failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

/// Keeps this build's own directories off a program's loader path.
/// `cargo test` puts the profile directory and its `deps/` on
/// `LD_LIBRARY_PATH`, which the loader searches before a program's rpath;
/// the profile directory may hold a `libl3l2q.so` from an earlier
/// `cargo build` (cargo test does not refresh it), reachable by the SONAME
/// link build.rs leaves there, so a program would load that one instead of
/// the library of this run. An explicit setting on `cmd` is kept.
pub fn isolate(cmd: &mut Command) -> &mut Command {
    if cmd.get_envs().any(|(k, _)| k == "LD_LIBRARY_PATH") {
        return cmd;
    }
    let Some(path) = std::env::var_os("LD_LIBRARY_PATH") else {
        return cmd;
    };
    let exe = std::env::current_exe().expect("current exe");
    let Some(profile) = exe.parent().and_then(Path::parent) else {
        return cmd;
    };
    let kept: Vec<PathBuf> = std::env::split_paths(&path)
        .filter(|p| !p.starts_with(profile))
        .collect();
    cmd.env(
        "LD_LIBRARY_PATH",
        std::env::join_paths(kept).expect("paths that were joined before"),
    )
}

/// Runs a program to completion and panics with its output unless it
/// exits 0. Returns the output for further checks.
pub fn run(exe: &Path, args: &[&std::ffi::OsStr]) -> Output {
    let out = isolate(&mut program(exe))
        .args(args)
        .output()
        .expect("run the program");
    assert!(
        out.status.success(),
        "{} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        exe.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Whether `tool` can be run here (`tool --version` exits 0).
pub fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether the C (or C++) compiler accepts and links `flags` for a trivial
/// program, e.g. sanitizer flags whose runtime may not be installed.
pub fn compiler_accepts(cpp: bool, flags: &[&str]) -> bool {
    let dir = std::env::temp_dir().join(format!(
        "l3l2q-probe-{}-{}",
        std::process::id(),
        if cpp { "cpp" } else { "c" }
    ));
    let _ = std::fs::create_dir_all(&dir);
    let source = dir.join(if cpp { "probe.cpp" } else { "probe.c" });
    std::fs::write(&source, "int main(void) { return 0; }\n").expect("write probe source");
    let tool = compiler(cpp, &dir);
    let ok = Command::new(tool.path())
        .args(flags)
        .arg(&source)
        .arg("-o")
        .arg(dir.join("probe"))
        .output()
        .is_ok_and(|o| o.status.success())
        && program(dir.join("probe"))
            .output()
            .is_ok_and(|o| o.status.success());
    let _ = std::fs::remove_dir_all(&dir);
    ok
}

/// Runs `wrapper... exe args...` (the wrapper may be empty) with extra
/// environment variables, bounded by `timeout`; returns the output and
/// the elapsed time, or panics with the output when it does not exit 0.
pub fn run_wrapped(
    wrapper: &[&str],
    exe: &Path,
    args: &[&std::ffi::OsStr],
    env: &[(&str, &str)],
    timeout: std::time::Duration,
) -> (Output, std::time::Duration) {
    let (out, took) = run_wrapped_any(wrapper, exe, args, env, timeout);
    assert!(
        out.status.success(),
        "{} {} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        wrapper.join(" "),
        exe.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, took)
}

/// As [`run_wrapped`], whatever the exit status (panics only on a timeout).
pub fn run_wrapped_any(
    wrapper: &[&str],
    exe: &Path,
    args: &[&std::ffi::OsStr],
    env: &[(&str, &str)],
    timeout: std::time::Duration,
) -> (Output, std::time::Duration) {
    let started = std::time::Instant::now();
    let mut cmd = match wrapper.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(exe);
            c
        }
        None => program(exe),
    };
    cmd.args(args).envs(env.iter().copied());
    isolate(&mut cmd);
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("start the program");
    // Drain the pipes on threads so a chatty program cannot block.
    let mut out_pipe = child.stdout.take().expect("stdout");
    let mut err_pipe = child.stderr.take().expect("stderr");
    let out_thread = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut out_pipe, &mut v).ok();
        v
    });
    let err_thread = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut err_pipe, &mut v).ok();
        v
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{} {} timed out after {timeout:?}",
                wrapper.join(" "),
                exe.display()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let out = Output {
        status,
        stdout: out_thread.join().unwrap_or_default(),
        stderr: err_thread.join().unwrap_or_default(),
    };
    (out, started.elapsed())
}
