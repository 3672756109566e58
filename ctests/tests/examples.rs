//! Builds and runs every example under `examples/` against the library of
//! this very `cargo test` run: the C L3 host driving the C and the C++ (RAII
//! wrapper) L2 workers as two processes over POSIX shared memory, linked
//! shared and static; the Python host (the `l3l2q` package from `python/`)
//! driving both workers (skipped with a note when `python3` with cffi is
//! missing); and the C++ wrapper test
//! `ctests/hpp_wrapper.cpp` built again with `-fno-exceptions -fno-rtti`.
//! Every process runs under a deadline and is killed past it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use l3l2q_ctests::{self as cbuild, Linkage};

/// Longest any one example process may run.
const DEADLINE: Duration = Duration::from_secs(20);

fn example(rel: &str) -> PathBuf {
    cbuild::root().join("examples").join(rel)
}

/// Runs `cmd` to completion within [`DEADLINE`] (killing it past that) and
/// returns its output and process id; panics on a timeout.
fn run_bounded(mut cmd: Command) -> (Output, u32) {
    cbuild::isolate(&mut cmd);
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {what}: {e}"));
    // Drain the pipes on threads so a chatty child cannot block on a full pipe.
    let mut out_pipe = child.stdout.take().unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut out_pipe, &mut v);
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut err_pipe, &mut v);
        v
    });
    let pid = child.id();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let output = Output {
        status,
        stdout: out_reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
    };
    eprintln!("{what} -> {status} in {:?}", started.elapsed());
    (output, pid)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts the run succeeded and returns (stdout, stderr).
fn expect_success(output: &Output) -> (String, String) {
    let (out, err) = (text(&output.stdout), text(&output.stderr));
    assert!(
        output.status.success(),
        "failed with {}:\n--- stdout\n{out}\n--- stderr\n{err}",
        output.status
    );
    (out, err)
}

/// Asserts the host that ran as `pid` removed its shared-memory object
/// (named `/{prefix}{pid}`; on Linux it shows up under /dev/shm).
fn assert_no_shm_left(prefix: &str, pid: u32) {
    let path = PathBuf::from(format!("/dev/shm/{prefix}{pid}"));
    assert!(
        !path.exists(),
        "shared-memory object left behind: {}",
        path.display()
    );
}

struct Programs {
    host: PathBuf,
    c_worker: PathBuf,
    cpp_worker: PathBuf,
}

fn build_examples(dir: &Path, linkage: Linkage) -> Programs {
    Programs {
        host: cbuild::compile(dir, "l3_host", &[example("c/l3_host.c")], linkage, &[]),
        c_worker: cbuild::compile(
            dir,
            "l2_worker_c",
            &[example("c/l2_worker.c")],
            linkage,
            &[],
        ),
        // The C++ worker is built without exceptions or RTTI: the L2 path needs neither.
        cpp_worker: cbuild::compile(
            dir,
            "l2_worker_cpp",
            &[example("cpp/l2_worker.cpp")],
            linkage,
            &["-fno-exceptions", "-fno-rtti"],
        ),
    }
}

/// Runs the C host against `worker` with `count` requests and checks both
/// processes' reports.
fn run_c_host(host: &Path, worker: &Path, count: u32, worker_banner: &str) {
    let mut cmd = cbuild::program(host);
    cmd.arg(worker).arg(count.to_string());
    let (output, pid) = run_bounded(cmd);
    let (out, err) = expect_success(&output);
    assert_no_shm_left("l3l2q-example-", pid);
    assert!(
        out.contains(&format!(
            "l3_host: {count} requests answered; worker exited with 0"
        )),
        "stdout:\n{out}"
    );
    assert!(
        out.contains("reply 5 (ERROR): HOST-SIDE ERROR REPORT #5"),
        "the ERROR request comes back as ERROR:\n{out}"
    );
    assert!(
        err.contains(&format!("{worker_banner}: drained after {count} messages")),
        "stderr:\n{err}"
    );
}

