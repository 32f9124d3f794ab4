//! The router interpreter on more idioms (axum-extra typed routing,
//! `ServiceBuilder` stacks, aide, utoipa-axum, `#[cfg]` / `if` conditions)
//! and GA-LAYER-012, each with a case it must see and one it must not.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::PathBuf;

use guard_audit::Scan;
use guard_audit::routes::{Discovery, Endpoint, Root};
use guard_audit::symbols::Symbols;
use guard_core::report::RouteEntry;

fn manifest(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .join("Cargo.toml")
}

fn scan(name: &str) -> Scan {
    guard_audit::scan(&manifest(name)).unwrap()
}

fn roots(name: &str) -> Vec<Root> {
    let ws = guard_audit::load::load(&manifest(name)).unwrap();
    let syms = Symbols::build(&ws);
    Discovery::new(&syms).roots()
}

fn endpoint<'a>(roots: &'a [Root], method: &str, path: &str) -> &'a Endpoint {
    roots
        .iter()
        .flat_map(|r| &r.endpoints)
        .find(|e| e.method == method && e.path == path)
        .unwrap_or_else(|| panic!("no {method} {path}"))
}

fn route<'a>(scan: &'a Scan, method: &str, path: &str) -> &'a RouteEntry {
    scan.report
        .route(method, path)
        .unwrap_or_else(|| panic!("no {method} {path} in\n{}", scan.to_text()))
}

fn layer_verdict(entry: &RouteEntry) -> Option<(&str, &str)> {
    entry
        .checks
        .iter()
        .find(|c| c.rule == "GA-LAYER-012")
        .map(|c| (c.verdict, c.reason.as_str()))
}

#[test]
fn typed_routing_takes_the_path_from_the_typed_path_struct() {
    let s = scan("routes_typed");
    assert!(s.gaps.is_empty(), "{:?}", s.gaps);
    // Unit struct defined beside the handler.
    assert_eq!(route(&s, "GET", "/health").handler, "routes_typed::health");
    // First argument's type, imported from another module, `{id}` syntax.
    assert_eq!(
        route(&s, "GET", "/users/{id}").handler,
        "routes_typed::show_user"
    );
    assert_eq!(
        route(&s, "DELETE", "/users/{id}").handler,
        "routes_typed::show_user"
    );
    // Generic handler: the turbofish type, axum 0.7 `:param` syntax.
    assert_eq!(
        route(&s, "POST", "/:repo/:tpe/:name").handler,
        "routes_typed::get_file"
    );
    // Negative: a handler whose first argument is no typed path gets no
    // guessed path; the plain `.route` beside them still counts once.
    assert!(
        s.report
            .routes
            .iter()
            .any(|r| r.path == "{typed path of no_path}")
    );
    assert_eq!(
        s.report
            .routes
            .iter()
            .filter(|r| r.path == "/health")
            .count(),
        1
    );
    assert_eq!(s.report.routes.len(), 6);
}

#[test]
fn service_builder_and_tuples_expand_in_axum_order() {
    let s = scan("routes_stack");
    // Innermost first: the handler's own layer, then the router layers in
    // the order they wrap; a ServiceBuilder's first `.layer` is outermost,
    // a tuple's first element too.
    assert_eq!(
        route(&s, "GET", "/a").layers,
        vec![
            "ConcurrencyLimitLayer::new(1)",
            "CorsLayer::permissive()",
            "CompressionLayer::new()",
            "TimeoutLayer::new(Duration::from_secs(1))",
            "RequestBodyLimitLayer::new(1024)",
            "ServiceBuilder::new().timeout(Duration::from_secs(5))",
            "TraceLayer::new_for_http()",
        ]
    );
    assert_eq!(route(&s, "GET", "/a").handler, "routes_stack::a");
    // Negative: `/b` has no handler layer, and `/c`, added after the
    // ServiceBuilder layer, is not wrapped by it.
    assert_eq!(route(&s, "GET", "/b").layers.len(), 6);
    assert_eq!(
        route(&s, "GET", "/c").layers,
        vec![
            "TimeoutLayer::new(Duration::from_secs(1))",
            "RequestBodyLimitLayer::new(1024)",
            "ServiceBuilder::new().timeout(Duration::from_secs(5))",
            "TraceLayer::new_for_http()",
        ]
    );
    // `.with_state(..)` passes the router through.
    assert_eq!(s.roots, vec!["routes_stack::app".to_owned()]);
}

