//! FFI safety (issue 7).
//!
//! 1. Every exported function's body is one `ffi_boundary!` (checked on
//!    the source, cross-checked against the header and the shared
//!    library's dynamic symbols), apart from the documented string
//!    functions that use `catch_unwind` directly.
//! 2. The boundary works: a panic forced deep inside an operation (the
//!    debug-only `panic_probe`) comes back as `L3L2Q_STATUS_PANIC`, at
//!    every region access of every L3 operation, and the handle can still
//!    be freed.
//! 3. Every pointer argument of every exported function is checked: NULL
//!    and misaligned pointers give `L3L2Q_STATUS_BAD_ARGUMENT`, nothing is
//!    written and no shared state changes.

mod support {
    pub mod artifacts;
    pub mod raw;
}

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use support::artifacts;

// ------------------------------------------------------------ 1. the scan

/// Exported on purpose without `ffi_boundary!`: they return a static
/// string, not a status, so they wrap their body in `catch_unwind`
/// directly and fall back to a fixed text (see `src/ffi/common.rs`).
const CATCH_UNWIND_EXCEPTIONS: [&str; 3] = [
    "l3l2q_status_str",
    "l3l2q_violation_str",
    "l3l2q_error_kind_str",
];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Guard {
    /// The whole body is one `ffi_boundary!` invocation.
    Boundary,
    /// The body calls `catch_unwind` itself.
    CatchUnwind,
    /// Neither; the start of the body for the report.
    Missing(String),
}

#[derive(Debug, Clone)]
struct ExternFn {
    file: PathBuf,
    name: String,
    /// Carries `no_mangle` or `export_name`.
    exported: bool,
    guard: Guard,
}