#[test]
fn c_host_drives_c_and_cpp_workers_shared_and_static() {
    let dir = cbuild::scratch("examples_c");
    for linkage in [Linkage::Shared, Linkage::Static] {
        let p = build_examples(&dir, linkage);
        run_c_host(&p.host, &p.c_worker, 1000, "l2_worker");
        run_c_host(&p.host, &p.cpp_worker, 1000, "l2_worker (C++)");
    }
}

#[test]
fn c_host_fails_fast_and_cleans_up_when_the_worker_cannot_start() {
    let dir = cbuild::scratch("examples_c_failure");
    let host = cbuild::compile(
        &dir,
        "l3_host",
        &[example("c/l3_host.c")],
        Linkage::Shared,
        &[],
    );
    let started = Instant::now();
    let mut cmd = cbuild::program(&host);
    cmd.arg(dir.join("no-such-worker")).arg("10");
    let (output, pid) = run_bounded(cmd);
    assert_no_shm_left("l3l2q-example-", pid);
    assert!(
        !output.status.success(),
        "the host must report the missing worker"
    );
    assert!(
        text(&output.stderr).contains("worker exited early"),
        "stderr:\n{}",
        text(&output.stderr)
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "noticed too late: {:?}",
        started.elapsed()
    );

    // A worker pointed at a region that does not exist, or given too few
    // scalars, refuses to start (exit 2) instead of waiting.
    let worker = cbuild::compile(
        &dir,
        "l2_worker_c",
        &[example("c/l2_worker.c")],
        Linkage::Shared,
        &[],
    );
    let cpp_worker = cbuild::compile(
        &dir,
        "l2_worker_cpp",
        &[example("cpp/l2_worker.cpp")],
        Linkage::Shared,
        &["-fno-exceptions"],
    );
    for (exe, banner) in [
        (&worker, "l2_worker: open"),
        (&cpp_worker, "l2_worker: open"),
    ] {
        let mut cmd = cbuild::program(exe);
        cmd.arg("/l3l2q-example-does-not-exist").args(["0"; 12]);
        let (output, _) = run_bounded(cmd);
        assert_eq!(
            output.status.code(),
            Some(2),
            "stderr:\n{}",
            text(&output.stderr)
        );
        assert!(
            text(&output.stderr).contains(banner),
            "stderr:\n{}",
            text(&output.stderr)
        );
        let mut cmd = cbuild::program(exe);
        cmd.arg("/only-one-arg");
        assert_eq!(run_bounded(cmd).0.status.code(), Some(2));
    }
}

fn python3() -> Option<PathBuf> {
    let probe = Command::new("python3")
        .args(["-c", "import cffi, sys; print(sys.executable)"])
        .output()
        .ok()?;
    probe
        .status
        .success()
        .then(|| PathBuf::from(text(&probe.stdout).trim()))
}

#[test]
fn python_host_drives_c_and_cpp_workers() {
    let Some(python) = python3() else {
        eprintln!("NOTE: python3 with cffi not found; skipping the Python host example");
        return;
    };
    let dir = cbuild::scratch("examples_python");
    let p = build_examples(&dir, Linkage::Shared);
    let script = example("python/l3_host.py");
    let count = 64;
    for (worker, banner) in [
        (&p.c_worker, "l2_worker"),
        (&p.cpp_worker, "l2_worker (C++)"),
    ] {
        // Once with an explicit path, once by SONAME (libl3l2q.so.1 in `dir`).
        for by_soname in [false, true] {
            let mut cmd = Command::new(&python);
            // The package from this checkout (python/), uninstalled: it
            // reads include/l3l2q.h and loads the library given below.
            cmd.env("PYTHONPATH", cbuild::root().join("python"));
            cmd.arg(&script)
                .arg(worker)
                .args(["--count", &count.to_string()]);
            if by_soname {
                cmd.env("LD_LIBRARY_PATH", &dir);
            } else {
                cmd.arg("--lib").arg(cbuild::shared_library());
            }
            let (output, pid) = run_bounded(cmd);
            let (out, err) = expect_success(&output);
            assert_no_shm_left("l3l2q-py-", pid);
            assert!(
                out.contains(&format!(
                    "l3_host.py: {count} requests answered; worker exited with 0"
                )),
                "stdout:\n{out}"
            );
            assert!(
                out.contains("reply 5 (ERROR): 'HOST-SIDE ERROR REPORT #5'"),
                "stdout:\n{out}"
            );
            assert!(
                out.contains("reply 7 (DATA): ''"),
                "the zero-byte request comes back empty:\n{out}"
            );
            assert!(
                err.contains(&format!("{banner}: drained after {count} messages")),
                "stderr:\n{err}"
            );
        }
    }
    // A worker that cannot be started is an error, and nothing is left behind.
    let mut cmd = Command::new(&python);
    cmd.env("PYTHONPATH", cbuild::root().join("python"));
    cmd.arg(&script)
        .arg(dir.join("no-such-worker"))
        .arg("--lib")
        .arg(cbuild::shared_library());
    let (output, pid) = run_bounded(cmd);
    assert_eq!(
        output.status.code(),
        Some(1),
        "stderr:\n{}",
        text(&output.stderr)
    );
    assert!(
        text(&output.stderr).contains("no-such-worker"),
        "stderr:\n{}",
        text(&output.stderr)
    );
    assert_no_shm_left("l3l2q-py-", pid);
}

