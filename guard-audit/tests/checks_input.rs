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
        .filter(|f| {
            f.endpoint
                .as_ref()
                .is_some_and(|(m, p)| m == method && p == path)
        })
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
            out.push_str(&format!(
                "  {} {} {} {}: {}\n",
                r.method, r.path, c.rule, c.verdict, c.reason
            ));
        }
    }
    out
}

fn sev(fs: &[&Finding]) -> Vec<Severity> {
    fs.iter().map(|f| f.severity).collect()
}

#[test]
fn input_validation() {
    let s = scan("input_validate");
    let r = "GA-INPUT-003";
    let f = about(&s, r, "POST", "/users");
    assert_eq!(sev(&f), [Severity::High]);
    assert!(
        f[0].message.contains("no validation") && f[0].message.contains("`role`"),
        "{}",
        f[0].message
    );
    let f = about(&s, r, "POST", "/users/derive-only");
    assert_eq!(sev(&f), [Severity::Medium]);
    assert!(f[0].message.contains("never calls `.validate()`"));
    let f = about(&s, r, "POST", "/users/open");
    assert!(f[0].message.contains("deny_unknown_fields"));
    assert_eq!(sev(&about(&s, r, "POST", "/raw")), [Severity::High]);
    assert!(
        about(&s, r, "POST", "/login")[0]
            .message
            .contains("schema-less")
    );
    assert_eq!(verdict(&s, "POST", "/external", r).0, "unknown");
    // Negatives.
    for (m, p) in [
        ("POST", "/users/checked"),
        ("POST", "/profile"),
        ("GET", "/items/{id}"),
    ] {
        assert!(about(&s, r, m, p).is_empty(), "{m} {p}\n{}", dump(&s));
        assert_eq!(verdict(&s, m, p, r).0, "guarded", "{m} {p}");
    }
}

#[test]
fn cors_layers() {
    let s = scan("cors_layers");
    let strict = findings(&s, "GA-CORS-004");
    assert_eq!(
        sev(&strict),
        [Severity::High, Severity::High, Severity::Medium],
        "{}",
        dump(&s)
    );
    assert!(strict[1].message.contains("panics"));
    assert!(strict[2].message.contains("predicate"));
    assert_eq!(sev(&findings(&s, "GA-CORS-005")), [Severity::Low]);
    assert_eq!(verdict(&s, "GET", "/very", "GA-CORS-004").0, "unguarded");
    assert_eq!(verdict(&s, "GET", "/any", "GA-CORS-005").0, "unguarded");
    assert_eq!(verdict(&s, "GET", "/config", "GA-CORS-004").0, "unknown");
    // Negatives: exact origins (one finding-free layer, two endpoints) and no CORS.
    for p in ["/exact", "/exact2", "/plain"] {
        assert_eq!(verdict(&s, "GET", p, "GA-CORS-004").0, "guarded");
        assert_eq!(verdict(&s, "GET", p, "GA-CORS-005").0, "guarded");
    }
}

#[test]
fn ssrf() {
    let s = scan("ssrf_fetch");
    let r = "GA-SSRF-006";
    for (m, p) in [("GET", "/preview"), ("POST", "/webhook"), ("GET", "/proxy")] {
        assert_eq!(
            sev(&about(&s, r, m, p)),
            [Severity::High],
            "{m} {p}\n{}",
            dump(&s)
        );
        assert_eq!(verdict(&s, m, p, r).0, "unguarded");
    }
    assert_eq!(verdict(&s, "GET", "/opaque", r).0, "unknown");
    assert_eq!(
        verdict(&s, "GET", "/users/{id}", r),
        (
            "guarded".to_owned(),
            "`st.client.get(url)`: URL built on a fixed host".to_owned()
        )
    );
    assert_eq!(verdict(&s, "GET", "/safe", r).0, "guarded");
    assert_eq!(verdict(&s, "GET", "/nofetch", r).0, "none");
    assert_eq!(findings(&s, r).len(), 3);
}

