//! The scanner on `examples/projects-api`: exactly the routes its
//! `--print-routes` report lists.
//!
//! The project has no checked-in snapshot of that report (its own test,
//! `examples/projects-api/tests/print_routes.rs`, compares the binary's
//! output with the report the built service serves), so the expected list
//! below is the framework report's (method, path, access) rows, written out
//! by hand from `build` in `examples/projects-api/src/lib.rs`. Building the
//! service here would pull sqlx and Redis into this crate's tests.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::PathBuf;

const EXPECTED: &[(&str, &str, &str)] = &[
    ("POST", "/api/link-preview", "auth"),
    ("POST", "/api/login", "public"),
    ("POST", "/api/logout", "auth"),
    ("GET", "/api/me", "auth"),
    ("GET", "/api/projects", "auth"),
    ("POST", "/api/projects", "auth"),
    ("DELETE", "/api/projects/{project}", "auth"),
    ("GET", "/api/projects/{project}", "auth"),
    ("PATCH", "/api/projects/{project}", "auth"),
    ("POST", "/api/projects/{project}/files", "auth"),
    ("GET", "/api/projects/{project}/files/{file}", "auth"),
    ("POST", "/api/signup", "public"),
    ("GET", "/files/{token}", "public"),
    ("GET", "/healthz", "public"),
];

#[test]
fn finds_exactly_the_routes_of_the_print_routes_report() {
    let manifest =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/projects-api/Cargo.toml");
    let scan = guard_audit::scan(&manifest).unwrap();
    assert!(scan.gaps.is_empty(), "{:?}", scan.gaps);
    let found: Vec<(&str, &str, &str)> = scan
        .report
        .routes
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str(), r.access))
        .collect();
    let mut expected = EXPECTED.to_vec();
    expected.sort_by(|a, b| (a.1, a.0).cmp(&(b.1, b.0)));
    assert_eq!(found, expected, "{}", scan.to_text());
    assert_eq!(scan.unknown, 0);
    assert_eq!(scan.roots, vec!["projects_api::build".to_owned()]);

    // The declared guards come from the handlers' attributes.
    let login = scan.report.route("POST", "/api/login").unwrap();
    assert_eq!(login.handler, "projects_api::accounts::login");
    assert_eq!(login.public_reason.as_deref(), Some("login"));
    assert_eq!(login.body.as_deref(), Some("Credentials"));
    let kinds: Vec<_> = login
        .rates
        .iter()
        .map(|r| (r.kind.as_str(), r.spec.as_str()))
        .collect();
    assert_eq!(
        kinds,
        vec![("rate_ip", "20/min"), ("rate_identifier", "5/min")]
    );
    let upload = scan
        .report
        .route("POST", "/api/projects/{project}/files")
        .unwrap();
    assert_eq!(upload.owner, vec!["project"]);
    assert_eq!(upload.upload.as_ref().unwrap().max_bytes, 5 * 1024 * 1024);
    let update = scan
        .report
        .route("PATCH", "/api/projects/{project}")
        .unwrap();
    assert_eq!(update.body.as_deref(), Some("ProjectChanges"));
    assert!(
        scan.report
            .route("POST", "/api/link-preview")
            .unwrap()
            .fetch
    );
    // `.layer(session_layer)` comes after every route: it covers them all.
    assert!(
        scan.report
            .routes
            .iter()
            .all(|r| r.layers == vec!["session_layer"])
    );
}