#[test]
fn hpp_wrapper_test_passes_without_exceptions_or_rtti() {
    let dir = cbuild::scratch("hpp_wrapper_noexcept");
    let source = cbuild::root().join("ctests/hpp_wrapper.cpp");
    for linkage in [Linkage::Shared, Linkage::Static] {
        let exe = cbuild::compile(
            &dir,
            "hpp_wrapper",
            std::slice::from_ref(&source),
            linkage,
            &["-fno-exceptions", "-fno-rtti"],
        );
        let (output, _) = run_bounded(cbuild::program(&exe));
        let (out, _) = expect_success(&output);
        assert!(out.contains("hpp_wrapper: all ok"), "stdout:\n{out}");
    }
}

#[test]
fn compat_headers_are_each_self_contained_and_warning_free_under_strict_flags() {
    // Each path alone (a runtime may include any of the three), with the
    // endpoint template instantiated so its bodies are checked too.
    let endpoint_use = "WorkerChipOrchRegionDesc d{};\n\
         WorkerChipQueueArgs a{};\n\
         WorkerChipQueueEndpoint<2> ep(d, a);\n\
         WorkerChipQueueInputHandle h{};\n\
         WorkerChipQueueOutputReservation r{};\n\
         bool any = ep.input().try_peek(h) || ep.input().peek(0, h) || ep.input().release(h) || ep.input().drained()\n\
             || ep.output().try_reserve(8, r) || ep.output().reserve(8, 0, r) || ep.output().publish(r, WorkerChipQueueOpcode::DATA)\n\
             || ep.disambiguate_timeout() != WorkerChipQueueTimeoutStatus::ORDINARY_TIMEOUT;\n\
         return !any && ep.error().op == WorkerChipQueueOp::INIT && ep.layout().depth == 0 ? 0 : 1;\n";
    let programs = [
        (
            "common/worker_chip_orch_comm.h",
            "WorkerChipOrchRegionDesc d{};\n\
             return worker_chip_orch_comm_magic_version() == worker_chip_orch_comm_pack_magic_version(\n\
                 WORKER_CHIP_ORCH_COMM_MAGIC, WORKER_CHIP_ORCH_COMM_ABI_MAJOR, WORKER_CHIP_ORCH_COMM_ABI_MINOR) && d.region_id == 0 ? 0 : 1;\n"
                .to_string(),
        ),
        (
            "aicpu/worker_chip_orch_endpoint.h",
            "WorkerChipOrchPayloadView v{};\n\
             WorkerChipOrchRegionDesc d{};\n\
             return v.gm_addr == 0 && d.counter_bytes == 0 ? 0 : 1;\n"
                .to_string(),
        ),
        ("aicpu/worker_chip_message_queue.h", endpoint_use.to_string()),
    ];
    let strict = [
        "-Wpedantic",
        "-Wshadow",
        "-Wconversion",
        "-Wsign-conversion",
        "-Wold-style-cast",
        "-Wnon-virtual-dtor",
    ];
    for (i, (header, body)) in programs.iter().enumerate() {
        let dir = cbuild::scratch(&format!("compat_strict_{i}"));
        // The compat_ prefix gets -Iinclude/compat -fno-exceptions -fno-rtti.
        let source = dir.join(format!("compat_only_{i}.cpp"));
        std::fs::write(
            &source,
            format!("#include \"{header}\"\nint main() {{\n{body}}}\n"),
        )
        .unwrap();
        let exe = cbuild::compile(&dir, "compat_only", &[source], Linkage::Shared, &strict);
        expect_success(&run_bounded(cbuild::program(exe)).0);
    }
}