fn ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Returns the source with comments blanked (`code`) and a copy with the
/// contents of string and char literals blanked too (`masked`); both keep
/// every byte position, so a match in `masked` can be read from `code`.
fn lex(src: &str) -> (Vec<u8>, Vec<u8>) {
    let s = src.as_bytes();
    let n = s.len();
    let mut code = s.to_vec();
    let mut masked = s.to_vec();
    let blank = |v: &mut Vec<u8>, from: usize, to: usize| {
        for b in &mut v[from..to] {
            if *b != b'\n' {
                *b = b' ';
            }
        }
    };
    let mut i = 0;
    while i < n {
        let b = s[i];
        let next = s.get(i + 1).copied().unwrap_or(0);
        if b == b'/' && next == b'/' {
            let end = s[i..].iter().position(|&c| c == b'\n').map_or(n, |p| i + p);
            blank(&mut code, i, end);
            blank(&mut masked, i, end);
            i = end;
        } else if b == b'/' && next == b'*' {
            let (mut depth, mut j) = (0usize, i);
            while j < n {
                if s[j] == b'/' && s.get(j + 1) == Some(&b'*') {
                    depth += 1;
                    j += 2;
                } else if s[j] == b'*' && s.get(j + 1) == Some(&b'/') {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            blank(&mut code, i, j);
            blank(&mut masked, i, j);
            i = j;
        } else if b == b'r'
            && (next == b'"' || next == b'#')
            && (i == 0
                || !ident_byte(s[i - 1])
                || (s[i - 1] == b'b' && (i < 2 || !ident_byte(s[i - 2]))))
        {
            // Raw string r"..." / r#"..."#, possibly after b.
            let hashes = s[i + 1..].iter().take_while(|&&c| c == b'#').count();
            let open = i + 1 + hashes;
            if s.get(open) != Some(&b'"') {
                i += 1;
                continue;
            }
            let mut j = open + 1;
            while j < n
                && !(s[j] == b'"'
                    && s[j + 1..]
                        .iter()
                        .take(hashes)
                        .filter(|&&c| c == b'#')
                        .count()
                        == hashes)
            {
                j += 1;
            }
            blank(&mut masked, open + 1, j.min(n));
            i = (j + 1 + hashes).min(n);
        } else if b == b'"' {
            let mut j = i + 1;
            while j < n && s[j] != b'"' {
                j += if s[j] == b'\\' { 2 } else { 1 };
            }
            blank(&mut masked, i + 1, j.min(n));
            i = j + 1;
        } else if b == b'\'' {
            // A char literal ('x', '\n', '\'', 'é') or a lifetime ('a).
            if next == b'\\' {
                let mut j = i + 3;
                while j < n && s[j] != b'\'' {
                    j += 1;
                }
                blank(&mut masked, i + 1, j.min(n));
                i = j + 1;
            } else if ident_byte(next) && s.get(i + 2) != Some(&b'\'') {
                i += 1; // a lifetime
            } else if let Some(len) = s[i + 1..].iter().take(5).position(|&c| c == b'\'') {
                blank(&mut masked, i + 1, i + 1 + len);
                i += len + 2;
            } else {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    (code, masked)
}

/// Index of the delimiter closing the one at `open` (`(`, `[` or `{`).
fn matching(masked: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0i32;
    for (j, &c) in masked.iter().enumerate().skip(open) {
        match c {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(j);
                }
            }
            _ => {}
        }
    }
    None
}

fn skip_ws(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && s[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

fn word_at(s: &[u8], i: usize, word: &str) -> bool {
    s[i..].starts_with(word.as_bytes())
        && (i == 0 || !ident_byte(s[i - 1]))
        && s.get(i + word.len()).is_none_or(|&c| !ident_byte(c))
}

/// How the body `masked[open..=close]` (braces included) is guarded.
fn guard_of(masked: &[u8], open: usize, close: usize) -> Guard {
    let inner = &masked[open + 1..close];
    let start = skip_ws(inner, 0);
    let text = String::from_utf8_lossy(&inner[start..]).into_owned();
    if word_at(inner, start, "ffi_boundary") {
        let bang = skip_ws(inner, start + "ffi_boundary".len());
        if inner.get(bang) == Some(&b'!') {
            let delim = skip_ws(inner, bang + 1);
            if matches!(inner.get(delim), Some(b'{' | b'(' | b'[')) {
                if let Some(end) = matching(inner, delim) {
                    // Nothing may follow the invocation (but a `;` after a paren form).
                    let rest = String::from_utf8_lossy(&inner[end + 1..]).into_owned();
                    let rest = rest.trim();
                    if rest.is_empty() || (rest == ";" && inner[delim] != b'{') {
                        return Guard::Boundary;
                    }
                }
            }
        }
    }
    if text.contains("catch_unwind") {
        return Guard::CatchUnwind;
    }
    Guard::Missing(
        text.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(80)
            .collect(),
    )
}

/// Every `extern "C"` (or `"C-unwind"`, `"system"`) function *definition*
/// in `src`; function-pointer types and `extern` blocks are not items.
fn scan(file: &Path, src: &str) -> Vec<ExternFn> {
    let (code, masked) = lex(src);
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(p) = masked[i..].windows(6).position(|w| w == b"extern") {
        let at = i + p;
        i = at + 6;
        if !word_at(&masked, at, "extern") {
            continue;
        }
        let q = skip_ws(&masked, at + 6);
        if code.get(q) != Some(&b'"') {
            continue;
        }
        let Some(abi_len) = code[q + 1..].iter().position(|&c| c == b'"') else {
            continue;
        };
        let f = skip_ws(&masked, q + abi_len + 2);
        if !word_at(&masked, f, "fn") {
            continue; // an extern block or crate
        }
        let name_start = skip_ws(&masked, f + 2);
        let name_len = masked[name_start..]
            .iter()
            .take_while(|&&c| ident_byte(c))
            .count();
        if name_len == 0 {
            continue; // `extern "C" fn(...)`: a function-pointer type
        }
        let name = String::from_utf8_lossy(&masked[name_start..name_start + name_len]).into_owned();
        let Some(paren) = masked[name_start..]
            .iter()
            .position(|&c| c == b'(')
            .map(|p| name_start + p)
        else {
            continue;
        };
        let Some(params_end) = matching(&masked, paren) else {
            continue;
        };
        // The body starts at the first `{` outside brackets (a return type may hold `[u8; 4]`).
        let mut j = params_end + 1;
        let mut depth = 0i32;
        let body = loop {
            match masked.get(j) {
                None => break None,
                Some(b'(' | b'[') => depth += 1,
                Some(b')' | b']') => depth -= 1,
                Some(b';') if depth == 0 => break None,
                Some(b'{') if depth == 0 => break Some(j),
                _ => {}
            }
            j += 1;
        };
        let Some(open) = body else { continue }; // a declaration, not a definition
        let Some(close) = matching(&masked, open) else {
            continue;
        };
        // The item's attributes: back to the end of the previous item.
        let item_start = masked[..at]
            .iter()
            .rposition(|&c| matches!(c, b';' | b'}' | b'{'))
            .map_or(0, |p| p + 1);
        let attrs = String::from_utf8_lossy(&masked[item_start..at]).into_owned();
        let exported = attrs.contains("no_mangle") || attrs.contains("export_name");
        found.push(ExternFn {
            file: file.to_path_buf(),
            name,
            exported,
            guard: guard_of(&masked, open, close),
        });
        i = close;
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn scan_crate() -> Vec<ExternFn> {
    let mut files = Vec::new();
    rust_files(&artifacts::root().join("src"), &mut files);
    files.sort();
    files
        .iter()
        .flat_map(|f| scan(f, &std::fs::read_to_string(f).expect("read source")))
        .collect()
}

/// The rule the real sources are held to; returns the violations.
fn violations(functions: &[ExternFn]) -> Vec<String> {
    let mut bad = Vec::new();
    let ffi_dir = artifacts::root().join("src").join("ffi");
    for f in functions.iter().filter(|f| f.exported) {
        if !f.file.starts_with(&ffi_dir) {
            bad.push(format!(
                "{} is exported from {} (the C surface lives in src/ffi/ only)",
                f.name,
                f.file.display()
            ));
        }
        match &f.guard {
            Guard::Boundary => {}
            Guard::CatchUnwind if CATCH_UNWIND_EXCEPTIONS.contains(&f.name.as_str()) => {}
            Guard::CatchUnwind => bad.push(format!("{} uses catch_unwind directly but is not a documented exception; use ffi_boundary!", f.name)),
            Guard::Missing(body) => bad.push(format!("{} ({}) has no panic boundary; its body starts: {body}", f.name, f.file.display())),
        }
    }
    bad
}

#[test]
fn the_scanner_catches_an_unguarded_export() {
    let src = r##"
        // extern "C" fn in_a_comment() {}
        /* #[no_mangle] pub extern "C" fn in_a_block_comment() { } */
        pub struct V { pub f: Option<unsafe extern "C" fn(x: u32) -> i32> }
        extern "C" { fn imported(x: u32); }
        const S: &str = "extern \"C\" fn in_a_string() {}";
        const R: &str = r#"#[no_mangle] extern "C" fn in_a_raw_string() {}"#;
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn guarded(x: *mut u8) -> Status {
            ffi_boundary! {
                let c = '}'; let s = "}}{"; let l: &'static str = s;
                if x.is_null() { return Status::BadArgument; }
                Status::Ok
            }
        }
        #[unsafe(no_mangle)]
        pub extern "C" fn tuple() -> [u8; 4] { ffi_boundary!(helper()) }
        #[unsafe(no_mangle)]
        pub extern "C" fn forgot(x: u32) -> Status { if x == 0 { Status::Ok } else { Status::BadArgument } }
        #[unsafe(no_mangle)]
        pub extern "C" fn half(x: u32) -> Status { let s = ffi_boundary! { Status::Ok }; s }
        #[unsafe(no_mangle)]
        pub extern "C-unwind" fn unwinding() -> Status { Status::Ok }
        #[unsafe(no_mangle)]
        pub extern "C" fn l3l2q_status_str(s: i32) -> *const u8 { std::panic::catch_unwind(|| s).map_or(X, |_| Y) }
        #[unsafe(no_mangle)]
        pub extern "C" fn new_string_fn(s: i32) -> *const u8 { std::panic::catch_unwind(|| s).map_or(X, |_| Y) }
        extern "C" fn not_exported_callback(ctx: *mut u8) -> i32 { 0 }
    "##;
    let file = artifacts::root().join("src/ffi/synthetic.rs");
    let found = scan(&file, src);
    let summary: Vec<(String, bool, bool)> = found
        .iter()
        .map(|f| (f.name.clone(), f.exported, f.guard == Guard::Boundary))
        .collect();
    let expect = |name: &str, exported: bool, guarded: bool| (name.to_string(), exported, guarded);
    assert_eq!(
        summary,
        vec![
            expect("guarded", true, true),
            expect("tuple", true, true),
            expect("forgot", true, false),
            expect("half", true, false),
            expect("unwinding", true, false),
            expect("l3l2q_status_str", true, false),
            expect("new_string_fn", true, false),
            expect("not_exported_callback", false, false),
        ]
    );
    let bad = violations(&found);
    assert_eq!(bad.len(), 4, "{bad:#?}");
    for name in ["forgot", "half", "unwinding", "new_string_fn"] {
        assert!(
            bad.iter().any(|b| b.starts_with(name)),
            "{name} not reported: {bad:#?}"
        );
    }
    let outside = scan(
        &artifacts::root().join("src/l3.rs"),
        "#[no_mangle] pub extern \"C\" fn l3l2q_x() -> Status { ffi_boundary! { Status::Ok } }",
    );
    assert_eq!(
        violations(&outside).len(),
        1,
        "an export outside src/ffi/ is reported"
    );
}

#[test]
fn every_exported_function_sits_inside_the_panic_boundary() {
    let functions = scan_crate();
    let exported: BTreeSet<String> = functions
        .iter()
        .filter(|f| f.exported)
        .map(|f| f.name.clone())
        .collect();
    let bad = violations(&functions);
    assert!(
        bad.is_empty(),
        "exported functions without the panic boundary:\n{}",
        bad.join("\n")
    );

    // The scan saw every function the header declares, and nothing else.
    let header: BTreeSet<String> = artifacts::header_functions().into_iter().collect();
    assert!(
        header.len() > 50,
        "header parse found too few functions: {header:?}"
    );
    assert_eq!(
        exported, header,
        "scanned exports and header declarations differ"
    );

    // Each documented exception exists and still guards itself.
    for name in CATCH_UNWIND_EXCEPTIONS {
        let f = functions
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("stale exception {name}"));
        assert_eq!(f.guard, Guard::CatchUnwind, "{name}");
    }
    let boundary = functions
        .iter()
        .filter(|f| f.exported && f.guard == Guard::Boundary)
        .count();
    eprintln!(
        "{} exported functions: {boundary} inside ffi_boundary!, {} documented catch_unwind exceptions",
        exported.len(),
        CATCH_UNWIND_EXCEPTIONS.len()
    );

    // And the shared library exports exactly these l3l2q_ symbols.
    let so = artifacts::shared_library();
    match std::process::Command::new("nm")
        .arg("-D")
        .arg("--defined-only")
        .arg(&so)
        .output()
    {
        Ok(out) if out.status.success() => {
            let symbols: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| l.split_whitespace().last())
                .filter(|s| s.starts_with("l3l2q_"))
                .map(str::to_string)
                .collect();
            assert_eq!(
                symbols,
                exported,
                "dynamic symbols of {} differ from the scanned exports",
                so.display()
            );
        }
        _ => eprintln!("note: nm not available; skipped the dynamic symbol cross-check"),
    }
}

// ------------------------------------------------- 2. the boundary works

use l3l2q::abi::*;
use l3l2q::ffi::ByteSlice;
use l3l2q::ffi::common::*;
use l3l2q::ffi::l2::*;
use l3l2q::ffi::l3::*;
use l3l2q::ffi::shm::*;
use l3l2q::layout::Violation;
use l3l2q::{ErrorInfo, Message, Reservation, Status};
use support::raw::{FaultyCallbacks, RawConsumer, RawProducer, RawRegion};

const DATA: u64 = L3L2Q_OPCODE_DATA;
const COUNTERS: [u64; 6] = [
    L3L2Q_INPUT_DESC_TAIL_OFFSET,
    L3L2Q_INPUT_DESC_HEAD_OFFSET,
    L3L2Q_OUTPUT_DESC_TAIL_OFFSET,
    L3L2Q_OUTPUT_DESC_HEAD_OFFSET,
    L3L2Q_L3_ABORT_FLAG_OFFSET,
    L3L2Q_L2_ABORT_FLAG_OFFSET,
];

fn counters(region: &RawRegion) -> [u32; 6] {
    COUNTERS.map(|o| region.counter(o))
}

fn l3_config(region: &RawRegion, initial_count: u64) -> L3Config {
    let l = region.layout;
    L3Config {
        depth: l.depth,
        input_arena_bytes: l.input_arena_bytes,
        output_arena_bytes: l.output_arena_bytes,
        initial_count,
    }
}

/// Creates an L3 queue over `region`, mapped or through callbacks.
fn create(
    region: &RawRegion,
    callbacks: Option<&FaultyCallbacks<'_>>,
    initial_count: u64,
    out: &mut *mut L3QueueHandle,
) -> Status {
    let descriptor = region.descriptor();
    let config = l3_config(region, initial_count);
    // SAFETY: valid pointers; the region (and the callbacks) outlive every queue made here.
    unsafe {
        match callbacks {
            None => l3l2q_l3_queue_create_mapped(&descriptor, &config, out, std::ptr::null_mut()),
            Some(cb) => l3l2q_l3_queue_create_callbacks(
                &descriptor,
                &cb.vtable(),
                &config,
                out,
                std::ptr::null_mut(),
            ),
        }
    }
}

#[cfg(debug_assertions)]
mod probe {
    use super::*;
    use l3l2q::ffi::panic_probe;

    /// Keeps the probe's deliberate panics out of the test output; any
    /// other panic still reaches the default hook.
    fn quiet() {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            let default = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                let probe = info
                    .payload()
                    .downcast_ref::<&str>()
                    .is_some_and(|m| m.contains("l3l2q panic probe"));
                if !probe {
                    default(info);
                }
            }));
        });
    }

    /// State an operation works on: the queue, the region, a raw L2 peer's
    /// positions, and a message or reservation a setup step left behind.
    struct Ctx<'a> {
        region: &'a RawRegion,
        q: *mut L3QueueHandle,
        msgs: [Message; 4],
        res: Reservation,
    }

    struct Op {
        name: &'static str,
        setup: fn(&mut Ctx<'_>),
        act: fn(&mut Ctx<'_>) -> Status,
    }

    fn ok(s: Status) {
        assert_eq!(s, Status::Ok);
    }

    fn then(a: Status, b: impl FnOnce() -> Status) -> Status {
        if a == Status::Ok { b() } else { a }
    }

    /// L2 plays by hand on the output ring: publishes `n` messages of 40 B.
    fn outputs(ctx: &mut Ctx<'_>, n: u64) {
        let mut out = RawProducer::output(ctx.region, 0);
        for k in 0..n {
            out.write(DATA, k * 40, &[k as u8 + 1; 40]);
        }
        out.publish();
    }

    fn enqueue(q: *mut L3QueueHandle, len: usize) -> Status {
        let payload = vec![0x5au8; len];
        // SAFETY: live queue; payload valid for len bytes.
        unsafe { l3l2q_l3_try_enqueue(q, DATA, payload.as_ptr(), len) }
    }

    fn ops() -> Vec<Op> {
        vec![
            Op {
                name: "try_enqueue",
                setup: |_| {},
                act: |c| enqueue(c.q, 100),
            },
            Op {
                name: "try_enqueue after a release (refresh + replay + wrap)",
                setup: |c| {
                    ok(enqueue(c.q, 200));
                    ok(enqueue(c.q, 40));
                    let mut l2 = RawConsumer::input(c.region, 0);
                    l2.expect();
                    l2.release_to(1);
                },
                act: |c| enqueue(c.q, 100),
            },
            Op {
                name: "enqueue (blocking)",
                setup: |_| {},
                // SAFETY: live queue, valid buffer.
                act: |c| unsafe { l3l2q_l3_enqueue(c.q, DATA, [1u8; 16].as_ptr(), 16, 1_000_000) },
            },
            Op {
                name: "try_enqueue_batch",
                setup: |_| {},
                act: |c| {
                    let data = [[1u8; 10], [2u8; 10], [3u8; 10]];
                    let batch: Vec<ByteSlice> = data
                        .iter()
                        .map(|d| ByteSlice {
                            data: d.as_ptr(),
                            len: 10,
                        })
                        .collect();
                    let mut sent = 0usize;
                    // SAFETY: live queue; the slices point into `data`.
                    unsafe { l3l2q_l3_try_enqueue_batch(c.q, DATA, batch.as_ptr(), 3, &mut sent) }
                },
            },
            Op {
                name: "try_reserve + write_reserved + commit",
                setup: |_| {},
                act: |c| {
                    // SAFETY: live queue; valid out-pointer and buffers.
                    unsafe {
                        let s = l3l2q_l3_try_reserve(c.q, 32, &mut c.res);
                        let s = then(s, || {
                            l3l2q_l3_write_reserved(c.q, &c.res, 0, [7u8; 32].as_ptr(), 32)
                        });
                        then(s, || l3l2q_l3_commit(c.q, &c.res, DATA, 20))
                    }
                },
            },
            Op {
                name: "commit_deferred then flush",
                setup: |c| {
                    // SAFETY: live queue; valid out-pointer.
                    unsafe {
                        ok(l3l2q_l3_try_reserve(c.q, 8, &mut c.res));
                        ok(l3l2q_l3_commit_deferred(c.q, &c.res, DATA, 8));
                    }
                },
                // SAFETY: live queue.
                act: |c| unsafe { l3l2q_l3_flush(c.q) },
            },
            // SAFETY: live queue.
            Op {
                name: "try_request_stop",
                setup: |_| {},
                act: |c| unsafe { l3l2q_l3_try_request_stop(c.q) },
            },
            Op {
                name: "try_peek",
                setup: |c| outputs(c, 1),
                // SAFETY: live queue; valid out-pointer.
                act: |c| unsafe { l3l2q_l3_try_peek(c.q, &mut c.msgs[0]) },
            },
            Op {
                name: "read_into",
                setup: |c| {
                    outputs(c, 1);
                    // SAFETY: live queue; valid out-pointer.
                    ok(unsafe { l3l2q_l3_try_peek(c.q, &mut c.msgs[0]) });
                },
                act: |c| {
                    let (mut buf, mut len) = ([0u8; 64], 0usize);
                    // SAFETY: live queue; valid buffers.
                    unsafe { l3l2q_l3_read_into(c.q, &c.msgs[0], buf.as_mut_ptr(), 64, &mut len) }
                },
            },
            Op {
                name: "release",
                setup: |c| {
                    outputs(c, 1);
                    // SAFETY: live queue; valid out-pointer.
                    ok(unsafe { l3l2q_l3_try_peek(c.q, &mut c.msgs[0]) });
                },
                // SAFETY: live queue; a held message.
                act: |c| unsafe { l3l2q_l3_release(c.q, &c.msgs[0]) },
            },
            Op {
                name: "try_dequeue_into",
                setup: |c| outputs(c, 1),
                act: |c| {
                    let (mut buf, mut op, mut len) = ([0u8; 64], 0u64, 0usize);
                    // SAFETY: live queue; valid buffers.
                    unsafe {
                        l3l2q_l3_try_dequeue_into(c.q, buf.as_mut_ptr(), 64, &mut op, &mut len)
                    }
                },
            },
            Op {
                name: "try_peek_batch + release_batch",
                setup: |c| outputs(c, 3),
                act: |c| {
                    let mut n = 0usize;
                    // SAFETY: live queue; valid buffers.
                    unsafe {
                        let s = l3l2q_l3_try_peek_batch(c.q, c.msgs.as_mut_ptr(), 4, &mut n);
                        then(s, || l3l2q_l3_release_batch(c.q, c.msgs.as_ptr(), n))
                    }
                },
            },
        ]
    }

    /// Sweeps the probe over every region access of `op`: panic at the
    /// 1st, the 2nd, ... until the operation completes without reaching
    /// the probe. Returns how many panics came back as a status.
    fn sweep(op: &Op, callbacks: bool) -> u32 {
        for k in 1..=200u32 {
            let region = RawRegion::new(4, 256, 256);
            let cb = FaultyCallbacks::new(&region);
            let mut q = std::ptr::null_mut();
            ok(create(&region, callbacks.then_some(&cb), 0, &mut q));
            let mut ctx = Ctx {
                region: &region,
                q,
                msgs: [Message::EMPTY; 4],
                res: Reservation {
                    token: 0,
                    payload_offset: 0,
                    capacity: 0,
                    data: std::ptr::null_mut(),
                },
            };
            (op.setup)(&mut ctx);
            panic_probe::arm(k);
            let status = (op.act)(&mut ctx);
            let fired = !panic_probe::disarm();
            let what = format!(
                "{} ({}), panic at region access {k}",
                op.name,
                if callbacks { "callbacks" } else { "mapped" }
            );
            // SAFETY: q is the live handle (after a panic it may only be freed, which is what we do).
            assert_eq!(
                unsafe { l3l2q_l3_queue_free(&mut q) },
                Status::Ok,
                "{what}: free"
            );
            assert!(q.is_null());
            if !fired {
                assert_eq!(
                    status,
                    Status::Ok,
                    "{} completes when the probe is not reached",
                    op.name
                );
                assert!(k > 1, "{}: never touched the region", op.name);
                return k - 1;
            }
            assert_eq!(status, Status::Panic, "{what}");
        }
        panic!("{}: still reaching the probe after 200 accesses", op.name);
    }

    #[test]
    fn a_panic_at_any_region_access_comes_back_as_status_panic() {
        quiet();
        let mut total = 0;
        for callbacks in [false, true] {
            // Creation zeroes the counters through the region: panic there too.
            for k in 1..=6 {
                let region = RawRegion::new(4, 256, 256);
                let cb = FaultyCallbacks::new(&region);
                let mut q = std::ptr::null_mut();
                panic_probe::arm(k);
                assert_eq!(
                    create(&region, callbacks.then_some(&cb), 0, &mut q),
                    Status::Panic,
                    "create, access {k}"
                );
                assert!(!panic_probe::disarm());
                assert!(q.is_null(), "nothing is handed out after a panic");
                total += 1;
            }
            for op in ops() {
                let caught = sweep(&op, callbacks);
                eprintln!(
                    "{} ({}): {caught} panics caught",
                    op.name,
                    if callbacks { "callbacks" } else { "mapped" }
                );
                total += caught;
            }
        }
        eprintln!("{total} forced panics came back as L3L2Q_STATUS_PANIC");
        assert!(total >= 60, "too few panic points exercised: {total}");

        // Nothing global was disturbed: a fresh queue on this thread works.
        let region = RawRegion::new(4, 256, 256);
        let mut q = std::ptr::null_mut();
        ok(create(&region, None, 0, &mut q));
        ok(enqueue(q, 10));
        assert_eq!(RawConsumer::input(&region, 0).expect().1, vec![0x5a; 10]);
        // SAFETY: live handle.
        ok(unsafe { l3l2q_l3_queue_free(&mut q) });
    }
}

#[test]
fn initial_count_near_u64_max_is_refused_up_front() {
    // Counts are monotonic u64; a start this high would overflow them
    // after a few messages (a panic in checked builds, a wrap otherwise).
    for initial in [u64::MAX, u64::MAX - 3, 1u64 << 63] {
        let region = RawRegion::new(4, 256, 256);
        for o in COUNTERS {
            region.set_counter(o, 7);
        }
        let mut q = std::ptr::null_mut();
        assert_eq!(
            create(&region, None, initial, &mut q),
            Status::BadArgument,
            "L3 with initial {initial:#x}"
        );
        assert!(q.is_null());
        assert_eq!(counters(&region), [7; 6], "refused before zeroing anything");
        let scalars = region.scalars().scalars;
        let config = L2Config {
            max_inflight: 1,
            initial_count: initial,
        };
        let mut ep = std::ptr::null_mut();
        // SAFETY: valid pointers; the region is mapped in this process.
        assert_eq!(
            unsafe {
                l3l2q_l2_endpoint_create(
                    scalars.as_ptr(),
                    12,
                    &config,
                    &mut ep,
                    std::ptr::null_mut(),
                )
            },
            Status::BadArgument
        );
        assert!(ep.is_null());
        assert_eq!(counters(&region), [7; 6]);
    }
    // The largest accepted start still works end to end.
    let initial = (1u64 << 63) - 1;
    let region = RawRegion::new(4, 256, 256);
    let mut q = std::ptr::null_mut();
    assert_eq!(create(&region, None, initial, &mut q), Status::Ok);
    let mut scalars = [0u64; 12];
    let config = L2Config {
        max_inflight: 1,
        initial_count: initial,
    };
    let mut ep = std::ptr::null_mut();
    // SAFETY: live handles, valid buffers.
    unsafe {
        assert_eq!(
            l3l2q_l3_task_scalars(q, scalars.as_mut_ptr(), 12),
            Status::Ok
        );
        assert_eq!(
            l3l2q_l2_endpoint_create(scalars.as_ptr(), 12, &config, &mut ep, std::ptr::null_mut()),
            Status::Ok
        );
        for k in 0..10u8 {
            assert_eq!(
                l3l2q_l3_try_enqueue(q, DATA, [k; 9].as_ptr(), 9),
                Status::Ok
            );
            let mut m = Message::EMPTY;
            assert_eq!(l3l2q_l2_try_peek(ep, &mut m), Status::Ok);
            assert_eq!(
                (m.seq, m.payload()),
                (initial + u64::from(k) + 1, &[k; 9][..])
            );
            assert_eq!(l3l2q_l2_release(ep, &m), Status::Ok);
        }
        assert_eq!(l3l2q_l2_endpoint_free(&mut ep), Status::Ok);
        assert_eq!(l3l2q_l3_queue_free(&mut q), Status::Ok);
    }
}

// ------------------------------------------- 3. null and misaligned pointers

const SLOT: usize = 1024;
const SLOTS: usize = 8;
const FILL: u8 = 0xa5;

/// Out-parameter memory filled with a marker, the region whose counters
/// must not move, and the set of functions checked so far.
struct Checker<'a> {
    sentinel: Box<[u64]>,
    watched: Vec<&'a RawRegion>,
    covered: RefCell<BTreeSet<&'static str>>,
    cases: RefCell<u32>,
}