#[test]
fn aide_and_utoipa_routers() {
    let s = scan("routes_openapi");
    // aide: `api_route` with `get_with(..).post_with(..)`, `api_route_with`.
    assert_eq!(
        route(&s, "GET", "/pets").handler,
        "routes_openapi::list_pets"
    );
    assert_eq!(
        route(&s, "POST", "/pets").handler,
        "routes_openapi::create_pet"
    );
    assert_eq!(
        route(&s, "GET", "/pets/{id}").handler,
        "routes_openapi::show_pet"
    );
    // utoipa-axum: method and path from `#[utoipa::path]`, nest prefix
    // applied, `split_for_parts()` gives the router.
    assert_eq!(
        route(&s, "GET", "/items/{id}").handler,
        "routes_openapi::get_item"
    );
    assert_eq!(
        route(&s, "POST", "/items").handler,
        "routes_openapi::create_item"
    );
    assert_eq!(
        route(&s, "GET", "/v1/items/{id}").handler,
        "routes_openapi::get_item"
    );
    // Negative: no method guessed for a path (`GET /items` is not a route),
    // a handler without the attribute is unknown, and so is a router built
    // by a macro.
    assert!(s.report.route("GET", "/items").is_none());
    let undocumented = route(&s, "ANY", "{path of undocumented}");
    assert_eq!(undocumented.handler, "unknown");
    assert!(
        undocumented
            .unknown
            .as_deref()
            .unwrap()
            .contains("#[utoipa::path")
    );
    assert_eq!(
        route(&s, "ANY", "(merged)").unknown.as_deref(),
        Some("router built by macro `admin_routes!`")
    );
    let legacy = route(&s, "ANY", "(legacy_routes!)");
    assert_eq!(
        legacy.unknown.as_deref(),
        Some("router built by macro `legacy_routes!`")
    );
    assert_eq!(
        s.roots,
        vec![
            "routes_openapi::api".to_owned(),
            "routes_openapi::legacy".to_owned()
        ]
    );
}

#[test]
fn cfg_and_if_branches_keep_their_routes_tagged() {
    let r = roots("routes_cfg");
    assert_eq!(endpoint(&r, "GET", "/").condition, None);
    assert_eq!(
        endpoint(&r, "GET", "/web").condition.as_deref(),
        Some("cfg(feature = \"web\")")
    );
    // Both branches of an `if` whose branches add different routes.
    assert_eq!(
        endpoint(&r, "GET", "/admin").condition.as_deref(),
        Some("if !config.open")
    );
    assert_eq!(
        endpoint(&r, "GET", "/open").condition.as_deref(),
        Some("if config.open")
    );
    assert_eq!(
        endpoint(&r, "GET", "/debug").condition.as_deref(),
        Some("if config.debug")
    );
    // A `#[cfg]` fn's routes carry its cfg where they are merged.
    assert_eq!(
        endpoint(&r, "GET", "/dev").condition.as_deref(),
        Some("cfg(debug_assertions)")
    );
    // A layer added in one `match` arm is marked with that arm.
    assert_eq!(
        endpoint(&r, "GET", "/debug").layers[0].shown(),
        "tower_http::trace::TraceLayer::new_for_http() [only if config.verbosity matches _]"
    );
    // A loop's body is read once; its path is the loop variable, not
    // guessed.
    assert_eq!(
        endpoint(&r, "GET", "{path}").condition.as_deref(),
        Some("for path in [\"/a\", \"/b\"]")
    );
    // A module's `#[cfg]` tags what is built in it.
    assert_eq!(
        endpoint(&r, "GET", "/panel").condition.as_deref(),
        Some("cfg(feature = \"panel\")")
    );
    // Negative: a `#[cfg(test)]` fn builds no served router.
    assert_eq!(
        r.len(),
        1,
        "{:?}",
        r.iter().map(|x| &x.function).collect::<Vec<_>>()
    );
    assert_eq!(r[0].endpoints.len(), 8);
    assert!(r[0].endpoints.iter().all(|e| e.path != "/test-only"));
}

