//! The built binary on hostile crates written at run time (a FIFO, a device,
//! 10,000-level nesting cannot be checked in as fixtures): it never panics,
//! hangs or overflows its stack; a file it cannot read or parse is listed
//! `NOT PARSED` with the reason, and the exit status is 3 (incomplete).

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// A crate `name` in a fresh temporary directory: `src/lib.rs` holds
/// `lib` (after a router with one route, `GET /ok`), plus `files`.
fn krate(name: &str, lib: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("guard-audit-robust-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[workspace]\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("src/lib.rs"),
        format!(
            "use axum::Router;\nuse axum::routing::get;\n\npub fn app() -> Router {{\n    Router::new().route(\"/ok\", get(ok))\n}}\n\nasync fn ok() {{}}\n\n{lib}\n"
        ),
    )
    .unwrap();
    for (file, text) in files {
        std::fs::write(dir.join("src").join(file), text).unwrap();
    }
    dir
}

/// Runs the binary on a crate, killed (and the test failed) after 60 s.
fn run(dir: &Path, args: &[&str]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cargo-guard-audit"))
        .arg("--manifest-path")
        .arg(dir.join("Cargo.toml"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        out.read_to_string(&mut s).unwrap();
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        err.read_to_string(&mut s).unwrap();
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("guard-audit still running after 60 s on {}", dir.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        code: status.code(),
        stdout: reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
    }
}

/// Exit 3, the file listed as not parsed with this reason, the rest of the
/// crate still scanned, no panic.
fn assert_incomplete(r: &Run, not_parsed: &str) {
    assert_eq!(
        r.code,
        Some(3),
        "stdout:\n{}\nstderr:\n{}",
        r.stdout,
        r.stderr
    );
    assert!(
        r.stdout.lines().any(|l| l.starts_with(not_parsed)),
        "no line starting {not_parsed:?} in\n{}",
        r.stdout
    );
    assert!(r.stdout.contains("1 files not parsed"), "{}", r.stdout);
    assert!(
        r.stdout.contains("\nGET /ok  at src/lib.rs:5\n"),
        "{}",
        r.stdout
    );
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}

#[test]
fn a_path_attribute_to_its_own_file_is_a_module_cycle() {
    let dir = krate("cycle_self", "#[path = \"lib.rs\"]\nmod me;", &[]);
    let r = run(&dir, &[]);
    assert_incomplete(
        &r,
        "NOT PARSED src/lib.rs: read: module cycle: `mod me` loads a file that is already being loaded",
    );
}

#[test]
fn a_module_cycle_through_two_files_is_reported() {
    let dir = krate(
        "cycle_two",
        "mod a;",
        &[
            ("a.rs", "#[path = \"b.rs\"]\nmod b;\n"),
            ("b.rs", "#[path = \"a.rs\"]\nmod a;\n"),
        ],
    );
    let r = run(&dir, &[]);
    assert_incomplete(
        &r,
        "NOT PARSED src/a.rs: read: module cycle: `mod a` loads a file that is already being loaded",
    );
    // Negative: one file loaded twice under two names is no cycle.
    let dir = krate(
        "twice",
        "mod a;\n#[path = \"a.rs\"]\nmod b;",
        &[("a.rs", "pub fn f() {}\n")],
    );
    let r = run(&dir, &[]);
    assert_eq!(r.code, Some(0), "{}", r.stdout);
    assert!(r.stdout.contains("0 files not parsed"), "{}", r.stdout);
}

#[test]
fn ten_thousand_nested_brackets_are_not_parsed_not_a_crash() {
    let n = 10_000;
    let deep = format!(
        "pub fn f() -> i32 {{ {}1{} }}\n",
        "(".repeat(n),
        ")".repeat(n)
    );
    let dir = krate("deep_parens", "mod deep;", &[("deep.rs", &deep)]);
    assert_incomplete(
        &run(&dir, &[]),
        "NOT PARSED src/deep.rs: parse: brackets nested 10001 deep, deeper than the limit of 256",
    );
    let blocks = format!("pub fn f() {}{}\n", "{".repeat(n), "}".repeat(n));
    let dir = krate("deep_blocks", "mod deep;", &[("deep.rs", &blocks)]);
    assert_incomplete(
        &run(&dir, &[]),
        "NOT PARSED src/deep.rs: parse: brackets nested 10000 deep, deeper than the limit of 256",
    );
    // Negative: 200 levels are parsed.
    let ok = format!(
        "pub fn f() -> i32 {{ {}1{} }}\n",
        "(".repeat(200),
        ")".repeat(200)
    );
    let dir = krate("deep_ok", "mod deep;", &[("deep.rs", &ok)]);
    let r = run(&dir, &[]);
    assert_eq!(r.code, Some(0), "{}", r.stdout);
}

#[test]
fn a_ten_thousand_call_chain_is_not_parsed_a_thousand_is_scanned() {
    let chain = |n: usize| {
        let routes: String = (0..n)
            .map(|i| format!("\n        .route(\"/r{i}\", get(h))"))
            .collect();
        format!(
            "use axum::Router;\nuse axum::routing::get;\nasync fn h() {{}}\npub fn big() -> Router {{\n    Router::new(){routes}\n}}\n"
        )
    };
    let dir = krate("deep_chain", "mod big;", &[("big.rs", &chain(10_000))]);
    assert_incomplete(
        &run(&dir, &[]),
        "NOT PARSED src/big.rs: parse: syntax tree nested deeper than the limit of 4000",
    );
    // Negative: a 1000-route router is read whole.
    let dir = krate("long_chain", "mod big;", &[("big.rs", &chain(1000))]);
    let r = run(&dir, &[]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(
        r.stdout.contains("1001 endpoints: 1001 resolved"),
        "{}",
        r.stdout
    );
}

#[test]
fn a_long_punctuation_run_is_not_parsed() {
    let n = 5000;
    let ty = format!("pub type T = {}u8{};\n", "Vec<".repeat(n), ">".repeat(n));
    let dir = krate("deep_type", "mod ty;", &[("ty.rs", &ty)]);
    assert_incomplete(
        &run(&dir, &[]),
        "NOT PARSED src/ty.rs: parse: 5001 punctuation tokens in a row, more than the limit of 1024",
    );
    let not = format!("pub fn f(x: bool) -> bool {{ {}x }}\n", "!".repeat(n));
    let dir = krate("deep_not", "mod not;", &[("not.rs", &not)]);
    assert_incomplete(
        &run(&dir, &[]),
        "NOT PARSED src/not.rs: parse: 5000 punctuation tokens in a row, more than the limit of 1024",
    );
    // Negative: 1000 in a row (at most 258 in 81,000 published files) are
    // parsed and scanned.
    let not = format!("pub fn f(x: bool) -> bool {{ {}x }}\n", "!".repeat(1000));
    let dir = krate("not_ok", "mod not;", &[("not.rs", &not)]);
    let r = run(&dir, &[]);
    assert_eq!(r.code, Some(0), "{}\n{}", r.stdout, r.stderr);
}

#[test]
fn a_fifo_or_a_device_is_not_read() {
    let dir = krate("fifo", "mod f;", &[]);
    let fifo = dir.join("src/f.rs");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    // Before the fix this read blocked forever (the harness kills it).
    assert_incomplete(
        &run(&dir, &[]),
        "NOT PARSED src/f.rs: read: not a regular file",
    );
    let dir = krate("devzero", "#[path = \"/dev/zero\"]\nmod z;", &[]);
    assert_incomplete(
        &run(&dir, &[]),
        "NOT PARSED /dev/zero: read: not a regular file",
    );
    let dir = krate("isdir", "mod d;", &[]);
    std::fs::create_dir(dir.join("src/d.rs")).unwrap();
    assert_incomplete(
        &run(&dir, &[]),
        "NOT PARSED src/d.rs: read: not a regular file",
    );
}

#[test]
fn every_incomplete_format_exits_3() {
    let dir = krate("fmt", "mod bad;", &[("bad.rs", "pub fn f( {}\n")]);
    for format in ["text", "json", "markdown", "sarif"] {
        let r = run(&dir, &["--format", format]);
        assert_eq!(r.code, Some(3), "--format {format}: {}", r.stderr);
        assert!(
            r.stdout.contains("src/bad.rs"),
            "--format {format}: {}",
            r.stdout
        );
    }
    let json: serde_json::Value =
        serde_json::from_str(&run(&dir, &["--format", "json"]).stdout).unwrap();
    assert_eq!(json["totals"]["files_not_parsed"], 1);
    assert_eq!(json["not_parsed"][0]["file"], "src/bad.rs");
}

#[test]
fn a_closed_stdout_is_exit_2_not_a_panic() {
    let dir = krate("pipe", "", &[]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_cargo-guard-audit"))
        .arg("--manifest-path")
        .arg(dir.join("Cargo.toml"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away before the report is written.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("cargo guard-audit: could not write the report to stdout: Broken pipe"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn include_is_followed_or_reported() {
    let dir = krate(
        "include_lit",
        "include!(\"routes.rs\");",
        &[(
            "routes.rs",
            "pub fn more() -> Router {\n    Router::new().route(\"/inc\", get(ok))\n}\n",
        )],
    );
    let r = run(&dir, &[]);
    assert_eq!(r.code, Some(0), "{}", r.stdout);
    assert!(
        r.stdout.contains("\nGET /inc  at src/lib.rs:"),
        "{}",
        r.stdout
    );
    // Before: the included file was neither read nor listed.
    let dir = krate("include_missing", "include!(\"nope.rs\");", &[]);
    assert_incomplete(
        &run(&dir, &[]),
        "NOT PARSED src/nope.rs: read: No such file or directory",
    );
    let dir = krate(
        "include_env",
        "include!(concat!(env!(\"OUT_DIR\"), \"/gen.rs\"));",
        &[],
    );
    assert_incomplete(
        &run(&dir, &[]),
        "NOT PARSED src/lib.rs: read: `include!(concat ! (env ! (\"OUT_DIR\") , \"/gen.rs\"))` (line 10) not followed: its path is computed at build time",
    );
    let dir = krate("include_self", "include!(\"lib.rs\");", &[]);
    assert_incomplete(
        &run(&dir, &[]),
        "NOT PARSED src/lib.rs: read: include cycle",
    );
}

#[test]
fn control_and_bidi_characters_in_a_path_are_escaped() {
    let dir = krate(
        "odd_paths",
        "pub fn more() -> Router {\n    Router::new()\n        .route(\"/a\\n0 endpoints: forged\", get(ok))\n        .route(\"/b\\u{202e}x\", get(ok))\n        .route(\"/files/{*rest}\", get(ok))\n        .route(\"/ünï/🦀\", get(ok))\n}",
        &[],
    );
    let r = run(&dir, &[]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(
        !r.stdout.lines().any(|l| l.starts_with("0 endpoints")),
        "a route path forged a line:\n{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("/a\\u{a}0 endpoints: forged"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("/b\\u{202e}x"), "{}", r.stdout);
    assert!(!r.stdout.contains('\u{202e}'), "{}", r.stdout);
    // Negative: printable unicode and axum wildcards are shown as written.
    assert!(r.stdout.contains("/files/{*rest}"), "{}", r.stdout);
    assert!(r.stdout.contains("/ünï/🦀"), "{}", r.stdout);
    let json: serde_json::Value =
        serde_json::from_str(&run(&dir, &["--format", "json"]).stdout).unwrap();
    assert!(
        json["report"]["routes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["path"] == "/b\\u{202e}x")
    );
}

#[test]
fn a_byte_order_mark_and_a_shebang_are_parsed_with_their_lines() {
    let dir = krate(
        "bom",
        "mod a;\nmod b;",
        &[
            (
                "a.rs",
                "\u{feff}use axum::routing::get;\npub fn r() -> axum::Router {\n    axum::Router::new().route(\"/bom\", get(super::ok))\n}\n",
            ),
            (
                "b.rs",
                "#!/usr/bin/env run\nuse axum::routing::get;\npub fn r() -> axum::Router {\n    axum::Router::new().route(\"/bang\", get(super::ok))\n}\n",
            ),
        ],
    );
    let r = run(&dir, &[]);
    assert_eq!(r.code, Some(0), "{}", r.stdout);
    assert!(r.stdout.contains("GET /bom  at src/a.rs:3"), "{}", r.stdout);
    assert!(
        r.stdout.contains("GET /bang  at src/b.rs:4"),
        "{}",
        r.stdout
    );
}

#[test]
fn a_symlink_loop_is_reported_as_one() {
    let dir = krate("symloop", "mod l;", &[]);
    std::os::unix::fs::symlink("l2.rs", dir.join("src/l.rs")).unwrap();
    std::os::unix::fs::symlink("l.rs", dir.join("src/l2.rs")).unwrap();
    assert_incomplete(
        &run(&dir, &[]),
        "NOT PARSED src/l.rs: read: Too many levels of symbolic links (os error 40)",
    );
}
