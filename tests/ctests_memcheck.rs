//! Memory tools on the C side (issue 7): every `ctests/*.c` and `*.cpp`
//! program (except `dlopen_*`), linked against the shared library, runs
//!
//! - under valgrind memcheck (`--error-exitcode=99 --leak-check=full
//!   --errors-for-leak-kinds=definite`): any invalid access, use of
//!   uninitialised memory, bad free or definite leak fails the test;
//! - compiled with `-fsanitize=address,undefined` (the C/C++ side only;
//!   the Rust library is not instrumented, but its allocations go through
//!   ASan's allocator, so a C program overrunning or leaking a buffer the
//!   library handed out is caught).
//!
//! A tool that is not installed skips its test with a note. Under
//! valgrind the programs get `L3L2Q_CTEST_QUICK=1` so the ones that push
//! many messages can run fewer.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use support::cbuild::{self, Linkage};

fn programs() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(cbuild::root().join("ctests"))
        .expect("ctests/ exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "c" || e == "cpp"))
        .filter(|p| !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("dlopen_")))
        .collect();
    found.sort();
    assert!(found.len() >= 2, "too few C/C++ programs under ctests/");
    found
}

fn stem(path: &Path) -> String {
    let ext = path.extension().unwrap().to_string_lossy().into_owned();
    format!("{}_{ext}", path.file_stem().unwrap().to_string_lossy())
}

fn last_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).lines().last().unwrap_or("").to_string()
}

#[test]
fn every_ctest_is_clean_under_valgrind() {
    if !cbuild::have("valgrind") {
        eprintln!("note: valgrind is not installed; skipped the memcheck runs");
        return;
    }
    let wrapper = ["valgrind", "--error-exitcode=99", "--leak-check=full", "--errors-for-leak-kinds=definite", "--fair-sched=yes", "--quiet"];
    for source in programs() {
        let name = stem(&source);
        let dir = cbuild::scratch(&format!("memcheck_{name}"));
        let exe = cbuild::compile(&dir, &name, std::slice::from_ref(&source), Linkage::Shared, &[]);
        let (out, took) = cbuild::run_wrapped(&wrapper, &exe, &[], &[("L3L2Q_CTEST_QUICK", "1")], Duration::from_secs(300));
        eprintln!("valgrind {name}: clean in {took:.1?}: {}", last_line(&out.stdout));
    }
}

#[test]
fn every_ctest_is_clean_under_asan_and_ubsan() {
    let flags = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"];
    // detect_leaks=1: the programs free everything they create, so a leak
    // is a bug here too (the Rust library's own allocations are made
    // through the same interposed malloc and are covered as well).
    let env = [("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:exitcode=98"), ("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")];
    for source in programs() {
        let name = stem(&source);
        let cpp = name.ends_with("_cpp");
        if !cbuild::compiler_accepts(cpp, &flags) {
            eprintln!("note: the {} compiler cannot build with {flags:?}; skipped {name}", if cpp { "C++" } else { "C" });
            continue;
        }
        let dir = cbuild::scratch(&format!("asan_{name}"));
        let exe = cbuild::compile(&dir, &name, std::slice::from_ref(&source), Linkage::Shared, &flags);
        let (out, took) = cbuild::run_wrapped(&[], &exe, &[], &env, Duration::from_secs(120));
        eprintln!("asan+ubsan {name}: clean in {took:.1?}: {}", last_line(&out.stdout));
    }
}