#[test]
fn layer_calls_record_what_they_cover() {
    let r = roots("layer_before");
    let items = r
        .iter()
        .find(|x| x.function.ends_with("items_router"))
        .unwrap();
    let call = &items.layer_calls[0];
    assert!(call.route_layer);
    assert_eq!(
        call.covered,
        vec![("GET".to_owned(), "/api/items".to_owned())]
    );
    assert_eq!(
        call.after,
        vec![
            ("DELETE".to_owned(), "/api/items/{id}".to_owned()),
            ("GET".to_owned(), "/health".to_owned()),
        ]
    );
}

#[test]
fn layer_012_auth_layer_before_routes() {
    let s = scan("layer_before");
    let found: Vec<_> = s
        .findings
        .iter()
        .filter(|f| f.rule == "GA-LAYER-012")
        .collect();
    assert_eq!(found.len(), 5, "{found:#?}");
    assert!(
        found
            .iter()
            .all(|f| f.severity == guard_audit::findings::Severity::High)
    );
    // Before every route: at the `.layer` line, naming both routes.
    let first = found.iter().find(|f| f.location.line == 22).unwrap();
    assert!(
        first.message.contains("wraps no route"),
        "{}",
        first.message
    );
    assert!(first.message.contains("GET /api/users, POST /api/admin"));
    assert_eq!(
        layer_verdict(route(&s, "GET", "/api/users")).map(|v| v.0),
        Some("unguarded")
    );
    // Part of a prefix covered: the later `/api/items/{id}` is named, the
    // unrelated `/health` is not.
    let part = found.iter().find(|f| f.location.line == 31).unwrap();
    assert!(part.message.contains("DELETE /api/items/{id}"));
    assert!(!part.message.contains("/health"));
    assert_eq!(
        layer_verdict(route(&s, "DELETE", "/api/items/{id}")).map(|v| v.0),
        Some("unguarded")
    );
    assert_eq!(layer_verdict(route(&s, "GET", "/health")), None);
    assert_eq!(layer_verdict(route(&s, "GET", "/api/items")), None);
    // `route_layer` on an empty router: axum panics at startup.
    let empty = found.iter().find(|f| f.location.line == 39).unwrap();
    assert!(
        empty.message.contains("panics at startup"),
        "{}",
        empty.message
    );
    assert!(empty.message.contains("GovernorLayer"));
    assert_eq!(
        layer_verdict(route(&s, "POST", "/login")).map(|v| v.0),
        Some("unguarded")
    );
    // A `route_layer` on a router with only a fallback panics too, even
    // when the layer guards nothing; no route is named as uncovered.
    let traced = found.iter().find(|f| f.location.line == 48).unwrap();
    assert!(traced.message.contains("panics at startup"));
    assert!(!traced.message.contains("not covered"));
    // A router fn merged by two roots: one finding, both routes unguarded.
    assert_eq!(found.iter().filter(|f| f.location.line == 61).count(), 1);
    let stats: Vec<_> = s
        .report
        .routes
        .iter()
        .filter(|r| r.path == "/admin/stats")
        .collect();
    assert_eq!(stats.len(), 2);
    assert!(
        stats
            .iter()
            .all(|r| layer_verdict(r).map(|v| v.0) == Some("unguarded"))
    );
}

#[test]
fn layer_012_layers_after_their_routes_are_clean() {
    let s = scan("layer_after");
    assert!(
        s.findings.iter().all(|f| f.rule != "GA-LAYER-012"),
        "{:#?}",
        s.findings
    );
    assert!(s.report.routes.iter().all(|r| layer_verdict(r).is_none()));
    // The tracing layer before `/traced` wraps nothing but guards nothing.
    assert!(route(&s, "GET", "/traced").layers.is_empty());
}

