//! The committed C header must be exactly what cbindgen generates from the
//! current sources, and its version macros must match Cargo.toml.

use l3l2q_ctests::root;

fn generate() -> String {
    let config =
        cbindgen::Config::from_file(root().join("cbindgen.toml")).expect("cbindgen.toml parses");
    let mut out = Vec::new();
    cbindgen::Builder::new()
        .with_crate(root())
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut out);
    String::from_utf8(out).expect("header is UTF-8")
}

#[test]
fn committed_header_is_current() {
    let fresh = generate();
    let path = root().join("include/l3l2q.h");
    if std::env::var_os("L3L2Q_BLESS").is_some() {
        std::fs::write(&path, &fresh).expect("write header");
    }
    let committed = std::fs::read_to_string(&path).expect("include/l3l2q.h exists");
    assert!(
        committed == fresh,
        "include/l3l2q.h is stale: regenerate with `L3L2Q_BLESS=1 cargo test -p l3l2q-ctests --test header` and commit it"
    );
}

fn macro_value(header: &str, name: &str) -> String {
    let prefix = format!("#define {name} ");
    header
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("{name} missing from the header"))
        .trim()
        .to_string()
}

#[test]
fn version_macros_match_cargo_toml() {
    let header = std::fs::read_to_string(root().join("include/l3l2q.h")).unwrap();
    assert_eq!(
        macro_value(&header, "L3L2Q_VERSION_MAJOR"),
        env!("CARGO_PKG_VERSION_MAJOR")
    );
    assert_eq!(
        macro_value(&header, "L3L2Q_VERSION_MINOR"),
        env!("CARGO_PKG_VERSION_MINOR")
    );
    assert_eq!(
        macro_value(&header, "L3L2Q_VERSION_PATCH"),
        env!("CARGO_PKG_VERSION_PATCH")
    );
}

#[test]
fn every_symbol_type_and_macro_is_prefixed() {
    let header = std::fs::read_to_string(root().join("include/l3l2q.h")).unwrap();
    for line in header.lines() {
        let line = line.trim_start();
        if line.starts_with('*') || line.starts_with("/*") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("#define ") {
            let name = rest.split_whitespace().next().unwrap();
            assert!(name.starts_with("L3L2Q_"), "macro {name} lacks the prefix");
        }
        let type_name = match line.strip_prefix("typedef ") {
            // A function pointer type: `typedef ret (*name)(args);`.
            Some(rest) if rest.contains("(*") => {
                rest.split("(*").nth(1).and_then(|r| r.split(')').next())
            }
            Some(rest) if rest.ends_with(';') => {
                rest.trim_end_matches(';').split_whitespace().last()
            }
            Some(rest) => rest.split_whitespace().nth(1).filter(|n| *n != "{"),
            None => line
                .strip_prefix("} ")
                .filter(|rest| !rest.trim_start().starts_with("//"))
                .map(|rest| rest.trim_end_matches(';')),
        };
        if let Some(name) = type_name {
            assert!(
                name.starts_with("l3l2q_"),
                "type {name} lacks the prefix: {line}"
            );
        }
    }
    // Function declarations start at column 0 with a type; their name is
    // the identifier right before the first '('.
    for line in header
        .lines()
        .filter(|l| l.contains('(') && l.starts_with(|c: char| c.is_ascii_lowercase()))
    {
        if line.starts_with("typedef") {
            continue;
        }
        let name = line
            .split('(')
            .next()
            .unwrap()
            .split_whitespace()
            .last()
            .unwrap()
            .trim_start_matches('*');
        assert!(
            name.starts_with("l3l2q_"),
            "function {name} lacks the prefix: {line}"
        );
    }
}