#[test]
fn hpp_header_is_self_contained_and_warning_free_under_strict_flags() {
    let dir = cbuild::scratch("hpp_strict");
    let source = dir.join("only_header.cpp");
    std::fs::write(
        &source,
        "#include \"l3l2q.hpp\"\n\
         int main() {\n\
             l3l2q::L3Queue q;\n\
             l3l2q::Message m;\n\
             return q.output().try_peek(m) == l3l2q::Status::BadArgument ? 0 : 1;\n\
         }\n",
    )
    .unwrap();
    let strict = [
        "-Wpedantic",
        "-Wshadow",
        "-Wconversion",
        "-Wsign-conversion",
        "-Wold-style-cast",
        "-Wnon-virtual-dtor",
        "-fno-exceptions",
        "-fno-rtti",
    ];
    let exe = cbuild::compile(&dir, "only_header", &[source], Linkage::Shared, &strict);
    expect_success(&run_bounded(cbuild::program(exe)).0);
    // Ignoring a Status is a compile error under -Werror ([[nodiscard]]).
    let ignored = dir.join("ignored_status.cpp");
    std::fs::write(&ignored, "#include \"l3l2q.hpp\"\nint main() { l3l2q::L3Queue q; q.input().try_request_stop(); return 0; }\n").unwrap();
    let target = option_env!("L3L2Q_BUILD_TARGET").unwrap_or("x86_64-unknown-linux-gnu");
    let tool = cc::Build::new()
        .cpp(true)
        .cargo_metadata(false)
        .cargo_warnings(false)
        .opt_level(0)
        .host(target)
        .target(target)
        .out_dir(&dir)
        .get_compiler();
    let out = Command::new(tool.path())
        .args(["-std=c++17", "-Wall", "-Werror", "-fsyntax-only", "-I"])
        .arg(cbuild::root().join("include"))
        .arg(&ignored)
        .output()
        .expect("run the compiler");
    assert!(
        !out.status.success(),
        "a discarded Status must not compile under -Werror"
    );
    assert!(
        text(&out.stderr).contains("nodiscard") || text(&out.stderr).contains("unused"),
        "{}",
        text(&out.stderr)
    );
}

// ---- packaging: the install block of docs/PACKAGING.md, pkg-config, CMake ----

