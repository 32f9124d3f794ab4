//! The router interpreter's features that had no fixture: published
//! siblings loaded from a registry cache, a router local reassigned inside
//! an `if` without `else`, a router passed to a workspace fn as argument.
//! Each with a case it must see and one it must not.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::PathBuf;

use guard_audit::{Options, Scan};
use guard_core::report::{RouteEntry, RouteReport};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn scan(name: &str) -> Scan {
    guard_audit::scan(&fixture(name).join("Cargo.toml")).unwrap()
}

/// A scan whose published siblings are looked for in the fixture registry
/// (`tests/fixtures/sibling_registry/*`), never in cargo's own cache.
fn scan_with_registry(name: &str, registry: Vec<PathBuf>) -> Scan {
    let options = Options {
        registry: Some(registry),
        ..Options::default()
    };
    guard_audit::scan_with(&fixture(name).join("Cargo.toml"), &options).unwrap()
}

fn route<'a>(report: &'a RouteReport, method: &str, path: &str) -> &'a RouteEntry {
    report
        .route(method, path)
        .unwrap_or_else(|| panic!("no {method} {path} in {:?}", paths(report)))
}

fn paths(report: &RouteReport) -> Vec<String> {
    report
        .routes
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

fn table<'a>(scan: &'a Scan, root: &str) -> &'a RouteReport {
    &scan
        .tables
        .iter()
        .find(|(name, _)| name == root)
        .unwrap_or_else(|| panic!("no root {root} in {:?}", scan.roots))
        .1
}

#[test]
fn published_sibling_from_the_same_repository_is_loaded() {
    let registry = fixture("sibling_registry").join("index.example-0000");
    let s = scan_with_registry("sibling_app", vec![registry]);
    assert!(s.gaps.is_empty(), "{:?}", s.gaps);
    // The newest cached version the requirement `0.1` accepts (0.1.3, not
    // 0.1.0 and not 0.2.0), its repository URL compared loosely.
    let menu = route(&s.report, "GET", "/menu");
    assert_eq!(menu.handler, "kitchen_web::menu::list");
    assert!(
        menu.unknown.is_none(),
        "resolved in the sibling: {:?}",
        menu.unknown
    );
    assert_eq!(s.crates, 2, "the app and kitchen-web, not other-web");
    // Negative: a dependency from another repository stays unloaded, so
    // its handler is unknown (with a GA-UNK-000 finding), never guessed.
    let other = route(&s.report, "GET", "/other");
    assert_eq!(other.handler, "unknown");
    assert!(
        other
            .unknown
            .as_deref()
            .unwrap()
            .contains("other_web::show"),
        "{:?}",
        other.unknown
    );
    assert_eq!((s.resolved, s.unknown), (1, 1));
    assert!(
        s.findings.iter().any(|f| f.rule == "GA-UNK-000"
            && f.endpoint == Some(("GET".to_owned(), "/other".to_owned())))
    );
    assert!(
        !s.findings.iter().any(|f| f.rule == "GA-UNK-000"
            && f.endpoint == Some(("GET".to_owned(), "/menu".to_owned())))
    );
}

#[test]
fn sibling_not_in_the_registry_dirs_is_not_loaded() {
    // Negative: the same app with an empty registry list: kitchen-web is
    // not found anywhere, so `/menu` is unknown too.
    let s = scan_with_registry("sibling_app", Vec::new());
    assert_eq!(s.crates, 1);
    assert_eq!(route(&s.report, "GET", "/menu").handler, "unknown");
    assert_eq!((s.resolved, s.unknown), (0, 2));
}

#[test]
fn router_reassigned_inside_if_without_else_keeps_both_values() {
    let s = scan("branch_locals");
    let app = table(&s, "branch_locals::app");
    // From before the `if`, untagged.
    let always = route(app, "GET", "/always");
    assert!(
        !always.layers.iter().any(|l| l.contains("route only if")),
        "{:?}",
        always.layers
    );
    // From inside it, tagged with the condition.
    let admin = route(app, "POST", "/admin/users");
    assert_eq!(admin.handler, "branch_locals::admin_users");
    assert_eq!(
        admin.layers.first().map(String::as_str),
        Some("[route only if if config.admin]"),
        "{:?}",
        admin.layers
    );
    // Added after the `if` to the joined value: unconditional.
    let after = route(app, "GET", "/after");
    assert!(
        !after.layers.iter().any(|l| l.contains("route only if")),
        "{:?}",
        after.layers
    );
    assert_eq!(app.routes.len(), 3, "{:?}", paths(app));
}