#[test]
fn const_paths_and_extension_traits() {
    let s = scan("routes_ext");
    // Paths named by consts: local, `use`d, through a module, a const of a
    // const.
    assert_eq!(route(&s, "GET", "/users").handler, "routes_ext::list");
    assert_eq!(route(&s, "GET", "/users/{id}").handler, "routes_ext::show");
    assert_eq!(route(&s, "GET", "/admin").handler, "routes_ext::admin");
    // A workspace extension trait on `Router` is read with `self` the
    // router.
    assert_eq!(route(&s, "GET", "/health").handler, "routes_ext::health");
    // Negative: a const of another crate is not guessed, and an extension
    // method whose impl is not in the workspace is an unknown, not a pass.
    assert!(s.report.route("GET", "{ui_assets::ROUTE}").is_some());
    let marker = route(&s, "ANY", "(.with_assets)");
    assert_eq!(marker.handler, "unknown");
    assert!(
        marker
            .unknown
            .as_deref()
            .unwrap()
            .contains("`with_assets` is not axum's")
    );
    // `Self::x` inside an impl, as a handler and as a router fn.
    assert_eq!(
        route(&s, "GET", "/self").handler,
        "routes_ext::Server::home"
    );
    assert_eq!(
        route(&s, "GET", "/status").handler,
        "routes_ext::Server::status"
    );
    assert_eq!(s.roots, vec!["routes_ext::app".to_owned()]);
    assert_eq!(s.report.routes.len(), 8);
}

#[test]
fn format_paths_fold_consts_locals_and_string_parameters() {
    let s = scan("route_strings");
    assert!(s.gaps.is_empty(), "{:?}", s.gaps);
    // `format!` over a const, a local, and a prefix passed down as a `&str`
    // parameter and shadowed inside the callee (`let prefix = format!(..)`).
    assert_eq!(
        route(&s, "GET", "/api/v1/stats/:id").handler,
        "route_strings::stat"
    );
    // Positional `{}` arguments, and `{{..}}` escapes kept as braces.
    assert_eq!(
        route(&s, "GET", "/api/v1/stats/all").handler,
        "route_strings::stats"
    );
    assert!(s.report.route("POST", "/api/v1/stats/{literal}").is_some());
    assert!(s.report.route("GET", "/v1/health").is_some());
    // A `format!` nest prefix.
    assert_eq!(
        route(&s, "GET", "/v1/about").handler,
        "route_strings::about"
    );
    // A router served inside `tokio::spawn(async move { .. })` is a root.
    assert_eq!(
        route(&s, "POST", "/heartbeat").handler,
        "route_strings::health"
    );
    assert!(
        s.roots.contains(&"route_strings::start".to_owned()),
        "{:?}",
        s.roots
    );
    // A run-time leading piece is not guessed: the known rest is the
    // route under that prefix, and the prefix is named in its condition
    // (reductstore's `format!("{}api/v1", cfg.api_base_path)`).
    let dynamic = route(&s, "GET", "/dyn");
    assert!(
        dynamic
            .layers
            .iter()
            .any(|l| l.contains("under the run-time prefix `base`")),
        "{:?}",
        dynamic.layers
    );
    // Negative: a format spec is not folded; the expression stays visible
    // in braces.
    assert!(
        s.report.route("GET", "{&spec}").is_some(),
        "{}",
        s.to_text()
    );
    // Nor is a value made up for the run-time prefix: `/dyn` is the only
    // path that route has.
    assert!(
        s.report
            .routes
            .iter()
            .filter(|r| r.path.contains("/dyn"))
            .all(|r| r.path == "/dyn"),
        "{}",
        s.to_text()
    );
    // Negative: `add_stats` is consumed by its caller, not a root with
    // `{prefix}` paths of its own.
    assert!(
        !s.report.routes.iter().any(|r| r.path.contains("prefix")),
        "{}",
        s.to_text()
    );
}

#[test]
fn method_routers_in_struct_fields_and_cfg_alternative_modules() {
    let s = scan("route_fields");
    assert!(s.gaps.is_empty(), "{:?}", s.gaps);
    // `items.into_router()` with `items: ItemRoutes`: the impl fn is read,
    // and `self.list` is the `get(list)` its `Default` impl sets.
    assert_eq!(route(&s, "GET", "/items").handler, "route_fields::list");
    assert_eq!(route(&s, "POST", "/items").handler, "route_fields::create");
    assert_eq!(
        route(&s, "DELETE", "/items/:id").handler,
        "route_fields::remove"
    );
    assert_eq!(route(&s, "GET", "/health").handler, "route_fields::health");
    // A router merged from a parameter stays a marker under a nest, not a
    // `/v1(merged)` path.
    assert!(
        s.report.route("ANY", "(merged)").is_some(),
        "{}",
        s.to_text()
    );
    assert!(!s.report.routes.iter().any(|r| r.path.contains("v1(")));
    // Negative: no `ANY` placeholder for the fields, and `into_router` is
    // consumed, not a root of its own.
    assert!(
        !s.report
            .routes
            .iter()
            .any(|r| r.method == "ANY" && !r.path.starts_with('(')),
        "{}",
        s.to_text()
    );
    assert!(
        !s.roots.iter().any(|r| r.ends_with("into_router")),
        "{:?}",
        s.roots
    );
    // Of two `mod profiling` under exclusive cfgs, the one a Linux host
    // builds; its own cfg only, not both merged.
    let heap = route(&s, "GET", "/internal/heap");
    assert_eq!(heap.handler, "route_fields::profiling::heap");
    let e = endpoint(&roots("route_fields"), "GET", "/internal/heap").clone();
    let cond = e.condition.unwrap_or_default();
    assert!(cond.contains("not(target_env"), "{cond}");
    assert!(!cond.contains("cfg(target_env = \"msvc\")"), "{cond}");
}