/// Runs the documented install into `<dir>/prefix` from this run's library;
/// returns (prefix, libdir).
fn install_into(dir: &Path) -> (PathBuf, PathBuf) {
    let prefix = dir.join("prefix");
    let mut cmd = Command::new("sh");
    cmd.arg("-ec")
        .arg(documented_block("install"))
        .current_dir(cbuild::root());
    cmd.env("PREFIX", &prefix)
        .env("TARGET_DIR", cbuild::library_dir())
        .env_remove("LIBDIR");
    expect_success(&run_bounded(cmd).0);
    let libdir = prefix.join("lib");
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        std::fs::symlink_metadata(libdir.join(format!("libl3l2q.so.{version}")))
            .unwrap()
            .file_type()
            .is_file()
    );
    assert_eq!(
        std::fs::read_link(libdir.join("libl3l2q.so.1")).unwrap(),
        PathBuf::from(format!("libl3l2q.so.{version}"))
    );
    assert_eq!(
        std::fs::read_link(libdir.join("libl3l2q.so")).unwrap(),
        PathBuf::from("libl3l2q.so.1")
    );
    for file in [
        "lib/libl3l2q.a",
        "include/l3l2q.h",
        "include/l3l2q.hpp",
        "lib/pkgconfig/l3l2q.pc",
        "lib/cmake/l3l2q/l3l2qConfig.cmake",
        "lib/cmake/l3l2q/l3l2qConfigVersion.cmake",
        "include/l3l2q/compat/aicpu/worker_chip_message_queue.h",
        "include/l3l2q/compat/aicpu/worker_chip_orch_endpoint.h",
        "include/l3l2q/compat/common/worker_chip_orch_comm.h",
    ] {
        assert!(prefix.join(file).is_file(), "{file} not installed");
    }
    let pc = std::fs::read_to_string(libdir.join("pkgconfig/l3l2q.pc")).unwrap();
    assert!(
        !pc.contains('@'),
        "unsubstituted template variable in l3l2q.pc:\n{pc}"
    );
    (prefix, libdir)
}

fn compiler_path(cpp: bool, dir: &Path) -> PathBuf {
    let target = option_env!("L3L2Q_BUILD_TARGET").unwrap_or("x86_64-unknown-linux-gnu");
    let tool = cc::Build::new()
        .cpp(cpp)
        .cargo_metadata(false)
        .cargo_warnings(false)
        .opt_level(0)
        .host(target)
        .target(target)
        .out_dir(dir)
        .get_compiler();
    tool.path().to_path_buf()
}

fn tool_available(name: &str) -> bool {
    Command::new(name)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `readelf -d` NEEDED entries of a program.
fn needed(exe: &Path) -> Vec<String> {
    let out = Command::new("readelf")
        .arg("-d")
        .arg(exe)
        .output()
        .expect("readelf (binutils)");
    text(&out.stdout)
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| l.split('[').nth(1))
        .map(|s| s.trim_end_matches(']').to_string())
        .collect()
}

const APP_C: &str = r#"#include "l3l2q.h"
#include <stdio.h>
int main(void) {
    l3l2q_version_info v;
    l3l2q_layout layout;
    if (l3l2q_version(&v) != L3L2Q_STATUS_OK || v.c_abi_major != L3L2Q_C_ABI_MAJOR) return 1;
    if (l3l2q_layout_compute(4, 128, 192, &layout, NULL) != L3L2Q_STATUS_OK || layout.payload_bytes != 576) return 1;
    printf("app ok %s\n", v.library);
    return 0;
}
"#;

const APP_CPP: &str = r#"#include "l3l2q.hpp"
#include <cstdio>
int main() {
    l3l2q::L3Queue q;
    l3l2q::Message m;
    if (q.output().try_peek(m) != l3l2q::Status::BadArgument) return 1;
    l3l2q_version_info v{};
    if (l3l2q::version(v) != l3l2q::Status::Ok) return 1;
    std::printf("app ok %s\n", v.library);
    return 0;
}
"#;

/// A runtime's source written against the other implementation's include
/// paths, built against the installed drop-in headers.
const APP_COMPAT: &str = r#"#include "aicpu/worker_chip_message_queue.h"
#include "common/worker_chip_orch_comm.h"
#include <cstdio>
int main() {
    WorkerChipQueueLayout layout;
    if (!worker_chip_queue_make_layout(4, 128, 192, layout) || layout.payload_bytes != 576) return 1;
    WorkerChipOrchRegionDesc region{};
    WorkerChipQueueArgs args{};
    WorkerChipQueueEndpoint<2> ep(region, args);
    if (ep.error().kind != WorkerChipQueueErrorKind::BAD_DESCRIPTOR || ep.error().op != WorkerChipQueueOp::INIT) return 1;
    l3l2q_version_info v;
    if (l3l2q_version(&v) != L3L2Q_STATUS_OK) return 1;
    std::printf("app ok %s\n", v.library);
    return 0;
}
"#;

