//! The input-family checks (GA-INPUT-003, GA-CORS-004/005, GA-SSRF-006,
//! GA-ERR-007, GA-BODY-008, GA-UPLOAD-009, GA-HDR-011) on fixture crates
//! written as real axum code: each with a case it must flag and a case it
//! must leave alone.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::PathBuf;

use guard_audit::Scan;
use guard_audit::findings::{Finding, Severity};

fn scan(name: &str) -> Scan {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .join("Cargo.toml");
    guard_audit::scan(&manifest).unwrap()
}

/// The verdict and reason `rule` gave `method path`.
fn verdict(s: &Scan, method: &str, path: &str, rule: &str) -> (String, String) {
    let r = s
        .report
        .route(method, path)
        .unwrap_or_else(|| panic!("no {method} {path} in\n{}", s.to_text()));
    r.checks
        .iter()
        .find(|c| c.rule == rule)
        .map(|c| (c.verdict.to_owned(), c.reason.clone()))
        .unwrap_or_else(|| ("none".to_owned(), String::new()))
}

fn findings<'a>(s: &'a Scan, rule: &str) -> Vec<&'a Finding> {
    s.findings.iter().filter(|f| f.rule == rule).collect()
}

/// The findings of `rule` about `method path`.
fn about<'a>(s: &'a Scan, rule: &str, method: &str, path: &str) -> Vec<&'a Finding> {
    findings(s, rule)
        .into_iter()
        .filter(|f| f.endpoint.as_ref().is_some_and(|(m, p)| m == method && p == path))
        .collect()
}

fn dump(s: &Scan) -> String {
    let mut out = String::new();
    for f in &s.findings {
        out.push_str(&format!(
            "{} {:?} {}:{} {}\n",
            f.rule,
            f.severity,
            f.location.file.display(),
            f.location.line,
            f.message
        ));
    }
    for r in &s.report.routes {
        for c in &r.checks {
            out.push_str(&format!("  {} {} {} {}: {}\n", r.method, r.path, c.rule, c.verdict, c.reason));
        }
    }
    out
}

/// Prints every finding and verdict of the crate at `$GA_SCAN` (a
/// manifest path): `GA_SCAN=... cargo test --test checks_input dump -- --ignored --nocapture`.
#[test]
#[ignore = "calibration helper: needs GA_SCAN"]
fn dump_scan() {
    let manifest = PathBuf::from(std::env::var("GA_SCAN").unwrap());
    let s = guard_audit::scan(&manifest).unwrap();
    println!("{}", dump(&s));
}

#[test]
fn print_fixtures() {
    for n in ["input_validate", "cors_layers", "ssrf_fetch", "err_leak", "body_limits", "upload_multipart", "hdr_headers"] {
        println!("=== {n}\n{}", dump(&scan(n)));
    }
}