impl<'a> Checker<'a> {
    fn new(watched: Vec<&'a RawRegion>) -> Self {
        Checker {
            sentinel: vec![0u64; SLOT * SLOTS / 8].into_boxed_slice(),
            watched,
            covered: RefCell::default(),
            cases: RefCell::new(0),
        }
    }

    fn base(&self) -> *mut u8 {
        self.sentinel.as_ptr().cast_mut().cast()
    }

    /// An aligned out-pointer into sentinel slot `k`.
    fn o<T>(&self, k: usize) -> *mut T {
        assert!(k < SLOTS && std::mem::size_of::<T>() < SLOT);
        self.base().wrapping_add(k * SLOT).cast()
    }

    /// A misaligned pointer into sentinel slot `k` (for types aligned > 1).
    fn m<T>(&self, k: usize) -> *mut T {
        assert!(std::mem::align_of::<T>() > 1);
        self.base().wrapping_add(k * SLOT + 1).cast()
    }

    fn c<T>(&self, k: usize) -> *const T {
        self.m::<T>(k).cast_const()
    }

    /// Calls `f` (one exported function with one bad pointer) and checks
    /// it returns BAD_ARGUMENT, writes nothing and moves no counter.
    fn bad(&self, name: &'static str, what: &str, f: impl FnOnce() -> Status) {
        // SAFETY: the sentinel is a live allocation of SLOT * SLOTS bytes.
        unsafe { std::ptr::write_bytes(self.base(), FILL, SLOT * SLOTS) };
        let before: Vec<[u32; 6]> = self.watched.iter().map(|r| counters(r)).collect();
        let status = f();
        assert_eq!(status, Status::BadArgument, "{name} with {what}");
        // SAFETY: as above.
        let bytes = unsafe { std::slice::from_raw_parts(self.base(), SLOT * SLOTS) };
        if let Some(at) = bytes.iter().position(|&b| b != FILL) {
            panic!("{name} with {what} wrote out-parameter memory at byte {at}");
        }
        let after: Vec<[u32; 6]> = self.watched.iter().map(|r| counters(r)).collect();
        assert_eq!(before, after, "{name} with {what} changed shared counters");
        self.covered.borrow_mut().insert(name);
        *self.cases.borrow_mut() += 1;
    }