#[test]
fn error_detail() {
    let s = scan("err_leak");
    let r = "GA-ERR-007";
    assert_eq!(sev(&about(&s, r, "GET", "/users/{id}")), [Severity::High]);
    assert_eq!(sev(&about(&s, r, "GET", "/orders")), [Severity::High]);
    let imp: Vec<_> = findings(&s, r)
        .into_iter()
        .filter(|f| f.message.contains("impl IntoResponse"))
        .collect();
    assert_eq!(imp.len(), 1, "only AppError, not QuietError\n{}", dump(&s));
    assert!(imp[0].message.contains("AppError"));
    assert_eq!(verdict(&s, "GET", "/reports", r).0, "unguarded");
    let rej: Vec<_> = findings(&s, r)
        .into_iter()
        .filter(|f| f.severity == Severity::Low)
        .collect();
    assert_eq!(rej.len(), 1);
    assert_eq!(
        rej[0].endpoint,
        Some(("POST".to_owned(), "/items".to_owned()))
    );
    // Negatives: logged errors, a custom rejection.
    assert_eq!(verdict(&s, "GET", "/users/{id}/logged", r).0, "guarded");
    assert!(about(&s, r, "GET", "/users/{id}/logged").is_empty());
    let strict = verdict(&s, "POST", "/items/strict", r);
    assert_eq!(strict.0, "guarded");
    assert!(!strict.1.contains("JsonRejection") && !strict.1.contains("default text"));
}

#[test]
fn body_limits() {
    let s = scan("body_limits");
    let r = "GA-BODY-008";
    assert_eq!(
        sev(&findings(&s, r)),
        [Severity::High, Severity::Medium, Severity::Medium],
        "{}",
        dump(&s)
    );
    assert!(findings(&s, r)[1].message.contains("100 MiB"));
    assert_eq!(verdict(&s, "POST", "/disabled", r).0, "unguarded");
    assert_eq!(verdict(&s, "POST", "/raw", r).0, "unguarded");
    // Negatives.
    assert_eq!(
        verdict(&s, "POST", "/capped", r),
        ("guarded".to_owned(), "body limit 10 MiB".to_owned())
    );
    assert_eq!(
        verdict(&s, "POST", "/default", r),
        ("guarded".to_owned(), "axum default 2 MB limit".to_owned())
    );
    assert_eq!(verdict(&s, "POST", "/raw/bounded", r).0, "guarded");
    assert_eq!(
        verdict(&s, "GET", "/disabled/page", r).0,
        "none",
        "reads no body"
    );
}

#[test]
fn uploads() {
    let s = scan("upload_multipart");
    let r = "GA-UPLOAD-009";
    let f = about(&s, r, "POST", "/upload/unsafe");
    assert_eq!(sev(&f), [Severity::Critical]);
    for part in ["no size check", "no content sniffing", "path traversal"] {
        assert!(f[0].message.contains(part), "{part}: {}", f[0].message);
    }
    let f = about(&s, r, "POST", "/avatar");
    assert_eq!(sev(&f), [Severity::High]);
    assert!(!f[0].message.contains("no size check") && f[0].message.contains("2 MiB"));
    // Negatives.
    assert_eq!(verdict(&s, "POST", "/upload/safe", r).0, "guarded");
    assert_eq!(verdict(&s, "POST", "/upload/declared", r).0, "guarded");
    assert_eq!(findings(&s, r).len(), 2);
}

#[test]
fn security_headers() {
    let s = scan("hdr_headers");
    let r = "GA-HDR-011";
    assert_eq!(verdict(&s, "GET", "/full", r).0, "guarded");
    assert_eq!(
        verdict(&s, "GET", "/partial", r),
        (
            "unguarded".to_owned(),
            "missing HSTS, X-Frame-Options, CSP".to_owned()
        )
    );
    assert_eq!(verdict(&s, "GET", "/opaque", r).0, "unknown");
    let f = findings(&s, r);
    assert_eq!(
        sev(&f),
        [Severity::Low, Severity::Medium],
        "one per root\n{}",
        dump(&s)
    );
    assert!(f[0].message.contains("2 endpoint(s)"));
    assert!(!f.iter().any(|f| f.message.contains("/full")));
}

#[test]
fn a_plain_router_beside_a_guarded_app_gets_none_of_its_headers() {
    let s = scan("hdr_outer");
    let r = "GA-HDR-011";
    // The guarded app, mounted as the fallback service, keeps its headers.
    assert_eq!(
        verdict(&s, "ANY", "(fallback)", r),
        (
            "guarded".to_owned(),
            "all security headers (GuardedRouter)".to_owned()
        ),
        "{}",
        s.to_text()
    );
    for (method, path) in [("POST", "/login"), ("POST", "/hook")] {
        assert_eq!(
            verdict(&s, method, path, r).0,
            "unguarded",
            "{method} {path}\n{}",
            s.to_text()
        );
    }
}