const DLOPEN_C: &str = r#"#include <dlfcn.h>
#include <stdio.h>
#include "l3l2q.h"
int main(void) {
    void *lib = dlopen("libl3l2q.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) { fprintf(stderr, "%s\n", dlerror()); return 1; }
    l3l2q_status (*version)(l3l2q_version_info *) = (l3l2q_status (*)(l3l2q_version_info *))dlsym(lib, "l3l2q_version");
    l3l2q_version_info v;
    if (!version || version(&v) != L3L2Q_STATUS_OK || v.c_abi_major != L3L2Q_C_ABI_MAJOR || v.major != L3L2Q_VERSION_MAJOR) return 1;
    printf("app ok %s\n", v.library);
    return dlclose(lib);
}
"#;

/// Builds with `args` (shell-split by the caller) and runs the program,
/// expecting "app ok <version>".
fn build_and_run(
    dir: &Path,
    cpp: bool,
    name: &str,
    source: &str,
    args: &[String],
    ld_path: Option<&Path>,
) -> PathBuf {
    let src = dir.join(format!("{name}.{}", if cpp { "cpp" } else { "c" }));
    std::fs::write(&src, source).unwrap();
    let exe = dir.join(name);
    let mut cmd = Command::new(compiler_path(cpp, dir));
    cmd.args([
        "-Wall",
        "-Wextra",
        "-Werror",
        if cpp { "-std=c++17" } else { "-std=c11" },
    ])
    .arg(&src)
    .arg("-o")
    .arg(&exe)
    .args(args);
    expect_success(&run_bounded(cmd).0);
    let mut run = cbuild::program(&exe);
    run.env_remove("LD_LIBRARY_PATH");
    if let Some(path) = ld_path {
        run.env("LD_LIBRARY_PATH", path);
    }
    let (out, _) = expect_success(&run_bounded(run).0);
    assert_eq!(out.trim(), format!("app ok {}", env!("CARGO_PKG_VERSION")));
    exe
}

/// The shell block between `<!-- NAME:begin -->` and `<!-- NAME:end -->`
/// of docs/PACKAGING.md.
fn documented_block(name: &str) -> String {
    let doc = std::fs::read_to_string(cbuild::root().join("docs/PACKAGING.md"))
        .expect("docs/PACKAGING.md");
    let begin = format!("<!-- {name}:begin -->");
    let end = format!("<!-- {name}:end -->");
    let start = doc.find(&begin).unwrap_or_else(|| panic!("{begin} marker"));
    let stop = doc.find(&end).unwrap_or_else(|| panic!("{end} marker"));
    doc[start..stop]
        .split("```sh")
        .nth(1)
        .expect("a ```sh block")
        .split("```")
        .next()
        .unwrap()
        .to_string()
}

/// The documented way to link from the build tree, verbatim, in a directory
/// laid out like a checkout whose `target/release` is this run's library
/// directory: build.rs must have put the SONAME link beside the library.
#[test]
fn documented_build_tree_linking_runs() {
    let libdir = cbuild::library_dir();
    assert_eq!(
        std::fs::read_link(libdir.join("libl3l2q.so.1")).expect("build.rs made the SONAME link"),
        PathBuf::from("libl3l2q.so")
    );
    let dir = cbuild::scratch("build_tree");
    std::fs::create_dir_all(dir.join("target")).unwrap();
    std::os::unix::fs::symlink(&libdir, dir.join("target/release")).unwrap();
    std::os::unix::fs::symlink(cbuild::root().join("include"), dir.join("include")).unwrap();
    std::fs::write(dir.join("app.c"), APP_C).unwrap();
    let script = documented_block("build-tree");
    assert!(
        script
            .trim_start()
            .starts_with("cc app.c -Iinclude -Ltarget/release -ll3l2q"),
        "{script}"
    );
    // `cc` there means the compiler for the target under test.
    let mut cmd = Command::new("sh");
    cmd.arg("-ec")
        .arg(format!(
            "\"$CC\"{}",
            script.trim_start().strip_prefix("cc").unwrap()
        ))
        .current_dir(&dir)
        .env("CC", compiler_path(false, &dir));
    expect_success(&run_bounded(cmd).0);
    let exe = dir.join("app");
    assert!(
        needed(&exe).contains(&"libl3l2q.so.1".to_string()),
        "{:?}",
        needed(&exe)
    );
    let mut run = cbuild::program(&exe);
    run.env_remove("LD_LIBRARY_PATH");
    let (out, _) = expect_success(&run_bounded(run).0);
    assert_eq!(out.trim(), format!("app ok {}", env!("CARGO_PKG_VERSION")));
}

fn pkg_config(prefix: &Path, args: &[&str]) -> Vec<String> {
    let out = Command::new("pkg-config")
        .args(args)
        .arg("l3l2q")
        .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig"))
        .output()
        .expect("pkg-config");
    assert!(
        out.status.success(),
        "pkg-config {args:?}: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

#[test]
fn documented_install_links_by_name_by_path_static_and_dlopen() {
    let dir = cbuild::scratch("packaging");
    let (prefix, libdir) = install_into(&dir);
    let include = format!("-I{}", prefix.join("include").display());

    if tool_available("pkg-config") {
        assert_eq!(
            pkg_config(&prefix, &["--modversion"]),
            [env!("CARGO_PKG_VERSION")]
        );
        let libs = pkg_config(&prefix, &["--libs"]);
        assert!(libs.contains(&"-ll3l2q".to_string()), "{libs:?}");
        let static_libs = pkg_config(&prefix, &["--static", "--libs"]);
        for lib in ["-lpthread", "-ldl", "-lm"] {
            assert!(
                static_libs.contains(&lib.to_string()),
                "--static --libs lacks {lib}: {static_libs:?}"
            );
        }
        // By name: -ll3l2q through pkg-config; the program needs the SONAME.
        let mut args = pkg_config(&prefix, &["--cflags", "--libs"]);
        let exe = build_and_run(&dir, false, "by_name", APP_C, &args, Some(&libdir));
        assert!(
            needed(&exe).contains(&"libl3l2q.so.1".to_string()),
            "{:?}",
            needed(&exe)
        );
        // The C++ wrapper needs nothing more, with or without exceptions.
        args.extend(["-fno-exceptions".to_string(), "-fno-rtti".to_string()]);
        build_and_run(&dir, true, "by_name_cpp", APP_CPP, &args, Some(&libdir));
        // The drop-in headers: one more include directory, named by a variable.
        let compat = pkg_config(&prefix, &["--variable=compatincludedir"]);
        assert_eq!(
            compat,
            [prefix.join("include/l3l2q/compat").display().to_string()]
        );
        args.push(format!("-I{}", compat[0]));
        build_and_run(&dir, true, "compat_cpp", APP_COMPAT, &args, Some(&libdir));
    } else {
        eprintln!("NOTE: pkg-config not found; skipping the pkg-config checks");
    }

    // By path, shared, with an rpath: runs with no LD_LIBRARY_PATH.
    let args = vec![
        include.clone(),
        libdir.join("libl3l2q.so.1").display().to_string(),
        format!("-Wl,-rpath,{}", libdir.display()),
    ];
    let exe = build_and_run(&dir, false, "by_path", APP_C, &args, None);
    assert!(
        needed(&exe).contains(&"libl3l2q.so.1".to_string()),
        "{:?}",
        needed(&exe)
    );

    // Static, by the archive's path plus the documented system libraries:
    // no libl3l2q needed at run time.
    let args = vec![
        include.clone(),
        libdir.join("libl3l2q.a").display().to_string(),
        "-lpthread".into(),
        "-ldl".into(),
        "-lm".into(),
    ];
    let exe = build_and_run(&dir, false, "static", APP_C, &args, None);
    assert!(
        !needed(&exe).iter().any(|n| n.contains("l3l2q")),
        "{:?}",
        needed(&exe)
    );

    // dlopen by SONAME, linked to nothing but libdl.
    build_and_run(
        &dir,
        false,
        "dlopen",
        DLOPEN_C,
        &[include, "-ldl".into()],
        Some(&libdir),
    );
}

#[test]
fn cmake_find_package_links_shared_and_static() {
    if !tool_available("cmake") {
        eprintln!("NOTE: cmake not found; skipping the CMake package check");
        return;
    }
    let dir = cbuild::scratch("packaging_cmake");
    let (prefix, _) = install_into(&dir);
    let project = dir.join("project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("app.c"), APP_C).unwrap();
    std::fs::write(project.join("app.cpp"), APP_CPP).unwrap();
    std::fs::write(project.join("runtime.cpp"), APP_COMPAT).unwrap();
    std::fs::write(
        project.join("CMakeLists.txt"),
        "cmake_minimum_required(VERSION 3.14)\n\
         project(app C CXX)\n\
         set(CMAKE_CXX_STANDARD 17)\n\
         find_package(l3l2q ${WANT} REQUIRED)\n\
         add_executable(app_shared app.c)\n\
         target_link_libraries(app_shared PRIVATE l3l2q::l3l2q)\n\
         add_executable(app_static app.cpp)\n\
         target_compile_options(app_static PRIVATE -fno-exceptions -fno-rtti)\n\
         target_link_libraries(app_static PRIVATE l3l2q::l3l2q_static)\n\
         add_executable(runtime_shared runtime.cpp)\n\
         target_compile_options(runtime_shared PRIVATE -fno-exceptions -fno-rtti)\n\
         target_link_libraries(runtime_shared PRIVATE l3l2q::compat)\n\
         add_executable(runtime_static runtime.cpp)\n\
         target_link_libraries(runtime_static PRIVATE l3l2q::compat_static)\n",
    )
    .unwrap();
    let configure = |build: &Path, want: &str| {
        let mut cmd = Command::new("cmake");
        cmd.arg("-S")
            .arg(&project)
            .arg("-B")
            .arg(build)
            .arg(format!("-DCMAKE_PREFIX_PATH={}", prefix.display()))
            .arg(format!("-DWANT={want}"));
        cmd.env("CC", compiler_path(false, &dir))
            .env("CXX", compiler_path(true, &dir));
        run_bounded(cmd).0
    };
    let build = dir.join("build");
    expect_success(&configure(&build, "0.1"));
    let mut cmd = Command::new("cmake");
    cmd.arg("--build").arg(&build);
    expect_success(&run_bounded(cmd).0);
    for (exe, shared) in [
        ("app_shared", true),
        ("app_static", false),
        ("runtime_shared", true),
        ("runtime_static", false),
    ] {
        let path = build.join(exe);
        let (out, _) = expect_success(&run_bounded(cbuild::program(&path)).0); // the build rpath finds the .so
        assert_eq!(out.trim(), format!("app ok {}", env!("CARGO_PKG_VERSION")));
        assert_eq!(
            needed(&path).contains(&"libl3l2q.so.1".to_string()),
            shared,
            "{exe}: {:?}",
            needed(&path)
        );
    }
    // The version file refuses an incompatible request (pre-1.0: the minor must match).
    let refused = configure(&dir.join("build-refused"), "0.2");
    assert!(
        !refused.status.success(),
        "find_package(l3l2q 0.2) must fail against {}",
        env!("CARGO_PKG_VERSION")
    );
}

#[test]
fn packaging_files_track_the_crate_version() {
    let version_file =
        std::fs::read_to_string(cbuild::root().join("cmake/l3l2qConfigVersion.cmake")).unwrap();
    assert!(
        version_file.contains(&format!(
            "set(PACKAGE_VERSION \"{}\")",
            env!("CARGO_PKG_VERSION")
        )),
        "cmake/l3l2qConfigVersion.cmake is not at {}",
        env!("CARGO_PKG_VERSION")
    );
    let pc = std::fs::read_to_string(cbuild::root().join("l3l2q.pc.in")).unwrap();
    for var in ["@PREFIX@", "@LIBDIR@", "@VERSION@"] {
        assert!(pc.contains(var), "l3l2q.pc.in lacks {var}");
    }
    assert!(documented_block("install").contains("l3l2q.pc.in"));
}