#[test]
fn plain_reassignment_replaces_the_router() {
    let s = scan("branch_locals");
    let replaced = table(&s, "branch_locals::replaced");
    assert_eq!(paths(replaced), vec!["GET /new".to_owned()]);
    assert!(replaced.route("GET", "/old").is_none());
}

#[test]
fn router_argument_binds_to_the_parameter() {
    let s = scan("router_params");
    assert_eq!(
        {
            let mut r = s.roots.clone();
            r.sort();
            r
        },
        vec![
            "router_params::admin".to_owned(),
            "router_params::app".to_owned()
        ],
        "add_api is consumed by its callers, not a root of its own"
    );
    let app = table(&s, "router_params::app");
    assert_eq!(
        route(app, "GET", "/health").handler,
        "router_params::health"
    );
    assert_eq!(
        route(app, "GET", "/api/items").handler,
        "router_params::items"
    );
    // Negative: the binding of one call does not leak into another: each
    // root holds its own argument's routes and add_api's, not the other's.
    assert!(app.route("GET", "/admin").is_none(), "{:?}", paths(app));
    assert_eq!(app.routes.len(), 2);
    let admin = table(&s, "router_params::admin");
    assert_eq!(
        route(admin, "GET", "/admin").handler,
        "router_params::admin_page"
    );
    assert!(route(admin, "GET", "/api/items").unknown.is_none());
    assert!(
        admin.route("GET", "/health").is_none(),
        "{:?}",
        paths(admin)
    );
    assert_eq!(admin.routes.len(), 2);
}

fn err_impl_findings(s: &Scan) -> Vec<&guard_audit::findings::Finding> {
    s.findings
        .iter()
        .filter(|f| f.rule == "GA-ERR-007" && f.message.contains("impl IntoResponse"))
        .collect()
}

fn verdict<'a>(s: &'a Scan, method: &str, path: &str, rule: &str) -> &'a str {
    route(&s.report, method, path)
        .checks
        .iter()
        .find(|c| c.rule == rule)
        .map(|c| c.verdict)
        .unwrap_or_else(|| panic!("no {rule} verdict on {method} {path}"))
}

#[test]
fn err_impl_counts_only_bindings_that_carry_an_error() {
    use guard_audit::findings::Severity;
    let s = scan("err_variants");
    let imp = err_impl_findings(&s);
    let names: Vec<(&str, Severity)> = imp
        .iter()
        .map(|f| {
            let name = ["StoreError", "PageError", "StatusError", "DbError"]
                .into_iter()
                .find(|n| f.message.contains(&format!("for {n}`")))
                .unwrap_or("?");
            (name, f.severity)
        })
        .collect();
    // Positive: a `String` variant filled from an io error's text, and
    // `self` of an enum whose variant wraps a sqlx error.
    assert!(
        names.contains(&("StoreError", Severity::Medium)),
        "{names:?}"
    );
    assert!(names.contains(&("DbError", Severity::High)), "{names:?}");
    let store = imp
        .iter()
        .find(|f| f.message.contains("StoreError"))
        .unwrap();
    assert!(store.message.contains("format!"), "{}", store.message);
    // Negative: app-written messages, a header, a logged-only error, a
    // fieldless enum's own text.
    assert_eq!(names.len(), 2, "{names:?}");
    assert_eq!(
        verdict(&s, "GET", "/files/{name}", "GA-ERR-007"),
        "unguarded"
    );
    assert_eq!(verdict(&s, "GET", "/pages/{name}", "GA-ERR-007"), "guarded");
    assert_eq!(verdict(&s, "GET", "/status", "GA-ERR-007"), "guarded");
}

fn severities(
    s: &Scan,
    rule: &str,
    method: &str,
    path: &str,
) -> Vec<guard_audit::findings::Severity> {
    s.findings
        .iter()
        .filter(|f| f.rule == rule && f.endpoint == Some((method.to_owned(), path.to_owned())))
        .map(|f| f.severity)
        .collect()
}

