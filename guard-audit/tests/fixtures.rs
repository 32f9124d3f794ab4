//! The scanner on fixture crates (parsed, never built): each construct with
//! a case it must see and a case it must not be fooled by.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::PathBuf;

use guard_audit::Scan;
use guard_core::report::RouteEntry;

fn scan(name: &str) -> Scan {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .join("Cargo.toml");
    guard_audit::scan(&manifest).unwrap()
}

fn route<'a>(scan: &'a Scan, method: &str, path: &str) -> &'a RouteEntry {
    scan.report
        .route(method, path)
        .unwrap_or_else(|| panic!("no {method} {path} in\n{}", scan.to_text()))
}

fn pairs(scan: &Scan) -> Vec<(String, String)> {
    scan.report
        .routes
        .iter()
        .map(|r| (r.method.clone(), r.path.clone()))
        .collect()
}

#[test]
fn nest_across_modules_and_inline() {
    let s = scan("nest_modules");
    assert!(s.gaps.is_empty(), "{:?}", s.gaps);
    assert_eq!(
        route(&s, "GET", "/api/users/{id}").handler,
        "nest_modules::api::users::show",
        "resolved through `mod users;`, not the bare name `show` in other.rs"
    );
    assert_eq!(
        route(&s, "GET", "/inline/ping").handler,
        "nest_modules::other::index"
    );
    assert_eq!(route(&s, "GET", "/").handler, "nest_modules::other::index");
    // Negative: an unresolvable handler is `unknown` with a reason, and
    // the nested fn is not reported again as a root of its own.
    let missing = route(&s, "GET", "/api/missing");
    assert_eq!(missing.handler, "unknown");
    assert!(
        missing
            .unknown
            .as_deref()
            .unwrap()
            .contains("nowhere::handler")
    );
    assert_eq!(s.unknown, 1);
    assert_eq!(s.roots, vec!["nest_modules::app".to_owned()]);
    assert!(s.report.route("GET", "/users/{id}").is_none());
    assert!(
        s.totals()
            .contains("4 endpoints: 3 resolved, 1 unknown; 0 files not parsed")
    );
}

#[test]
fn merge_of_router_fns_and_opaque_values() {
    let s = scan("merge");
    assert_eq!(route(&s, "GET", "/health").handler, "merge::health");
    assert_eq!(route(&s, "POST", "/items").handler, "merge::create");
    // Negative: a router passed in from outside is not invented as empty;
    // it stays visible as an unknown.
    let opaque = route(&s, "ANY", "(merged)");
    assert!(opaque.unknown.as_deref().unwrap().contains("extra"));
    assert_eq!(s.roots, vec!["merge::app".to_owned()]);
}

#[test]
fn layer_order_follows_axum() {
    let s = scan("layer_order");
    // `Router::new().layer(auth).route(..)`: not covered.
    assert!(route(&s, "GET", "/open").layers.is_empty());
    // `.route(..).layer(auth)`: covered.
    assert_eq!(route(&s, "GET", "/closed").layers, vec!["auth()"]);
    // route_layer wraps the routes before it, not later ones nor the fallback.
    assert_eq!(route(&s, "GET", "/covered").layers, vec!["auth()"]);
    assert!(route(&s, "GET", "/uncovered").layers.is_empty());
    assert!(route(&s, "ANY", "(fallback)").layers.is_empty());
    // MethodRouter::layer wraps the methods added before it only.
    assert_eq!(route(&s, "GET", "/m").layers, vec!["limit()"]);
    assert!(route(&s, "POST", "/m").layers.is_empty());
}

#[test]
fn let_rebinding_and_serve() {
    let s = scan("let_rebinding");
    assert_eq!(
        pairs(&s),
        vec![
            ("GET".to_owned(), "/after-cond".to_owned()),
            ("GET".to_owned(), "/cond".to_owned()),
            ("GET".to_owned(), "/first".to_owned()),
            ("GET".to_owned(), "/in-async".to_owned()),
            ("GET".to_owned(), "/second".to_owned())
        ]
    );
    assert_eq!(route(&s, "GET", "/first").layers, vec!["trace()"]);
    assert!(route(&s, "GET", "/second").layers.is_empty());
    // A router chosen by `if` as a value keeps its routes.
    assert_eq!(
        route(&s, "GET", "/cond").layers,
        vec!["auth() [only if basic]"]
    );
    assert!(route(&s, "GET", "/after-cond").layers.is_empty());
    assert_eq!(route(&s, "GET", "/first").handler, "let_rebinding::first");
    assert_eq!(
        route(&s, "GET", "/first").source.as_deref(),
        Some("src/main.rs:7")
    );
}

