//! The scan: every exported function's body is one `ffi_boundary!`,
//! cross-checked against the header and the library's dynamic symbols.

use super::*;

/// Exported on purpose without `ffi_boundary!`: they return a static
/// string, not a status, so they wrap their body in `catch_unwind`
/// directly and fall back to a fixed text (see `src/ffi/common.rs`).
const CATCH_UNWIND_EXCEPTIONS: [&str; 4] = [
    "l3l2q_status_str",
    "l3l2q_violation_str",
    "l3l2q_error_kind_str",
    "l3l2q_operation_str",
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