#[test]
fn a_router_returned_inside_ok_keeps_its_merged_groups() {
    let s = scan("route_results");
    assert!(s.gaps.is_empty(), "{:?}", s.gaps);
    // The groups merged under `if`s reach the service only through
    // `Ok(browser.merge(api)..)`: all of them are found, in one root
    // (before, `/oauth/token` was missing and `static_routes` a root).
    for (m, p) in [
        ("GET", "/login"),
        ("POST", "/login"),
        ("GET", "/settings"),
        ("GET", "/oauth/token"),
        ("GET", "/static/app.js"),
    ] {
        route(&s, m, p);
    }
    assert_eq!(
        s.roots,
        vec!["route_results::Builder::build_inner".to_owned()],
        "{}",
        s.to_text()
    );
    // The groups merged under `if` carry their condition.
    let settings = route(&s, "GET", "/settings");
    assert!(
        settings.layers.iter().any(|l| l.contains("only if")),
        "{:?}",
        settings.layers
    );
    // Negative: an external crate's router nested at a prefix is not
    // dropped: its mount point is one unknown endpoint.
    let vendor = route(&s, "ANY", "/vendor");
    assert!(
        vendor
            .unknown
            .as_deref()
            .is_some_and(|u| u.contains("vendor_ui::asset_router()")),
        "{:?}",
        vendor.unknown
    );
}

#[test]
fn path_consts_defined_by_the_crates_own_macro_rules_table_fold() {
    let s = scan("route_macros");
    assert!(s.gaps.is_empty(), "{:?}", s.gaps);
    // `api_routes! { ROUTE_BOOKS / MATCHED_BOOKS => "/books", .. }`: the
    // consts it defines are the paths (they were `/api{ROUTE_BOOKS}`).
    for p in ["/api/books", "/api/books/{id}", "/api/admin"] {
        route(&s, "GET", p);
    }
    // Negative: nothing is left symbolic, and an invocation no rule
    // matches (`pair! { 42 }`) adds nothing.
    assert!(
        s.report
            .routes
            .iter()
            .all(|r| !r.path.contains('{') || r.path.ends_with("{id}")),
        "{}",
        s.to_text()
    );
    assert_eq!(s.report.routes.len(), 5, "{}", s.to_text());
}

#[test]
fn of_two_local_routers_with_the_same_routes_the_wrapped_one_is_read_every_time() {
    // The interpreter's locals are a hash map; before, its order chose
    // between `main_router` and `app` (the same two routes), so about one
    // scan in two lost the two layers. Sixteen scans make a lucky pass of
    // the old code a 1-in-32,768 event.
    for _ in 0..16 {
        let roots = roots("served_local");
        for path in ["/a", "/b"] {
            let layers: Vec<&str> = endpoint(&roots, "GET", path)
                .layers
                .iter()
                .map(|l| l.text.as_str())
                .collect();
            assert_eq!(layers.len(), 2, "{path}: {layers:?}");
            assert!(layers[0].contains("CorsLayer"), "{layers:?}");
            assert!(layers[1].contains("TraceLayer"), "{layers:?}");
        }
        // More routes win over more layers: `all`, not the wrapped `admin`.
        assert!(endpoint(&roots, "GET", "/c").layers.is_empty());
        assert!(
            roots
                .iter()
                .flat_map(|r| &r.endpoints)
                .all(|e| e.path != "/admin")
        );
    }
}