#[test]
fn a_file_that_does_not_parse_is_reported() {
    let s = scan("broken_file");
    assert_eq!(s.gaps.len(), 1, "{:?}", s.gaps);
    assert!(s.gaps[0].file.ends_with("src/bad.rs"));
    assert!(s.gaps[0].error.starts_with("parse:"));
    assert!(s.totals().ends_with("1 files not parsed"));
    let text = s.to_text();
    assert!(text.contains("NOT PARSED"), "{text}");
    assert!(s.to_json().contains("\"files_not_parsed\": 1"));
    // The files that parse are still scanned.
    route(&s, "GET", "/ok");
}

#[test]
fn params_as_written_and_every_constructor() {
    let s = scan("params");
    route(&s, "GET", "/old/:id");
    route(&s, "GET", "/new/{id}");
    route(&s, "PUT", "/new/{id}");
    route(&s, "DELETE", "/new/{id}");
    route(&s, "ANY", "/files/{*rest}");
    route(&s, "PATCH", "/filtered");
    // A nest prefix read at run time (a parameter here) is not made up:
    // the nested path is listed under it, the prefix named in the
    // condition (before the sixth holdout round it stayed `{prefix}/x`).
    let nested = route(&s, "GET", "/x");
    assert!(
        nested
            .layers
            .iter()
            .any(|l| l.contains("under the run-time prefix `prefix`")),
        "{:?}",
        nested.layers
    );
    assert!(s.report.route("GET", "{prefix}/x").is_none());
    let svc = route(&s, "ANY", "/svc");
    assert!(svc.handler.starts_with("service: ServeDir"));
    // Negative: no rewriting of `:id` into `{id}` or the reverse.
    assert!(s.report.route("GET", "/old/{id}").is_none());
    assert!(s.report.route("GET", "/new/:id").is_none());
    assert_eq!(s.report.routes.len(), 8);
}

#[test]
fn use_trees_globs_aliases_reexports_and_path_attr() {
    let s = scan("resolve");
    assert!(s.gaps.is_empty(), "{:?}", s.gaps);
    assert_eq!(
        route(&s, "GET", "/glob").handler,
        "resolve::handlers::listing"
    );
    assert_eq!(
        route(&s, "GET", "/alias").handler,
        "resolve::handlers::users::show"
    );
    assert_eq!(
        route(&s, "GET", "/self-alias").handler,
        "resolve::handlers::users::show"
    );
    assert_eq!(
        route(&s, "GET", "/reexport").handler,
        "resolve::handlers::users::secret"
    );
    assert_eq!(
        route(&s, "GET", "/assoc").handler,
        "resolve::handlers::users::Users::list"
    );
    assert_eq!(
        route(&s, "GET", "/path-attr").handler,
        "resolve::moved::moved"
    );
    assert_eq!(route(&s, "GET", "/closure").handler, "<closure>");
    // `super::super::` from a nested module.
    assert_eq!(route(&s, "GET", "/n").handler, "resolve::handlers::listing");
    // Negative: `#[cfg(test)]` routers are not part of the service.
    assert!(s.report.route("GET", "/test-only").is_none());
    assert_eq!(s.unknown, 0);
}

#[test]
fn secure_route_guards_are_read() {
    let s = scan("secure");
    let health = route(&s, "GET", "/health");
    assert_eq!(health.access, "public");
    assert_eq!(health.public_reason.as_deref(), Some("health check"));
    let show = route(&s, "GET", "/projects/{project}");
    assert_eq!(show.access, "auth");
    assert_eq!(show.owner, vec!["project"]);
    assert_eq!(show.body.as_deref(), Some("NewThing"));
    assert_eq!(show.rates.len(), 1);
    assert_eq!(show.rates[0].spec, "5/min");
    let upload = route(&s, "POST", "/upload").upload.as_ref().unwrap();
    assert_eq!(upload.max_bytes, 5 * 1024 * 1024);
    assert_eq!(upload.types, vec!["png"]);
    // Negative: no attribute, no invented guard.
    let plain = route(&s, "GET", "/plain");
    assert_eq!(plain.access, "public");
}

#[test]
fn missing_manifest_is_an_error() {
    assert!(guard_audit::scan(std::path::Path::new("/nonexistent/Cargo.toml")).is_err());
}