#[test]
fn any_is_every_method_not_a_mutating_one() {
    use guard_audit::findings::Severity::{High, Medium};
    let s = scan("any_routes");
    let auth = "GA-AUTH-001";
    let input = "GA-INPUT-003";
    // No body: severity from the path, like a GET (an id in the path is
    // High for any method; without one, Medium).
    assert_eq!(severities(&s, auth, "ANY", "/ws"), [Medium]);
    assert_eq!(severities(&s, auth, "ANY", "/ws/{session_id}"), [High]);
    assert_eq!(severities(&s, auth, "ANY", "/search"), [Medium]);
    assert_eq!(severities(&s, input, "ANY", "/search"), [Medium]);
    // Positive: `any` whose handler reads a JSON body mutates, exactly as
    // the same handler behind `post`.
    assert_eq!(severities(&s, auth, "ANY", "/rpc"), [High]);
    assert_eq!(severities(&s, input, "ANY", "/rpc"), [High]);
    assert_eq!(severities(&s, auth, "POST", "/rpc2"), [High]);
    assert_eq!(severities(&s, input, "POST", "/rpc2"), [High]);
}

#[test]
fn findings_differing_only_by_route_are_one_entry_in_text_and_markdown() {
    let s = scan("grouped_findings");
    let auth: Vec<_> = s
        .findings
        .iter()
        .filter(|f| f.rule == "GA-AUTH-001")
        .collect();
    assert_eq!(auth.len(), 4, "one finding per endpoint in the scan");
    let text = s.to_text();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_start().starts_with("GA-AUTH-001  medium  "))
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    let grouped = lines.iter().find(|l| l.contains("3 routes")).unwrap();
    assert!(grouped.contains("no auth extractor in `page`"), "{grouped}");
    assert!(grouped.contains("(+2 more)"), "{grouped}");
    assert!(
        !grouped.contains("/docs/"),
        "the route is not in the message"
    );
    let routes = text
        .lines()
        .find(|l| l.trim_start().starts_with("routes:"))
        .unwrap();
    for r in ["GET /docs/intro", "GET /docs/setup", "GET /docs/faq"] {
        assert!(routes.contains(r), "{routes}");
    }
    // Negative: the route with another handler is its own entry, with the
    // route in its message and no routes list.
    let single = lines.iter().find(|l| l.contains("GET /report")).unwrap();
    assert!(single.contains("no auth extractor in `report`"));
    assert!(!routes.contains("/report"));
    // The heading still counts findings: 4 GA-AUTH-001 and the HDR one.
    assert!(text.contains("medium (5)"), "{text}");
    let md = s.to_markdown();
    let rows: Vec<&str> = md
        .lines()
        .filter(|l| l.starts_with("| GA-AUTH-001"))
        .collect();
    assert_eq!(rows.len(), 2, "{md}");
    let row = rows.iter().find(|l| l.contains("3 routes")).unwrap();
    assert!(
        row.contains("routes: `GET /docs/intro`, `GET /docs/setup`, `GET /docs/faq`"),
        "{row}"
    );
    assert!(rows.iter().any(|l| l.contains("GET /report:")));
    // JSON and SARIF keep one result per endpoint.
    let json: serde_json::Value = serde_json::from_str(&s.to_json()).unwrap();
    let n = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "GA-AUTH-001")
        .count();
    assert_eq!(n, 4);
    let sarif = s.to_sarif_value();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(
        results
            .iter()
            .filter(|r| r["ruleId"] == "GA-AUTH-001")
            .count(),
        4
    );
}

fn auth_verdict<'a>(s: &'a Scan, path: &str) -> (&'a str, &'a str) {
    route(&s.report, "GET", path)
        .checks
        .iter()
        .find(|c| c.rule == "GA-AUTH-001")
        .map(|c| (c.verdict, c.reason.as_str()))
        .unwrap()
}

#[test]
fn method_call_guard_on_a_handler_argument_is_followed() {
    let s = scan("auth_method_guard");
    // Positive: `state.auth.check(&headers)?`, `state: AppState`, field
    // `auth: Arc<AuthService>`, `AuthService::check` returns 401.
    let (v, why) = auth_verdict(&s, "/secret");
    assert_eq!(v, "guarded", "{why}");
    assert!(why.contains("state.auth.check(..)?"), "{why}");
    assert!(why.contains("AuthService::check"), "{why}");
    assert_eq!(route(&s.report, "GET", "/secret").access, "auth");
    assert!(severities(&s, "GA-AUTH-001", "GET", "/secret").is_empty());
    // Negative: a `?` on a method of the same type that rejects nothing.
    assert_eq!(auth_verdict(&s, "/about").0, "unguarded");
    assert_eq!(
        severities(&s, "GA-AUTH-001", "GET", "/about"),
        [guard_audit::findings::Severity::Medium]
    );
    // Negative: the same `check` on a local whose type is not followed.
    assert_eq!(auth_verdict(&s, "/guess").0, "unguarded");
}

