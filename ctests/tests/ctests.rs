//! Builds every C11 (`ctests/*.c`) and C++17 (`ctests/*.cpp`) program,
//! links each against the shared and the static library, runs it and fails
//! on any failure. Programs named `dlopen_*` are linked to nothing and get
//! the shared library's path and the header's function list as arguments.

use std::ffi::OsStr;
use std::path::PathBuf;

use l3l2q_ctests::{self as cbuild, Linkage};

fn programs() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(cbuild::root().join("ctests"))
        .expect("ctests/ exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "c" || e == "cpp"))
        .collect();
    found.sort();
    assert!(!found.is_empty(), "no C/C++ programs under ctests/");
    found
}

fn stem(path: &std::path::Path) -> String {
    let ext = path.extension().unwrap().to_string_lossy().into_owned();
    format!("{}_{ext}", path.file_stem().unwrap().to_string_lossy())
}

#[test]
fn every_ctest_passes_linked_shared_and_static() {
    let mut ran = 0;
    for source in programs()
        .into_iter()
        .filter(|p| !stem(p).starts_with("dlopen_"))
    {
        let name = stem(&source);
        let dir = cbuild::scratch(&name);
        for linkage in [Linkage::Shared, Linkage::Static] {
            let exe = cbuild::compile(&dir, &name, std::slice::from_ref(&source), linkage, &[]);
            let out = cbuild::run(&exe, &[]);
            eprintln!(
                "{name} ({linkage:?}): {}",
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .last()
                    .unwrap_or("")
            );
            ran += 1;
        }
    }
    assert!(ran >= 2);
}

#[test]
fn dlopen_programs_find_every_header_symbol() {
    let functions = cbuild::header_functions();
    assert!(
        functions.len() > 30,
        "header declares too few functions: {functions:?}"
    );
    let library = cbuild::shared_library();
    for source in programs()
        .into_iter()
        .filter(|p| stem(p).starts_with("dlopen_"))
    {
        let name = stem(&source);
        let dir = cbuild::scratch(&name);
        let exe = cbuild::compile(
            &dir,
            &name,
            std::slice::from_ref(&source),
            Linkage::None,
            &[],
        );
        let mut args: Vec<&OsStr> = vec![library.as_os_str()];
        args.extend(functions.iter().map(OsStr::new));
        cbuild::run(&exe, &args);
    }
}