    /// For a function with no pointer arguments.
    fn none(&self, name: &'static str) {
        self.covered.borrow_mut().insert(name);
    }
}

/// A `l3l2q_l2_try_consume` visitor that ignores its input.
unsafe extern "C" fn ignore_input(_ctx: *mut core::ffi::c_void, _message: *const Message) {}

fn n<T>() -> *mut T {
    std::ptr::null_mut()
}

fn nc<T>() -> *const T {
    std::ptr::null()
}

/// A handle pointer that is misaligned.
fn mis<T>(p: *mut T) -> *mut T {
    p.cast::<u8>().wrapping_add(1).cast()
}

#[test]
#[allow(clippy::too_many_lines)]
fn every_pointer_argument_rejects_null_and_misaligned() {
    let region = RawRegion::new(4, 256, 256);
    // A second region whose counters a successful create would zero.
    let spare = RawRegion::new(4, 256, 256);
    for o in COUNTERS {
        spare.set_counter(o, 7);
    }
    let cb = FaultyCallbacks::new(&region);
    let callbacks = cb.vtable();
    let mut q = std::ptr::null_mut();
    assert_eq!(create(&region, None, 0, &mut q), Status::Ok);
    let mut scalars = [0u64; 12];
    let mut ep = std::ptr::null_mut();
    let l2config = L2Config {
        max_inflight: 2,
        initial_count: 0,
    };
    // SAFETY: live handle; valid buffers.
    unsafe {
        assert_eq!(
            l3l2q_l3_task_scalars(q, scalars.as_mut_ptr(), 12),
            Status::Ok
        );
        assert_eq!(
            l3l2q_l2_endpoint_create(
                scalars.as_ptr(),
                12,
                &l2config,
                &mut ep,
                std::ptr::null_mut()
            ),
            Status::Ok
        );
    }
    let shm_name = std::ffi::CString::new(format!("/l3l2q-ffib-{}", std::process::id())).unwrap();
    let absent =
        std::ffi::CString::new(format!("/l3l2q-ffib-absent-{}", std::process::id())).unwrap();
    let shm_config = ShmCreateConfig {
        depth: 4,
        input_arena_bytes: 256,
        output_arena_bytes: 256,
        region_id: 9,
        reclaim_stale: true,
    };
    let mut shm = std::ptr::null_mut();
    // SAFETY: valid pointers.
    assert_eq!(
        unsafe {
            l3l2q_shm_create(
                shm_name.as_ptr(),
                &shm_config,
                &mut shm,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        },
        Status::Ok
    );

    let ck = Checker::new(vec![&region, &spare]);
    let descriptor = region.descriptor();
    let spare_descriptor = spare.descriptor();
    let args = region.args();
    let slot = DescriptorSlot {
        seq: 1,
        opcode: DATA,
        payload_offset: 0,
        payload_nbytes: 0,
    };
    let config = l3_config(&spare, 0);
    let message = Message::EMPTY;
    let reservation = Reservation {
        token: 1,
        payload_offset: 0,
        capacity: 0,
        data: n(),
    };
    let bytes = [1u8; 32];
    let null_entry = [ByteSlice { data: nc(), len: 4 }];
    let entry = [ByteSlice {
        data: bytes.as_ptr(),
        len: 4,
    }];
    let (hq, he) = (mis(q), mis(ep));
    let hs: *const ShmHandle = mis(shm);

    // SAFETY (every call below): each pointer is either valid for what the
    // function does with it, or null / misaligned, which the function must
    // reject before any access; misaligned pointers point into the sentinel.
    unsafe {
        // ---- pure functions
        ck.bad("l3l2q_version", "null out", || l3l2q_version(n()));
        ck.bad("l3l2q_version", "misaligned out", || l3l2q_version(ck.m(0)));
        ck.none("l3l2q_status_str");
        ck.none("l3l2q_violation_str");
        ck.none("l3l2q_error_kind_str");
        for code in [i32::MIN, -1, 0, 5, 30, i32::MAX] {
            assert!(!l3l2q_status_str(code).is_null());
            assert!(!l3l2q_violation_str(code as u32).is_null());
            assert!(!l3l2q_error_kind_str(code as u32).is_null());
        }
        ck.bad("l3l2q_magic_version_pack", "null out", || {
            l3l2q_magic_version_pack(1, 2, 3, n())
        });
        ck.bad("l3l2q_magic_version_pack", "misaligned out", || {
            l3l2q_magic_version_pack(1, 2, 3, ck.m(0))
        });
        ck.bad("l3l2q_magic_version_unpack", "null magic", || {
            l3l2q_magic_version_unpack(1, n(), ck.o(1), ck.o(2))
        });
        ck.bad("l3l2q_magic_version_unpack", "misaligned magic", || {
            l3l2q_magic_version_unpack(1, ck.m(0), ck.o(1), ck.o(2))
        });
        ck.bad("l3l2q_magic_version_unpack", "null major", || {
            l3l2q_magic_version_unpack(1, ck.o(0), n(), ck.o(2))
        });
        ck.bad("l3l2q_magic_version_unpack", "misaligned major", || {
            l3l2q_magic_version_unpack(1, ck.o(0), ck.m(1), ck.o(2))
        });
        ck.bad("l3l2q_magic_version_unpack", "null minor", || {
            l3l2q_magic_version_unpack(1, ck.o(0), ck.o(1), n())
        });
        ck.bad("l3l2q_magic_version_unpack", "misaligned minor", || {
            l3l2q_magic_version_unpack(1, ck.o(0), ck.o(1), ck.m(2))
        });
        ck.bad("l3l2q_layout_compute", "null out", || {
            l3l2q_layout_compute(4, 256, 256, n(), ck.o(1))
        });
        ck.bad("l3l2q_layout_compute", "misaligned out", || {
            l3l2q_layout_compute(4, 256, 256, ck.m(0), ck.o(1))
        });
        ck.bad("l3l2q_layout_compute", "misaligned out_violation", || {
            l3l2q_layout_compute(4, 256, 256, ck.o(0), ck.m(1))
        });
        ck.bad(
            "l3l2q_region_descriptor_validate",
            "null descriptor",
            || l3l2q_region_descriptor_validate(nc(), ck.o(1)),
        );
        ck.bad(
            "l3l2q_region_descriptor_validate",
            "misaligned descriptor",
            || l3l2q_region_descriptor_validate(ck.c(0), ck.o(1)),
        );
        ck.bad(
            "l3l2q_region_descriptor_validate",
            "misaligned out_violation",
            || l3l2q_region_descriptor_validate(&descriptor, ck.m(1)),
        );
        ck.bad("l3l2q_queue_validate", "null descriptor", || {
            l3l2q_queue_validate(nc(), &args, ck.o(0), ck.o(1))
        });
        ck.bad("l3l2q_queue_validate", "misaligned descriptor", || {
            l3l2q_queue_validate(ck.c(2), &args, ck.o(0), ck.o(1))
        });
        ck.bad("l3l2q_queue_validate", "null args", || {
            l3l2q_queue_validate(&descriptor, nc(), ck.o(0), ck.o(1))
        });
        ck.bad("l3l2q_queue_validate", "misaligned args", || {
            l3l2q_queue_validate(&descriptor, ck.c(2), ck.o(0), ck.o(1))
        });
        ck.bad("l3l2q_queue_validate", "null out_layout", || {
            l3l2q_queue_validate(&descriptor, &args, n(), ck.o(1))
        });
        ck.bad("l3l2q_queue_validate", "misaligned out_layout", || {
            l3l2q_queue_validate(&descriptor, &args, ck.m(0), ck.o(1))
        });
        ck.bad("l3l2q_queue_validate", "misaligned out_violation", || {
            l3l2q_queue_validate(&descriptor, &args, ck.o(0), ck.m(1))
        });
        ck.bad("l3l2q_task_scalars_encode", "null descriptor", || {
            l3l2q_task_scalars_encode(nc(), &args, ck.o(0), 12)
        });
        ck.bad("l3l2q_task_scalars_encode", "misaligned descriptor", || {
            l3l2q_task_scalars_encode(ck.c(1), &args, ck.o(0), 12)
        });
        ck.bad("l3l2q_task_scalars_encode", "null args", || {
            l3l2q_task_scalars_encode(&descriptor, nc(), ck.o(0), 12)
        });
        ck.bad("l3l2q_task_scalars_encode", "misaligned args", || {
            l3l2q_task_scalars_encode(&descriptor, ck.c(1), ck.o(0), 12)
        });
        ck.bad("l3l2q_task_scalars_encode", "null scalars", || {
            l3l2q_task_scalars_encode(&descriptor, &args, n(), 12)
        });
        ck.bad("l3l2q_task_scalars_encode", "misaligned scalars", || {
            l3l2q_task_scalars_encode(&descriptor, &args, ck.m(0), 12)
        });
        ck.bad("l3l2q_task_scalars_decode", "null scalars", || {
            l3l2q_task_scalars_decode(nc(), 12, ck.o(0), ck.o(1))
        });
        ck.bad("l3l2q_task_scalars_decode", "misaligned scalars", || {
            l3l2q_task_scalars_decode(ck.c(2), 12, ck.o(0), ck.o(1))
        });
        ck.bad("l3l2q_task_scalars_decode", "null out_descriptor", || {
            l3l2q_task_scalars_decode(scalars.as_ptr(), 12, n(), ck.o(1))
        });
        ck.bad(
            "l3l2q_task_scalars_decode",
            "misaligned out_descriptor",
            || l3l2q_task_scalars_decode(scalars.as_ptr(), 12, ck.m(0), ck.o(1)),
        );
        ck.bad("l3l2q_task_scalars_decode", "null out_args", || {
            l3l2q_task_scalars_decode(scalars.as_ptr(), 12, ck.o(0), n())
        });
        ck.bad("l3l2q_task_scalars_decode", "misaligned out_args", || {
            l3l2q_task_scalars_decode(scalars.as_ptr(), 12, ck.o(0), ck.m(1))
        });
        ck.bad("l3l2q_slot_encode", "null slot", || {
            l3l2q_slot_encode(nc(), ck.o(0), 32)
        });
        ck.bad("l3l2q_slot_encode", "misaligned slot", || {
            l3l2q_slot_encode(ck.c(1), ck.o(0), 32)
        });
        ck.bad("l3l2q_slot_encode", "null out", || {
            l3l2q_slot_encode(&slot, n(), 32)
        });
        ck.bad("l3l2q_slot_decode", "null bytes", || {
            l3l2q_slot_decode(nc(), 32, ck.o(0))
        });
        ck.bad("l3l2q_slot_decode", "null out", || {
            l3l2q_slot_decode(bytes.as_ptr(), 32, n())
        });
        ck.bad("l3l2q_slot_decode", "misaligned out", || {
            l3l2q_slot_decode(bytes.as_ptr(), 32, ck.m(0))
        });
        ck.bad("l3l2q_counter_fold", "null out", || {
            l3l2q_counter_fold(0, 1, 4, n())
        });
        ck.bad("l3l2q_counter_fold", "misaligned out", || {
            l3l2q_counter_fold(0, 1, 4, ck.m(0))
        });

        // ---- L2 endpoint
        ck.bad("l3l2q_l2_endpoint_create", "null scalars", || {
            l3l2q_l2_endpoint_create(nc(), 12, &l2config, ck.o(0), ck.o(1))
        });
        ck.bad("l3l2q_l2_endpoint_create", "misaligned scalars", || {
            l3l2q_l2_endpoint_create(ck.c(2), 12, &l2config, ck.o(0), ck.o(1))
        });
        ck.bad("l3l2q_l2_endpoint_create", "null config", || {
            l3l2q_l2_endpoint_create(scalars.as_ptr(), 12, nc(), ck.o(0), ck.o(1))
        });
        ck.bad("l3l2q_l2_endpoint_create", "misaligned config", || {
            l3l2q_l2_endpoint_create(scalars.as_ptr(), 12, ck.c(2), ck.o(0), ck.o(1))
        });
        ck.bad("l3l2q_l2_endpoint_create", "null out", || {
            l3l2q_l2_endpoint_create(scalars.as_ptr(), 12, &l2config, n(), ck.o(1))
        });
        ck.bad("l3l2q_l2_endpoint_create", "misaligned out", || {
            l3l2q_l2_endpoint_create(scalars.as_ptr(), 12, &l2config, ck.m(0), ck.o(1))
        });
        ck.bad(
            "l3l2q_l2_endpoint_create",
            "misaligned out_violation",
            || l3l2q_l2_endpoint_create(scalars.as_ptr(), 12, &l2config, ck.o(0), ck.m(1)),
        );
        ck.bad("l3l2q_l2_endpoint_free", "null slot", || {
            l3l2q_l2_endpoint_free(n())
        });
        ck.bad("l3l2q_l2_endpoint_free", "misaligned slot", || {
            l3l2q_l2_endpoint_free(ck.m(0))
        });
        let mut odd = he;
        ck.bad("l3l2q_l2_endpoint_free", "misaligned handle", || {
            l3l2q_l2_endpoint_free(&mut odd)
        });
        assert_eq!(odd, he, "a refused free leaves the variable alone");
        for (what, h) in [("null handle", n()), ("misaligned handle", he)] {
            ck.bad("l3l2q_l2_try_peek", what, || l3l2q_l2_try_peek(h, ck.o(0)));
            ck.bad("l3l2q_l2_peek", what, || l3l2q_l2_peek(h, ck.o(0), 0));
            ck.bad("l3l2q_l2_release", what, || l3l2q_l2_release(h, &message));
            ck.bad("l3l2q_l2_try_peek_batch", what, || {
                l3l2q_l2_try_peek_batch(h, ck.o(0), 4, ck.o(1))
            });
            ck.bad("l3l2q_l2_release_batch", what, || {
                l3l2q_l2_release_batch(h, &message, 1)
            });
            ck.bad("l3l2q_l2_try_consume", what, || {
                l3l2q_l2_try_consume(h, 4, Some(ignore_input), std::ptr::null_mut(), ck.o(0))
            });
            ck.bad("l3l2q_l2_drained", what, || l3l2q_l2_drained(h, ck.o(0)));
            ck.bad("l3l2q_l2_try_reserve", what, || {
                l3l2q_l2_try_reserve(h, 8, ck.o(0))
            });
            ck.bad("l3l2q_l2_reserve", what, || {
                l3l2q_l2_reserve(h, 8, ck.o(0), 0)
            });
            ck.bad("l3l2q_l2_publish", what, || {
                l3l2q_l2_publish(h, &reservation, DATA, 0)
            });
            ck.bad("l3l2q_l2_publish_deferred", what, || {
                l3l2q_l2_publish_deferred(h, &reservation, DATA, 0)
            });
            ck.bad("l3l2q_l2_flush", what, || l3l2q_l2_flush(h));
            ck.bad("l3l2q_l2_try_send_batch", what, || {
                l3l2q_l2_try_send_batch(h, DATA, entry.as_ptr(), 1, ck.o(0))
            });
            ck.bad("l3l2q_l2_error", what, || l3l2q_l2_error(h, ck.o(0)));
            ck.bad("l3l2q_l2_layout", what, || l3l2q_l2_layout(h, ck.o(0)));
        }
        ck.bad("l3l2q_l2_try_peek", "null out", || {
            l3l2q_l2_try_peek(ep, n())
        });
        ck.bad("l3l2q_l2_try_peek", "misaligned out", || {
            l3l2q_l2_try_peek(ep, ck.m(0))
        });
        ck.bad("l3l2q_l2_peek", "null out", || l3l2q_l2_peek(ep, n(), 0));
        ck.bad("l3l2q_l2_peek", "misaligned out", || {
            l3l2q_l2_peek(ep, ck.m(0), 0)
        });
        ck.bad("l3l2q_l2_release", "null message", || {
            l3l2q_l2_release(ep, nc())
        });
        ck.bad("l3l2q_l2_release", "misaligned message", || {
            l3l2q_l2_release(ep, ck.c(0))
        });
        ck.bad("l3l2q_l2_try_peek_batch", "null out", || {
            l3l2q_l2_try_peek_batch(ep, n(), 4, ck.o(1))
        });
        ck.bad("l3l2q_l2_try_peek_batch", "misaligned out", || {
            l3l2q_l2_try_peek_batch(ep, ck.m(0), 4, ck.o(1))
        });
        ck.bad("l3l2q_l2_try_peek_batch", "null out_count", || {
            l3l2q_l2_try_peek_batch(ep, ck.o(0), 4, n())
        });
        ck.bad("l3l2q_l2_try_peek_batch", "misaligned out_count", || {
            l3l2q_l2_try_peek_batch(ep, ck.o(0), 4, ck.m(1))
        });
        ck.bad("l3l2q_l2_try_consume", "null visit", || {
            l3l2q_l2_try_consume(ep, 4, None, std::ptr::null_mut(), ck.o(0))
        });
        ck.bad("l3l2q_l2_try_consume", "null out_count", || {
            l3l2q_l2_try_consume(ep, 4, Some(ignore_input), std::ptr::null_mut(), n())
        });
        ck.bad("l3l2q_l2_try_consume", "misaligned out_count", || {
            l3l2q_l2_try_consume(ep, 4, Some(ignore_input), std::ptr::null_mut(), ck.m(0))
        });
        ck.bad("l3l2q_l2_release_batch", "null messages", || {
            l3l2q_l2_release_batch(ep, nc(), 1)
        });
        ck.bad("l3l2q_l2_release_batch", "misaligned messages", || {
            l3l2q_l2_release_batch(ep, ck.c(0), 1)
        });
        ck.bad("l3l2q_l2_drained", "null out", || l3l2q_l2_drained(ep, n()));
        ck.bad("l3l2q_l2_try_reserve", "null out", || {
            l3l2q_l2_try_reserve(ep, 8, n())
        });
        ck.bad("l3l2q_l2_try_reserve", "misaligned out", || {
            l3l2q_l2_try_reserve(ep, 8, ck.m(0))
        });
        ck.bad("l3l2q_l2_reserve", "null out", || {
            l3l2q_l2_reserve(ep, 8, n(), 0)
        });
        ck.bad("l3l2q_l2_reserve", "misaligned out", || {
            l3l2q_l2_reserve(ep, 8, ck.m(0), 0)
        });
        ck.bad("l3l2q_l2_publish", "null reservation", || {
            l3l2q_l2_publish(ep, nc(), DATA, 0)
        });
        ck.bad("l3l2q_l2_publish", "misaligned reservation", || {
            l3l2q_l2_publish(ep, ck.c(0), DATA, 0)
        });
        ck.bad("l3l2q_l2_publish_deferred", "null reservation", || {
            l3l2q_l2_publish_deferred(ep, nc(), DATA, 0)
        });
        ck.bad(
            "l3l2q_l2_publish_deferred",
            "misaligned reservation",
            || l3l2q_l2_publish_deferred(ep, ck.c(0), DATA, 0),
        );
        ck.bad("l3l2q_l2_try_send_batch", "null payloads", || {
            l3l2q_l2_try_send_batch(ep, DATA, nc(), 1, ck.o(0))
        });
        ck.bad("l3l2q_l2_try_send_batch", "misaligned payloads", || {
            l3l2q_l2_try_send_batch(ep, DATA, ck.c(1), 1, ck.o(0))
        });
        ck.bad(
            "l3l2q_l2_try_send_batch",
            "a null payload with len 4",
            || l3l2q_l2_try_send_batch(ep, DATA, null_entry.as_ptr(), 1, ck.o(0)),
        );
        ck.bad("l3l2q_l2_try_send_batch", "null out_sent", || {
            l3l2q_l2_try_send_batch(ep, DATA, entry.as_ptr(), 1, n())
        });
        ck.bad("l3l2q_l2_try_send_batch", "misaligned out_sent", || {
            l3l2q_l2_try_send_batch(ep, DATA, entry.as_ptr(), 1, ck.m(0))
        });
        ck.bad("l3l2q_l2_error", "null out", || l3l2q_l2_error(ep, n()));
        ck.bad("l3l2q_l2_error", "misaligned out", || {
            l3l2q_l2_error(ep, ck.m(0))
        });
        ck.bad("l3l2q_l2_layout", "null out", || l3l2q_l2_layout(ep, n()));
        ck.bad("l3l2q_l2_layout", "misaligned out", || {
            l3l2q_l2_layout(ep, ck.m(0))
        });

        // ---- L3 queue (creation over the spare region: success would zero its counters)
        let sd = &spare_descriptor;
        ck.bad("l3l2q_l3_queue_create_mapped", "null region", || {
            l3l2q_l3_queue_create_mapped(nc(), &config, ck.o(0), ck.o(1))
        });
        ck.bad("l3l2q_l3_queue_create_mapped", "misaligned region", || {
            l3l2q_l3_queue_create_mapped(ck.c(2), &config, ck.o(0), ck.o(1))
        });
        ck.bad("l3l2q_l3_queue_create_mapped", "null config", || {
            l3l2q_l3_queue_create_mapped(sd, nc(), ck.o(0), ck.o(1))
        });
        ck.bad("l3l2q_l3_queue_create_mapped", "misaligned config", || {
            l3l2q_l3_queue_create_mapped(sd, ck.c(2), ck.o(0), ck.o(1))
        });
        ck.bad("l3l2q_l3_queue_create_mapped", "null out", || {
            l3l2q_l3_queue_create_mapped(sd, &config, n(), ck.o(1))
        });
        ck.bad("l3l2q_l3_queue_create_mapped", "misaligned out", || {
            l3l2q_l3_queue_create_mapped(sd, &config, ck.m(0), ck.o(1))
        });
        ck.bad(
            "l3l2q_l3_queue_create_mapped",
            "misaligned out_violation",
            || l3l2q_l3_queue_create_mapped(sd, &config, ck.o(0), ck.m(1)),
        );
        let cbs = &callbacks;
        ck.bad("l3l2q_l3_queue_create_callbacks", "null region", || {
            l3l2q_l3_queue_create_callbacks(nc(), cbs, &config, ck.o(0), ck.o(1))
        });
        ck.bad(
            "l3l2q_l3_queue_create_callbacks",
            "misaligned region",
            || l3l2q_l3_queue_create_callbacks(ck.c(2), cbs, &config, ck.o(0), ck.o(1)),
        );
        ck.bad("l3l2q_l3_queue_create_callbacks", "null callbacks", || {
            l3l2q_l3_queue_create_callbacks(sd, nc(), &config, ck.o(0), ck.o(1))
        });
        ck.bad(
            "l3l2q_l3_queue_create_callbacks",
            "misaligned callbacks",
            || l3l2q_l3_queue_create_callbacks(sd, ck.c(2), &config, ck.o(0), ck.o(1)),
        );
        ck.bad("l3l2q_l3_queue_create_callbacks", "null config", || {
            l3l2q_l3_queue_create_callbacks(sd, cbs, nc(), ck.o(0), ck.o(1))
        });
        ck.bad(
            "l3l2q_l3_queue_create_callbacks",
            "misaligned config",
            || l3l2q_l3_queue_create_callbacks(sd, cbs, ck.c(2), ck.o(0), ck.o(1)),
        );
        ck.bad("l3l2q_l3_queue_create_callbacks", "null out", || {
            l3l2q_l3_queue_create_callbacks(sd, cbs, &config, n(), ck.o(1))
        });
        ck.bad("l3l2q_l3_queue_create_callbacks", "misaligned out", || {
            l3l2q_l3_queue_create_callbacks(sd, cbs, &config, ck.m(0), ck.o(1))
        });
        ck.bad(
            "l3l2q_l3_queue_create_callbacks",
            "misaligned out_violation",
            || l3l2q_l3_queue_create_callbacks(sd, cbs, &config, ck.o(0), ck.m(1)),
        );
        ck.bad("l3l2q_l3_queue_free", "null slot", || {
            l3l2q_l3_queue_free(n())
        });
        ck.bad("l3l2q_l3_queue_free", "misaligned slot", || {
            l3l2q_l3_queue_free(ck.m(0))
        });
        let mut odd = hq;
        ck.bad("l3l2q_l3_queue_free", "misaligned handle", || {
            l3l2q_l3_queue_free(&mut odd)
        });
        assert_eq!(odd, hq, "a refused free leaves the variable alone");
        for (what, h) in [("null handle", n()), ("misaligned handle", hq)] {
            ck.bad("l3l2q_l3_task_scalars", what, || {
                l3l2q_l3_task_scalars(h, ck.o(0), 12)
            });
            ck.bad("l3l2q_l3_layout", what, || l3l2q_l3_layout(h, ck.o(0)));
            ck.bad("l3l2q_l3_try_enqueue", what, || {
                l3l2q_l3_try_enqueue(h, DATA, bytes.as_ptr(), 4)
            });
            ck.bad("l3l2q_l3_try_enqueue_batch", what, || {
                l3l2q_l3_try_enqueue_batch(h, DATA, entry.as_ptr(), 1, ck.o(0))
            });
            ck.bad("l3l2q_l3_enqueue", what, || {
                l3l2q_l3_enqueue(h, DATA, bytes.as_ptr(), 4, 0)
            });
            ck.bad("l3l2q_l3_try_request_stop", what, || {
                l3l2q_l3_try_request_stop(h)
            });
            ck.bad("l3l2q_l3_request_stop", what, || {
                l3l2q_l3_request_stop(h, 0)
            });
            ck.bad("l3l2q_l3_try_reserve", what, || {
                l3l2q_l3_try_reserve(h, 8, ck.o(0))
            });
            ck.bad("l3l2q_l3_write_reserved", what, || {
                l3l2q_l3_write_reserved(h, &reservation, 0, bytes.as_ptr(), 4)
            });
            ck.bad("l3l2q_l3_commit", what, || {
                l3l2q_l3_commit(h, &reservation, DATA, 0)
            });
            ck.bad("l3l2q_l3_commit_deferred", what, || {
                l3l2q_l3_commit_deferred(h, &reservation, DATA, 0)
            });
            ck.bad("l3l2q_l3_flush", what, || l3l2q_l3_flush(h));
            ck.bad("l3l2q_l3_try_peek", what, || l3l2q_l3_try_peek(h, ck.o(0)));
            ck.bad("l3l2q_l3_peek", what, || l3l2q_l3_peek(h, ck.o(0), 0));
            ck.bad("l3l2q_l3_try_peek_batch", what, || {
                l3l2q_l3_try_peek_batch(h, ck.o(0), 4, ck.o(1))
            });
            ck.bad("l3l2q_l3_release_batch", what, || {
                l3l2q_l3_release_batch(h, &message, 1)
            });
            ck.bad("l3l2q_l3_read_into", what, || {
                l3l2q_l3_read_into(h, &message, ck.o(0), 16, ck.o(1))
            });
            ck.bad("l3l2q_l3_release", what, || l3l2q_l3_release(h, &message));
            ck.bad("l3l2q_l3_try_dequeue_into", what, || {
                l3l2q_l3_try_dequeue_into(h, ck.o(0), 16, ck.o(1), ck.o(2))
            });
            ck.bad("l3l2q_l3_dequeue_into", what, || {
                l3l2q_l3_dequeue_into(h, ck.o(0), 16, ck.o(1), ck.o(2), 0)
            });
            ck.bad("l3l2q_l3_error", what, || l3l2q_l3_error(h, ck.o(0)));
        }
        ck.bad("l3l2q_l3_task_scalars", "null scalars", || {
            l3l2q_l3_task_scalars(q, n(), 12)
        });
        ck.bad("l3l2q_l3_task_scalars", "misaligned scalars", || {
            l3l2q_l3_task_scalars(q, ck.m(0), 12)
        });
        ck.bad("l3l2q_l3_layout", "null out", || l3l2q_l3_layout(q, n()));
        ck.bad("l3l2q_l3_layout", "misaligned out", || {
            l3l2q_l3_layout(q, ck.m(0))
        });
        ck.bad("l3l2q_l3_try_enqueue", "null buf with 4 bytes", || {
            l3l2q_l3_try_enqueue(q, DATA, nc(), 4)
        });
        ck.bad("l3l2q_l3_try_enqueue_batch", "null payloads", || {
            l3l2q_l3_try_enqueue_batch(q, DATA, nc(), 1, ck.o(0))
        });
        ck.bad("l3l2q_l3_try_enqueue_batch", "misaligned payloads", || {
            l3l2q_l3_try_enqueue_batch(q, DATA, ck.c(1), 1, ck.o(0))
        });
        ck.bad(
            "l3l2q_l3_try_enqueue_batch",
            "a null payload with len 4",
            || l3l2q_l3_try_enqueue_batch(q, DATA, null_entry.as_ptr(), 1, ck.o(0)),
        );
        ck.bad("l3l2q_l3_try_enqueue_batch", "null out_sent", || {
            l3l2q_l3_try_enqueue_batch(q, DATA, entry.as_ptr(), 1, n())
        });
        ck.bad("l3l2q_l3_try_enqueue_batch", "misaligned out_sent", || {
            l3l2q_l3_try_enqueue_batch(q, DATA, entry.as_ptr(), 1, ck.m(0))
        });
        ck.bad("l3l2q_l3_enqueue", "null buf with 4 bytes", || {
            l3l2q_l3_enqueue(q, DATA, nc(), 4, 0)
        });
        ck.bad("l3l2q_l3_try_reserve", "null out", || {
            l3l2q_l3_try_reserve(q, 8, n())
        });
        ck.bad("l3l2q_l3_try_reserve", "misaligned out", || {
            l3l2q_l3_try_reserve(q, 8, ck.m(0))
        });
        ck.bad("l3l2q_l3_write_reserved", "null reservation", || {
            l3l2q_l3_write_reserved(q, nc(), 0, bytes.as_ptr(), 4)
        });
        ck.bad("l3l2q_l3_write_reserved", "misaligned reservation", || {
            l3l2q_l3_write_reserved(q, ck.c(0), 0, bytes.as_ptr(), 4)
        });
        ck.bad("l3l2q_l3_write_reserved", "null src with 4 bytes", || {
            l3l2q_l3_write_reserved(q, &reservation, 0, nc(), 4)
        });
        ck.bad("l3l2q_l3_commit", "null reservation", || {
            l3l2q_l3_commit(q, nc(), DATA, 0)
        });
        ck.bad("l3l2q_l3_commit", "misaligned reservation", || {
            l3l2q_l3_commit(q, ck.c(0), DATA, 0)
        });
        ck.bad("l3l2q_l3_commit_deferred", "null reservation", || {
            l3l2q_l3_commit_deferred(q, nc(), DATA, 0)
        });
        ck.bad("l3l2q_l3_commit_deferred", "misaligned reservation", || {
            l3l2q_l3_commit_deferred(q, ck.c(0), DATA, 0)
        });
        ck.bad("l3l2q_l3_try_peek", "null out", || {
            l3l2q_l3_try_peek(q, n())
        });
        ck.bad("l3l2q_l3_try_peek", "misaligned out", || {
            l3l2q_l3_try_peek(q, ck.m(0))
        });
        ck.bad("l3l2q_l3_peek", "null out", || l3l2q_l3_peek(q, n(), 0));
        ck.bad("l3l2q_l3_peek", "misaligned out", || {
            l3l2q_l3_peek(q, ck.m(0), 0)
        });
        ck.bad("l3l2q_l3_try_peek_batch", "null out", || {
            l3l2q_l3_try_peek_batch(q, n(), 4, ck.o(1))
        });
        ck.bad("l3l2q_l3_try_peek_batch", "misaligned out", || {
            l3l2q_l3_try_peek_batch(q, ck.m(0), 4, ck.o(1))
        });
        ck.bad("l3l2q_l3_try_peek_batch", "null out_count", || {
            l3l2q_l3_try_peek_batch(q, ck.o(0), 4, n())
        });
        ck.bad("l3l2q_l3_try_peek_batch", "misaligned out_count", || {
            l3l2q_l3_try_peek_batch(q, ck.o(0), 4, ck.m(1))
        });
        ck.bad("l3l2q_l3_release_batch", "null messages", || {
            l3l2q_l3_release_batch(q, nc(), 1)
        });
        ck.bad("l3l2q_l3_release_batch", "misaligned messages", || {
            l3l2q_l3_release_batch(q, ck.c(0), 1)
        });
        ck.bad("l3l2q_l3_read_into", "null message", || {
            l3l2q_l3_read_into(q, nc(), ck.o(0), 16, ck.o(1))
        });
        ck.bad("l3l2q_l3_read_into", "misaligned message", || {
            l3l2q_l3_read_into(q, ck.c(2), ck.o(0), 16, ck.o(1))
        });
        ck.bad("l3l2q_l3_read_into", "null dst with capacity 16", || {
            l3l2q_l3_read_into(q, &message, n(), 16, ck.o(1))
        });
        ck.bad("l3l2q_l3_read_into", "null out_len", || {
            l3l2q_l3_read_into(q, &message, ck.o(0), 16, n())
        });
        ck.bad("l3l2q_l3_read_into", "misaligned out_len", || {
            l3l2q_l3_read_into(q, &message, ck.o(0), 16, ck.m(1))
        });
        ck.bad("l3l2q_l3_release", "null message", || {
            l3l2q_l3_release(q, nc())
        });
        ck.bad("l3l2q_l3_release", "misaligned message", || {
            l3l2q_l3_release(q, ck.c(0))
        });
        for timeout in [None, Some(0)] {
            let call = |dst: *mut u8, op: *mut u64, len: *mut usize| match timeout {
                None => l3l2q_l3_try_dequeue_into(q, dst, 16, op, len),
                Some(t) => l3l2q_l3_dequeue_into(q, dst, 16, op, len, t),
            };
            let name = if timeout.is_none() {
                "l3l2q_l3_try_dequeue_into"
            } else {
                "l3l2q_l3_dequeue_into"
            };
            ck.bad(name, "null dst with capacity 16", || {
                call(n(), ck.o(1), ck.o(2))
            });
            ck.bad(name, "null out_opcode", || call(ck.o(0), n(), ck.o(2)));
            ck.bad(name, "misaligned out_opcode", || {
                call(ck.o(0), ck.m(1), ck.o(2))
            });
            ck.bad(name, "null out_len", || call(ck.o(0), ck.o(1), n()));
            ck.bad(name, "misaligned out_len", || {
                call(ck.o(0), ck.o(1), ck.m(2))
            });
        }
        ck.bad("l3l2q_l3_error", "null out", || l3l2q_l3_error(q, n()));
        ck.bad("l3l2q_l3_error", "misaligned out", || {
            l3l2q_l3_error(q, ck.m(0))
        });

        // ---- shared memory (`absent` must not come into existence)
        let (name, gone) = (shm_name.as_ptr(), absent.as_ptr());
        let shm_cfg = &shm_config;
        ck.bad("l3l2q_shm_create", "null name", || {
            l3l2q_shm_create(nc(), shm_cfg, ck.o(0), ck.o(1), ck.o(2))
        });
        ck.bad("l3l2q_shm_create", "null config", || {
            l3l2q_shm_create(gone, nc(), ck.o(0), ck.o(1), ck.o(2))
        });
        ck.bad("l3l2q_shm_create", "misaligned config", || {
            l3l2q_shm_create(gone, ck.c(3), ck.o(0), ck.o(1), ck.o(2))
        });
        ck.bad("l3l2q_shm_create", "null out", || {
            l3l2q_shm_create(gone, shm_cfg, n(), ck.o(1), ck.o(2))
        });
        ck.bad("l3l2q_shm_create", "misaligned out", || {
            l3l2q_shm_create(gone, shm_cfg, ck.m(0), ck.o(1), ck.o(2))
        });
        ck.bad("l3l2q_shm_create", "misaligned out_violation", || {
            l3l2q_shm_create(gone, shm_cfg, ck.o(0), ck.m(1), ck.o(2))
        });
        ck.bad("l3l2q_shm_create", "misaligned out_errno", || {
            l3l2q_shm_create(gone, shm_cfg, ck.o(0), ck.o(1), ck.m(2))
        });
        let mut probe = std::ptr::null_mut();
        assert_eq!(
            l3l2q_shm_open(gone, &mut probe, n()),
            Status::NotFound,
            "a refused create created nothing"
        );
        ck.bad("l3l2q_shm_open", "null name", || {
            l3l2q_shm_open(nc(), ck.o(0), ck.o(1))
        });
        ck.bad("l3l2q_shm_open", "null out", || {
            l3l2q_shm_open(name, n(), ck.o(1))
        });
        ck.bad("l3l2q_shm_open", "misaligned out", || {
            l3l2q_shm_open(name, ck.m(0), ck.o(1))
        });
        ck.bad("l3l2q_shm_open", "misaligned out_errno", || {
            l3l2q_shm_open(name, ck.o(0), ck.m(1))
        });
        ck.bad("l3l2q_shm_descriptor", "null handle", || {
            l3l2q_shm_descriptor(nc(), ck.o(0), ck.o(1))
        });
        ck.bad("l3l2q_shm_descriptor", "misaligned handle", || {
            l3l2q_shm_descriptor(hs, ck.o(0), ck.o(1))
        });
        ck.bad("l3l2q_shm_descriptor", "null out_descriptor", || {
            l3l2q_shm_descriptor(shm, n(), ck.o(1))
        });
        ck.bad("l3l2q_shm_descriptor", "misaligned out_descriptor", || {
            l3l2q_shm_descriptor(shm, ck.m(0), ck.o(1))
        });
        ck.bad("l3l2q_shm_descriptor", "misaligned out_args", || {
            l3l2q_shm_descriptor(shm, ck.o(0), ck.m(1))
        });
        ck.bad("l3l2q_shm_rebase_task_scalars", "null handle", || {
            l3l2q_shm_rebase_task_scalars(nc(), scalars.as_mut_ptr(), 12)
        });
        ck.bad("l3l2q_shm_rebase_task_scalars", "misaligned handle", || {
            l3l2q_shm_rebase_task_scalars(hs, scalars.as_mut_ptr(), 12)
        });
        ck.bad("l3l2q_shm_rebase_task_scalars", "null scalars", || {
            l3l2q_shm_rebase_task_scalars(shm, n(), 12)
        });
        ck.bad(
            "l3l2q_shm_rebase_task_scalars",
            "misaligned scalars",
            || l3l2q_shm_rebase_task_scalars(shm, ck.m(0), 12),
        );
        ck.bad("l3l2q_shm_unlink", "null name", || {
            l3l2q_shm_unlink(nc(), ck.o(0))
        });
        ck.bad("l3l2q_shm_unlink", "misaligned out_errno", || {
            l3l2q_shm_unlink(name, ck.m(0))
        });
        assert_eq!(
            l3l2q_shm_open(name, &mut probe, n()),
            Status::Ok,
            "a refused unlink removed nothing"
        );
        assert_eq!(l3l2q_shm_free(&mut probe), Status::Ok);
        ck.bad("l3l2q_shm_free", "null slot", || l3l2q_shm_free(n()));
        ck.bad("l3l2q_shm_free", "misaligned slot", || {
            l3l2q_shm_free(ck.m(0))
        });
        let mut odd = mis(shm);
        ck.bad("l3l2q_shm_free", "misaligned handle", || {
            l3l2q_shm_free(&mut odd)
        });
        assert_eq!(odd, mis(shm));

        // Optional out-pointers may be NULL (positive controls).
        let mut layout = Layout::default();
        assert_eq!(
            l3l2q_layout_compute(4, 256, 256, &mut layout, n()),
            Status::Ok
        );
        assert_eq!(
            l3l2q_region_descriptor_validate(&descriptor, n()),
            Status::Ok
        );
        assert_eq!(
            l3l2q_queue_validate(&descriptor, &args, &mut layout, n()),
            Status::Ok
        );
        let mut violation = Violation::RegionMagic;
        assert_eq!(
            l3l2q_layout_compute(3, 256, 256, &mut layout, &mut violation),
            Status::BadDescriptor
        );
        assert_eq!(violation, Violation::Depth);
        let mut d = RegionDescriptor::default();
        assert_eq!(l3l2q_shm_descriptor(shm, &mut d, n()), Status::Ok);
        assert_eq!(d.region_id, 9);

        // Nothing above touched the queue, the endpoint or the region.
        let mut info: ErrorInfo = std::mem::zeroed();
        assert_eq!(l3l2q_l3_error(q, &mut info), Status::Ok);
        assert_eq!(info.kind, 0, "L3 queue not poisoned");
        assert_eq!(l3l2q_l2_error(ep, &mut info), Status::Ok);
        assert_eq!(info.kind, 0, "L2 endpoint not poisoned");
        assert_eq!(counters(&region), [0; 6]);
        assert_eq!(counters(&spare), [7; 6]);
        assert_eq!(l3l2q_l3_try_enqueue(q, DATA, bytes.as_ptr(), 4), Status::Ok);
        let mut m = Message::EMPTY;
        assert_eq!(l3l2q_l2_try_peek(ep, &mut m), Status::Ok);
        assert_eq!(m.payload(), &bytes[..4]);
        assert_eq!(l3l2q_l2_release(ep, &m), Status::Ok);

        assert_eq!(l3l2q_l2_endpoint_free(&mut ep), Status::Ok);
        assert_eq!(l3l2q_l3_queue_free(&mut q), Status::Ok);
        assert_eq!(l3l2q_shm_free(&mut shm), Status::Ok);
    }

    let covered = ck.covered.borrow();
    let header: BTreeSet<String> = artifacts::header_functions().into_iter().collect();
    let missing: Vec<&String> = header
        .iter()
        .filter(|f| !covered.contains(f.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "exported functions without null/misaligned checks here: {missing:?}"
    );
    eprintln!(
        "{} null/misaligned cases over {} exported functions",
        ck.cases.borrow(),
        covered.len()
    );
}