#[test]
fn sibling_router_roots_only_where_the_app_reaches_them() {
    let registry = fixture("sibling_registry").join("index.example-0000");
    let s = scan_with_registry("sibling_roots", vec![registry]);
    assert!(s.gaps.is_empty(), "{:?}", s.gaps);
    assert_eq!(s.crates, 2);
    // The app's own router, a sibling's listener the app calls by path,
    // and one it starts through a method call on a sibling value.
    assert_eq!(route(&s.report, "GET", "/").handler, "kitchen_app::index");
    assert_eq!(
        route(&s.report, "GET", "/status").handler,
        "kitchen_servers::status"
    );
    assert!(s.report.route("GET", "/admin").is_some(), "{:?}", s.roots);
    // Negative: a sibling's listener nothing in the app calls is not one
    // of the app's routes.
    assert!(
        s.report.route("GET", "/metrics").is_none(),
        "{:?}",
        paths(&s.report)
    );
    assert!(
        !s.roots.iter().any(|r| r.ends_with("spawn_metrics")),
        "{:?}",
        s.roots
    );
}

/// The GA-AUTH-001 verdict on a route of any method.
fn auth_state(report: &RouteReport, method: &str, path: &str) -> &'static str {
    route(report, method, path)
        .checks
        .iter()
        .find(|c| c.rule == "GA-AUTH-001")
        .map_or("none", |c| c.verdict)
}

#[test]
fn helper_fns_register_the_path_and_handler_they_are_handed() {
    let registry = fixture("sibling_registry").join("index.example-0000");
    let s = scan_with_registry("route_helpers", vec![registry]);
    assert!(s.gaps.is_empty(), "{:?}", s.gaps);
    // `register_get(HEALTH, health, router)` whose body is
    // `router.route(route, get(func))`: the path and the handler are the
    // caller's, also through a helper that hands them on.
    assert_eq!(
        route(&s.report, "GET", "/health").handler,
        "helpers::health"
    );
    assert_eq!(route(&s.report, "GET", "/stock").handler, "helpers::stock");
    // A handler passed to a helper and put behind the router's auth layer
    // is read (guarded by the layer), not unknown.
    let orders = route(&s.report, "POST", "/orders");
    assert_eq!(orders.handler, "helpers::orders");
    assert!(orders.unknown.is_none(), "{:?}", orders.unknown);
    assert_eq!(auth_state(&s.report, "POST", "/orders"), "guarded");
    assert_eq!(auth_state(&s.report, "GET", "/health"), "unguarded");
    // `STOCK` and `ORDERS` are consts of `helper-consts`, published without
    // a `repository` but from the same release (same version, same
    // authors): loaded. `loose-consts` (other authors) is not, so `AUDIT`
    // is not folded and no `/audit` is made up.
    assert_eq!(s.crates, 2, "the app and helper-consts, not loose-consts");
    assert!(
        s.report.route("POST", "/audit").is_none(),
        "{:?}",
        paths(&s.report)
    );
    assert!(
        s.report.route("POST", "{route}").is_some(),
        "{:?}",
        paths(&s.report)
    );
    // A prefix ending in `/` keeps it: the nested `/` is `/web/` ...
    assert_eq!(route(&s.report, "GET", "/web/").handler, "helpers::index");
    assert_eq!(
        route(&s.report, "GET", "/web/app.js").handler,
        "helpers::asset"
    );
    assert!(
        s.report.route("GET", "/web").is_none(),
        "{:?}",
        paths(&s.report)
    );
    // ... and without one the nested `/` is the prefix itself.
    assert_eq!(route(&s.report, "GET", "/docs").handler, "helpers::index");
    assert!(
        s.report.route("GET", "/docs/").is_none(),
        "{:?}",
        paths(&s.report)
    );
}
