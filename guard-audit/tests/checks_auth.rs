//! GA-AUTH-001, GA-AUTHZ-002 and GA-RATE-010 on fixture crates (parsed,
//! never built): each construct with a case it must flag and a case it
//! must not.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::PathBuf;

use guard_audit::Scan;
use guard_audit::findings::{Finding, Severity};
use guard_core::report::{CheckVerdict, RouteEntry};

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

/// The verdict of `rule` on a route, as `(verdict, reason)`.
fn verdict<'a>(scan: &'a Scan, method: &str, path: &str, rule: &str) -> Option<&'a CheckVerdict> {
    route(scan, method, path)
        .checks
        .iter()
        .find(|c| c.rule == rule)
}

fn state(scan: &Scan, method: &str, path: &str, rule: &str) -> &'static str {
    verdict(scan, method, path, rule).map_or("none", |v| v.verdict)
}

fn reason<'a>(scan: &'a Scan, method: &str, path: &str, rule: &str) -> &'a str {
    verdict(scan, method, path, rule).map_or("", |v| v.reason.as_str())
}

fn findings<'a>(scan: &'a Scan, method: &str, path: &str, rule: &str) -> Vec<&'a Finding> {
    scan.findings
        .iter()
        .filter(|f| {
            f.rule == rule
                && f.endpoint
                    .as_ref()
                    .is_some_and(|(m, p)| m == method && p == path)
        })
        .collect()
}

fn severity(scan: &Scan, method: &str, path: &str, rule: &str) -> Option<Severity> {
    let found = findings(scan, method, path, rule);
    assert!(found.len() <= 1, "{found:?}");
    found.first().map(|f| f.severity)
}

const AUTH: &str = "GA-AUTH-001";
const AUTHZ: &str = "GA-AUTHZ-002";
const RATE: &str = "GA-RATE-010";

#[test]
fn auth_extractors() {
    let s = scan("auth_extractors");
    assert!(s.gaps.is_empty(), "{:?}", s.gaps);
    // A JWT `Claims` extractor that rejects with 401: guarded, no finding.
    assert_eq!(state(&s, "GET", "/me", AUTH), "guarded");
    assert!(reason(&s, "GET", "/me", AUTH).contains("Claims"));
    assert_eq!(route(&s, "GET", "/me").access, "auth");
    assert_eq!(severity(&s, "GET", "/me", AUTH), None);
    // No auth extractor, mutating, id-bearing: critical.
    assert_eq!(state(&s, "DELETE", "/items/{id}", AUTH), "unguarded");
    assert_eq!(route(&s, "DELETE", "/items/{id}").access, "public");
    assert_eq!(
        severity(&s, "DELETE", "/items/{id}", AUTH),
        Some(Severity::Critical)
    );
    let msg = &findings(&s, "DELETE", "/items/{id}", AUTH)[0].message;
    assert!(
        msg.starts_with("DELETE /items/{id}: no authentication"),
        "{msg}"
    );
    assert!(msg.contains("delete_item"), "{msg}");
    // An extractor that never rejects is no auth: unguarded, POST: high.
    assert_eq!(state(&s, "POST", "/trace", AUTH), "unguarded");
    assert!(reason(&s, "POST", "/trace", AUTH).contains("never rejects"));
    assert_eq!(severity(&s, "POST", "/trace", AUTH), Some(Severity::High));
    // Option<Claims>: optional auth is public.
    assert_eq!(state(&s, "GET", "/feed", AUTH), "unguarded");
    assert!(reason(&s, "GET", "/feed", AUTH).contains("optional auth"));
    assert_eq!(severity(&s, "GET", "/feed", AUTH), Some(Severity::Medium));
    // TypedHeader<Authorization<Bearer>>.
    assert_eq!(state(&s, "GET", "/bearer", AUTH), "guarded");
    // axum-login: `.user` checked and short-circuited vs not checked.
    assert_eq!(state(&s, "GET", "/dashboard", AUTH), "guarded");
    assert_eq!(state(&s, "GET", "/profile", AUTH), "unguarded");
    assert!(reason(&s, "GET", "/profile", AUTH).contains("AuthSession"));
    // Extension<CurrentUser> with no auth layer visible: unknown, no finding.
    assert_eq!(state(&s, "GET", "/ext", AUTH), "unknown");
    assert!(reason(&s, "GET", "/ext", AUTH).contains("Extension<CurrentUser>"));
    assert_eq!(severity(&s, "GET", "/ext", AUTH), None);
    // An unknown external extractor named like auth: unknown.
    assert_eq!(state(&s, "GET", "/external", AUTH), "unknown");
    assert!(reason(&s, "GET", "/external", AUTH).contains("AuthUser"));
    // Public by nature: low.
    assert_eq!(state(&s, "GET", "/health", AUTH), "unguarded");
    assert_eq!(severity(&s, "GET", "/health", AUTH), Some(Severity::Low));
    // Declared public: unguarded with the reason, deliberately no finding.
    assert_eq!(state(&s, "GET", "/declared", AUTH), "unguarded");
    assert_eq!(
        reason(&s, "GET", "/declared", AUTH),
        "declared public: marketing page"
    );
    assert_eq!(severity(&s, "GET", "/declared", AUTH), None);
    assert_eq!(state(&s, "GET", "/plainpublic", AUTH), "guarded");
    assert_eq!(
        reason(&s, "GET", "/plainpublic", AUTH),
        "declared: #[secure_route(auth)]"
    );
}

#[test]
fn auth_layers_follow_axum_order() {
    let s = scan("auth_layers");
    // from_fn(require_auth) added after the route: guarded.
    assert_eq!(state(&s, "POST", "/api/projects", AUTH), "guarded");
    assert!(reason(&s, "POST", "/api/projects", AUTH).contains("require_auth"));
    assert_eq!(severity(&s, "POST", "/api/projects", AUTH), None);
    // Added after the layer: not wrapped.
    assert_eq!(state(&s, "GET", "/api/open", AUTH), "unguarded");
    assert_eq!(
        severity(&s, "GET", "/api/open", AUTH),
        Some(Severity::Medium)
    );
    // route_layer(ValidateRequestHeaderLayer::bearer).
    assert_eq!(state(&s, "GET", "/admin/stats", AUTH), "guarded");
    // The layer before the route: mutating id route unguarded, critical.
    assert_eq!(state(&s, "POST", "/late/{id}", AUTH), "unguarded");
    assert_eq!(
        severity(&s, "POST", "/late/{id}", AUTH),
        Some(Severity::Critical)
    );
    // A header-setting from_fn middleware is not auth.
    assert_eq!(state(&s, "GET", "/headers", AUTH), "unguarded");
    // AuthManagerLayer alone does not authenticate.
    assert_eq!(state(&s, "GET", "/sessions", AUTH), "unguarded");
    // An opaque local layer named like auth: unknown, no finding.
    assert_eq!(state(&s, "GET", "/opaque", AUTH), "unknown");
    assert!(reason(&s, "GET", "/opaque", AUTH).contains("auth_layer"));
    assert_eq!(severity(&s, "GET", "/opaque", AUTH), None);
    // A middleware named like auth whose body resolves and reads no
    // credential (a 412 on a stale capability token): not auth, even by
    // name.
    assert_eq!(state(&s, "GET", "/caps", AUTH), "unguarded");
    // A conditional auth layer: unknown, low finding naming the condition.
    assert_eq!(state(&s, "GET", "/cond", AUTH), "unknown");
    assert!(reason(&s, "GET", "/cond", AUTH).contains("auth layer only if config.require_token"));
    assert_eq!(severity(&s, "GET", "/cond", AUTH), Some(Severity::Low));
}

#[test]
fn auth_in_body_guards() {
    let s = scan("auth_body");
    // require_admin(&session)? reads the session two levels down.
    assert_eq!(state(&s, "POST", "/admin/users/{id}", AUTH), "guarded");
    assert_eq!(
        reason(&s, "POST", "/admin/users/{id}", AUTH),
        "in-body check `require_admin(..)?`"
    );
    assert_eq!(severity(&s, "POST", "/admin/users/{id}", AUTH), None);
    // The same in an inline closure.
    assert_eq!(state(&s, "GET", "/inline", AUTH), "guarded");
    // A `?` on a call that reads no credentials is no guard.
    assert_eq!(state(&s, "GET", "/reports", AUTH), "unguarded");
    assert_eq!(
        severity(&s, "GET", "/reports", AUTH),
        Some(Severity::Medium)
    );
    // Public pages: low; the login route: low, with the rate-limit hint.
    assert_eq!(severity(&s, "GET", "/", AUTH), Some(Severity::Low));
    assert_eq!(state(&s, "GET", "/version", AUTH), "unguarded");
    assert_eq!(severity(&s, "GET", "/version", AUTH), Some(Severity::Low));
    assert_eq!(severity(&s, "POST", "/login", AUTH), Some(Severity::Low));
    let msg = &findings(&s, "POST", "/login", AUTH)[0].message;
    assert!(
        msg.contains("public by nature; check it is rate limited"),
        "{msg}"
    );
    // /metrics is not public by nature.
    assert_eq!(
        severity(&s, "GET", "/metrics", AUTH),
        Some(Severity::Medium)
    );
}

#[test]
fn authz_idor() {
    let s = scan("authz_sql");
    // SELECT by id with no owner predicate: high.
    assert_eq!(state(&s, "GET", "/notes/{id}", AUTHZ), "unguarded");
    assert_eq!(
        severity(&s, "GET", "/notes/{id}", AUTHZ),
        Some(Severity::High)
    );
    let msg = &findings(&s, "GET", "/notes/{id}", AUTHZ)[0].message;
    assert!(msg.contains("SELECT * FROM notes WHERE id = $1"), "{msg}");
    // Owner predicate (raw string): guarded, no finding.
    assert_eq!(state(&s, "GET", "/mine/{id}", AUTHZ), "guarded");
    assert!(reason(&s, "GET", "/mine/{id}", AUTHZ).contains("owner predicate"));
    assert_eq!(severity(&s, "GET", "/mine/{id}", AUTHZ), None);
    // Post-fetch owner comparison: guarded.
    assert_eq!(state(&s, "GET", "/checked/{id}", AUTHZ), "guarded");
    assert!(reason(&s, "GET", "/checked/{id}", AUTHZ).contains("post-fetch check"));
    assert_eq!(severity(&s, "GET", "/checked/{id}", AUTHZ), None);
    // format! SQL: unknown, no finding.
    assert_eq!(state(&s, "GET", "/dynamic/{id}", AUTHZ), "unknown");
    assert_eq!(severity(&s, "GET", "/dynamic/{id}", AUTHZ), None);
    // A const DELETE: critical.
    assert_eq!(
        severity(&s, "DELETE", "/notes/{id}", AUTHZ),
        Some(Severity::Critical)
    );
    // An UPDATE two workspace callees down, the id passed along: critical.
    assert_eq!(state(&s, "PUT", "/deep/{note_id}", AUTHZ), "unguarded");
    assert_eq!(
        severity(&s, "PUT", "/deep/{note_id}", AUTHZ),
        Some(Severity::Critical)
    );
    assert!(reason(&s, "PUT", "/deep/{note_id}", AUTHZ).contains("write_body"));
    // An access-check call on the way: guarded.
    assert_eq!(
        state(&s, "GET", "/projects/{project_id}/docs/{doc_id}", AUTHZ),
        "guarded"
    );
    // No id param: not applicable.
    assert_eq!(state(&s, "GET", "/list", AUTHZ), "none");
}

#[test]
fn rate_limits_on_login_and_expensive_routes() {
    let s = scan("rate_login");
    assert_eq!(state(&s, "POST", "/login", RATE), "unguarded");
    assert_eq!(severity(&s, "POST", "/login", RATE), Some(Severity::High));
    assert_eq!(state(&s, "POST", "/auth/login", RATE), "guarded");
    assert!(reason(&s, "POST", "/auth/login", RATE).contains("GovernorLayer"));
    assert_eq!(severity(&s, "POST", "/auth/login", RATE), None);
    assert_eq!(
        severity(&s, "POST", "/password/reset", RATE),
        Some(Severity::High)
    );
    // Reaches reqwest/openai two levels down: expensive.
    assert_eq!(state(&s, "POST", "/summarize", RATE), "unguarded");
    assert_eq!(
        severity(&s, "POST", "/summarize", RATE),
        Some(Severity::Medium)
    );
    // Other routes: no verdict.
    assert_eq!(state(&s, "POST", "/notes", RATE), "none");
    // A limiter is used somewhere: no workspace note.
    assert!(
        !s.findings
            .iter()
            .any(|f| f.rule == RATE && f.endpoint.is_none())
    );
}

#[test]
fn rate_workspace_note_when_no_limiter() {
    let s = scan("rate_none");
    let notes: Vec<_> = s
        .findings
        .iter()
        .filter(|f| f.rule == RATE && f.endpoint.is_none())
        .collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].severity, Severity::Low);
    assert!(
        notes[0]
            .message
            .contains("no rate limiter anywhere in the workspace")
    );
    assert_eq!(
        severity(&s, "POST", "/signup", RATE),
        Some(Severity::Medium)
    );
    assert_eq!(state(&s, "GET", "/", RATE), "none");
}

#[test]
fn optional_extractors_and_token_middleware() {
    let s = scan("auth_optional");
    assert!(s.gaps.is_empty(), "{:?}", s.gaps);
    // An extractor that reads the Authorization header but whose every exit
    // is `Ok(..)` never rejects: no guard, whatever its Rejection type.
    assert_eq!(state(&s, "GET", "/feed", AUTH), "unguarded");
    assert!(
        reason(&s, "GET", "/feed", AUTH).contains("never rejects"),
        "{}",
        reason(&s, "GET", "/feed", AUTH)
    );
    // Negative: the same reading with an `Err(UNAUTHORIZED)` exit guards.
    assert_eq!(state(&s, "GET", "/me", AUTH), "guarded");
    // A `?token=` middleware that refuses without a token guards the routes
    // added before it ...
    assert_eq!(state(&s, "GET", "/api/stats", AUTH), "guarded");
    assert!(reason(&s, "GET", "/api/stats", AUTH).contains("token"));
    // ... and not the one added after it (layer order).
    assert_eq!(state(&s, "GET", "/api/health", AUTH), "unguarded");
    // Negative: a CSRF check answering 403 is no authentication.
    assert_eq!(state(&s, "POST", "/form", AUTH), "unguarded");
    // An in-body check handed the optional identity decides by a policy:
    // unknown, neither guarded nor a finding.
    assert_eq!(state(&s, "GET", "/download", AUTH), "unknown");
    assert!(reason(&s, "GET", "/download", AUTH).contains("optional identity `user`"));
    assert!(findings(&s, "GET", "/download", AUTH).is_empty());
    // Negative: a check that does not take the optional identity guards.
    assert_eq!(state(&s, "GET", "/strict", AUTH), "guarded");
    // An extractor that refuses a malformed token but answers
    // `Ok(Self { auth: None })` without one is optional auth.
    assert_eq!(state(&s, "GET", "/ping", AUTH), "unguarded");
    assert!(reason(&s, "GET", "/ping", AUTH).contains("lets a caller without it through"));
    // A 403 for a switched-off feature is not a guard.
    assert_eq!(state(&s, "GET", "/heap", AUTH), "unguarded");
    // A handler that takes only state has nothing of the caller's to
    // check: a call that mints a JWT is no guard.
    assert_eq!(state(&s, "POST", "/identity", AUTH), "unguarded");
    // A forward-auth middleware answering 401 authenticates; added under an
    // `if let`, the route is guarded only if that holds: unknown.
    assert_eq!(state(&s, "POST", "/ctrl/drain", AUTH), "unknown");
    assert!(
        reason(&s, "POST", "/ctrl/drain", AUTH).contains("answers 401"),
        "{}",
        reason(&s, "POST", "/ctrl/drain", AUTH)
    );
}

#[test]
fn extractors_letting_an_anonymous_variant_through_are_optional() {
    let s = scan("auth_variants");
    assert!(s.gaps.is_empty(), "{:?}", s.gaps);
    // Reads the Authorization header and answers 401 for a malformed one,
    // but `Ok(Self::Anonymous)` without it: no guard (it was `guarded`).
    assert_eq!(state(&s, "GET", "/feed", AUTH), "unguarded");
    assert!(
        reason(&s, "GET", "/feed", AUTH).contains("lets a caller without it through"),
        "{}",
        reason(&s, "GET", "/feed", AUTH)
    );
    // Negative: the same reading that refuses a caller without the header.
    assert_eq!(state(&s, "GET", "/account", AUTH), "guarded");
    // A header of its own name (`Blind-auth`) and `Ok(Token::None)`: an
    // optional token, said so, and no guard.
    assert_eq!(state(&s, "POST", "/swap", AUTH), "unguarded");
    assert!(
        reason(&s, "POST", "/swap", AUTH).contains("reads an auth header"),
        "{}",
        reason(&s, "POST", "/swap", AUTH)
    );
}

#[test]
fn login_and_logout_bodies_are_no_in_body_guard() {
    let s = scan("auth_variants");
    // A login handler handing the cookie jar to `create_session_jar(..)?`
    // writes credentials; it checks none (it was `guarded`).
    assert_eq!(state(&s, "POST", "/login", AUTH), "unguarded");
    // A logout handler whose `None => return Ok(..)` arm succeeds without
    // a session cookie refuses nobody (it was `guarded`).
    assert_eq!(state(&s, "POST", "/logout", AUTH), "unguarded");
    // Negative: the same cookie read whose `None` arm returns 401 guards.
    assert_eq!(state(&s, "GET", "/settings", AUTH), "guarded");
    assert!(
        reason(&s, "GET", "/settings", AUTH).contains("jar.get(COOKIE_SESSION_ID)"),
        "{}",
        reason(&s, "GET", "/settings", AUTH)
    );
    // An OAuth2 callback's `take_state_cookie(..)?` reads a cookie but
    // answers only 400: input validation, no guard (it was `guarded`).
    assert_eq!(state(&s, "POST", "/oauth2/callback", AUTH), "unguarded");
    // Negative: a cookie check answering 401 guards.
    assert_eq!(state(&s, "GET", "/profile", AUTH), "guarded");
    assert!(reason(&s, "GET", "/profile", AUTH).contains("require_session"));
}

#[test]
fn a_middleware_with_a_run_time_pass_through_guards_only_conditionally() {
    let s = scan("auth_variants");
    // `if !settings.auth_required { return Ok(next.run(req).await); }`
    // before the check: authenticated only when the setting asks for it
    // (it was `guarded`).
    assert_eq!(state(&s, "GET", "/registry/crates", AUTH), "unknown");
    assert!(
        reason(&s, "GET", "/registry/crates", AUTH)
            .contains("lets every request through when `!settings.auth_required`"),
        "{}",
        reason(&s, "GET", "/registry/crates", AUTH)
    );
    // Negative: an early pass-through on the request's path is a route
    // exemption, not a switch; the other routes stay guarded.
    assert_eq!(state(&s, "GET", "/vault/secrets", AUTH), "guarded");
}

#[test]
fn a_middleware_passing_every_request_on_and_a_login_call_are_no_guard() {
    let s = scan("auth_passing");
    // A metrics middleware that reads the session kind and returns
    // `next.run(..)` early and at its end refuses nobody (it was `guarded`:
    // "reads a cookie and returns early").
    assert_eq!(state(&s, "GET", "/files/{*path}", AUTH), "unguarded");
    // The same for a closure given to `from_fn` (it was `guarded`).
    assert_eq!(state(&s, "GET", "/tapped", AUTH), "unguarded");
    // Negative: a middleware whose early pass-through is a path exemption
    // and which then answers 401 without the cookie still guards.
    assert_eq!(state(&s, "GET", "/vault/secret", AUTH), "guarded");
    assert!(
        reason(&s, "GET", "/vault/secret", AUTH).contains("require_cookie"),
        "{}",
        reason(&s, "GET", "/vault/secret", AUTH)
    );
    // A login handler's `service.signin(&body)?` and a grant login's
    // `service.create_grant_session(..)?` make the session; they check
    // nobody's (both were `guarded`).
    assert_eq!(state(&s, "POST", "/session", AUTH), "unguarded");
    assert_eq!(state(&s, "POST", "/auth/grant/session", AUTH), "unguarded");
    // Negative: the same service's `check(&headers)?`, which reads the
    // Authorization header and answers 401, guards.
    assert_eq!(state(&s, "PUT", "/upload/{*path}", AUTH), "guarded");
    assert!(
        reason(&s, "PUT", "/upload/{*path}", AUTH).contains("check"),
        "{}",
        reason(&s, "PUT", "/upload/{*path}", AUTH)
    );
}

#[test]
fn a_check_letting_an_anonymous_caller_through_and_csrf_cors_layers_are_no_guard() {
    let s = scan("auth_anonymous");
    // `resolve(..)` answers `Ok(Principal::Anyone)` without the header:
    // its let-else refuses only a bad credential (both were `guarded`).
    assert_eq!(state(&s, "GET", "/browse", AUTH), "unknown");
    assert!(
        reason(&s, "GET", "/browse", AUTH).contains("lets a caller without credentials through"),
        "{}",
        reason(&s, "GET", "/browse", AUTH)
    );
    assert_eq!(state(&s, "GET", "/feed", AUTH), "unknown");
    // Negative: the handler refuses the no-caller outcome itself
    // (`Ok(Principal::Anyone) => return unauthorized()`,
    // `Ok(None) => return login_redirect()`).
    assert_eq!(state(&s, "GET", "/account", AUTH), "guarded");
    assert!(
        reason(&s, "GET", "/account", AUTH).contains("no-caller outcome the handler refuses"),
        "{}",
        reason(&s, "GET", "/account", AUTH)
    );
    assert_eq!(state(&s, "GET", "/consent", AUTH), "guarded");
    // `Err(redirect) => return Ok(redirect)` hands the helper's login
    // redirect on: a refusal (it was `unguarded`).
    assert_eq!(state(&s, "GET", "/settings", AUTH), "guarded");
    assert!(
        reason(&s, "GET", "/settings", AUTH).contains("require_browser_user"),
        "{}",
        reason(&s, "GET", "/settings", AUTH)
    );
    // Negative: the same shape around a call that checks no caller.
    assert_eq!(state(&s, "POST", "/prefs", AUTH), "unguarded");
    // A CSRF middleware and a CORS middleware answering 403 are no auth
    // layer (both were `guarded`: "reads a cookie / the Authorization
    // header and answers 403").
    assert_eq!(state(&s, "GET", "/login", AUTH), "unguarded");
    assert_eq!(state(&s, "POST", "/login", AUTH), "unguarded");
    assert_eq!(
        state(&s, "GET", "/.well-known/jwks.json", AUTH),
        "unguarded"
    );
    // Negative: a middleware reading the session cookie and answering 403
    // without it still guards.
    assert_eq!(state(&s, "GET", "/admin", AUTH), "guarded");
    let text = s.to_text();
    assert!(text.contains("GET     /browse"), "{text}");
}

#[test]
fn an_auth_middleware_exempting_routes_by_path_guards_only_the_others() {
    let s = scan("route_macros");
    // `request.uri().path() == "/status"` passes before the check: the
    // layer does not guard `/status` (it was `guarded`) ...
    assert_eq!(state(&s, "GET", "/status", AUTH), "unguarded");
    assert!(
        reason(&s, "GET", "/status", AUTH).contains("lets `/status` through"),
        "{}",
        reason(&s, "GET", "/status", AUTH)
    );
    // ... and still guards the route it does not exempt (negative).
    assert_eq!(state(&s, "GET", "/account", AUTH), "guarded");
    // A middleware that exempts by `MatchedPath` against a table of
    // consts guards some of its routes only: `unknown` for each (they were
    // all `guarded`, `GET /api/books` an open one).
    for p in ["/api/books", "/api/books/{id}", "/api/admin"] {
        assert_eq!(state(&s, "GET", p, AUTH), "unknown", "{p}");
        assert!(
            reason(&s, "GET", p, AUTH).contains("MatchedPath"),
            "{}",
            reason(&s, "GET", p, AUTH)
        );
    }
}

#[test]
fn a_tuple_router_a_raw_module_and_middleware_that_runs_the_handler_first() {
    let s = scan("ga5_shapes");
    assert!(s.gaps.is_empty(), "{:?}", s.gaps);
    // The router returned first in `(Router, Handle)` is the service, and
    // `mod r#in;` is read from `in.rs`.
    for (m, p) in [("GET", "/audited"), ("GET", "/locked"), ("GET", "/inbox")] {
        assert!(s.report.route(m, p).is_some(), "{m} {p}: {}", s.to_text());
    }
    assert_eq!(s.report.routes.len(), 3, "{}", s.to_text());
    // A middleware that runs the handler before anything that could
    // refuse keeps nobody out, whatever it reads afterwards.
    assert_eq!(state(&s, "GET", "/audited", AUTH), "unguarded");
    // Negative: one that refuses before `next.run` is auth.
    assert_eq!(state(&s, "GET", "/locked", AUTH), "guarded");
    assert_eq!(state(&s, "GET", "/inbox", AUTH), "unguarded");
}

#[test]
fn a_run_time_nest_prefix_an_early_return_and_auth_switched_off_by_configuration() {
    let s = scan("ga6_shapes");
    assert!(s.gaps.is_empty(), "{:?}", s.gaps);
    // `.nest(&prefix, api)` with `prefix` read at run time: the nested
    // path, the prefix named in its condition.
    let keys = route(&s, "GET", "/keys");
    assert!(
        keys.layers
            .iter()
            .any(|l| l.contains("under the run-time prefix `&prefix`")),
        "{:?}",
        keys.layers
    );
    // Negative: a path read at run time is not made up, an imported const
    // prefix stays visible, a literal prefix is joined.
    for (m, p) in [
        ("GET", "{&dynamic_path}"),
        ("GET", "{API_PREFIX}/imported"),
        ("GET", "/v1/fixed"),
    ] {
        assert!(s.report.route(m, p).is_some(), "{m} {p}: {}", s.to_text());
    }
    // The router an early `return` hands back is served too, and
    // `get_service` answers `GET` only.
    let files = route(&s, "GET", "/");
    assert!(
        files.layers.iter().any(|l| l.contains("cfg.dir")),
        "{:?}",
        files.layers
    );
    // Negative: a bare service answers every method.
    assert!(s.report.route("ANY", "/raw").is_some(), "{}", s.to_text());
    assert!(s.report.route("ANY", "/").is_none(), "{}", s.to_text());
    // Auth a configured value switches off: a key left empty (read from
    // the state through two locals), a flag beside a path exemption, and
    // the same switch in the fn a middleware hands its work to.
    for p in ["/open", "/data", "/delegated"] {
        assert_eq!(state(&s, "GET", p, AUTH), "unknown", "{p}");
        assert!(
            reason(&s, "GET", p, AUTH).contains("lets every request through when"),
            "{p}: {}",
            reason(&s, "GET", p, AUTH)
        );
    }
    assert!(reason(&s, "GET", "/open", AUTH).contains("`api_key.is_empty()`"));
    assert!(reason(&s, "GET", "/data", AUTH).contains("`!state.required`"));
    // The exempted path is open whatever the switch says.
    assert_eq!(state(&s, "GET", "/health", AUTH), "unguarded");
    // Negative: comparing the caller's key with the configured one is the
    // check itself.
    assert_eq!(state(&s, "GET", "/strict", AUTH), "guarded");
    // A check method of the state (`state.gate.check(header)`) that answers
    // `true` when no token is configured lets everyone in then.
    assert_eq!(state(&s, "GET", "/gated", AUTH), "unknown");
    assert!(
        reason(&s, "GET", "/gated", AUTH).contains("`&self.token` matches `None`"),
        "{}",
        reason(&s, "GET", "/gated", AUTH)
    );
    // Negative: one that answers `false` then refuses everyone: auth.
    assert_eq!(state(&s, "GET", "/gated-strict", AUTH), "guarded");
    // An in-body check whose chain of methods (a local from `self`'s
    // method, then a field) reaches `if self.api_token.is_empty() {
    // return Ok(()); }` guards only where a token is configured.
    assert_eq!(state(&s, "GET", "/stored", AUTH), "unknown");
    assert!(
        reason(&s, "GET", "/stored", AUTH).contains("`TokenAuth::check` lets everyone on"),
        "{}",
        reason(&s, "GET", "/stored", AUTH)
    );
    // Negative: the strict check has no such switch.
    assert_eq!(state(&s, "GET", "/stored-strict", AUTH), "guarded");
    // An in-body check fn that lets everyone on when a fn of no arguments
    // (an environment switch) says so.
    assert_eq!(state(&s, "GET", "/create", AUTH), "unknown");
    assert!(
        reason(&s, "GET", "/create", AUTH).contains("when `!creation_locked()`"),
        "{}",
        reason(&s, "GET", "/create", AUTH)
    );
    // Negative: one whose early `Ok` depends on the request's header.
    assert_eq!(state(&s, "GET", "/create-strict", AUTH), "guarded");
}

#[test]
fn a_let_else_on_configuration_switches_auth_off() {
    let s = scan("ga7_shapes");
    assert!(s.gaps.is_empty(), "{:?}", s.gaps);
    // `let Some(ref expected) = state.api_key else { return
    // Ok(next.run(req).await); }`: open when no key is configured.
    assert_eq!(state(&s, "GET", "/keyed", AUTH), "unknown");
    assert!(
        reason(&s, "GET", "/keyed", AUTH).contains(
            "lets every request through when `state.api_key` does not match `Some(ref expected)`"
        ),
        "{}",
        reason(&s, "GET", "/keyed", AUTH)
    );
    // Negative: the same `let .. else` refusing with 401 is the check.
    assert_eq!(state(&s, "GET", "/keyed-strict", AUTH), "guarded");
}

#[test]
fn an_outer_layer_that_refuses_only_by_size_is_no_auth() {
    let s = scan("ga7_shapes");
    assert!(s.gaps.is_empty(), "{:?}", s.gaps);
    // A layer that reads every body and refuses only one over the ceiling
    // (413) authenticates nobody, though the audit record it builds has a
    // `session_id`: the plain constructor has no auth.
    assert_eq!(state(&s, "GET", "/plain", AUTH), "unguarded");
    assert!(
        !reason(&s, "GET", "/plain", AUTH).contains("drain_body"),
        "{}",
        reason(&s, "GET", "/plain", AUTH)
    );
    // Behind it, the secure constructor's own auth layer is judged.
    assert_eq!(state(&s, "GET", "/secure", AUTH), "guarded");
    assert!(
        reason(&s, "GET", "/secure", AUTH).contains("key_required"),
        "{}",
        reason(&s, "GET", "/secure", AUTH)
    );
    // Negative: a session layer that sends a caller without one to the
    // sign-in page with a 303 still authenticates.
    assert_eq!(state(&s, "GET", "/account", AUTH), "guarded");
    assert!(
        reason(&s, "GET", "/account", AUTH).contains("require_session"),
        "{}",
        reason(&s, "GET", "/account", AUTH)
    );
}

#[test]
fn configuration_handed_on_in_a_request_extension_switches_auth_off() {
    let s = scan("ga9_shapes");
    assert!(s.gaps.is_empty(), "{:?}", s.gaps);
    // `let keys = match keys.as_ref().and_then(..) { Some(k) => .., None
    // => return next.run(req).await }` with `keys` read from
    // `req.extensions().get::<Keys>()`, which `inject_keys` fills from its
    // `State`: open when no key is configured.
    assert_eq!(state(&s, "GET", "/ext/models", AUTH), "unknown");
    assert!(
        reason(&s, "GET", "/ext/models", AUTH)
            .contains("lets every request through when `the request extension `Keys` is absent`"),
        "{}",
        reason(&s, "GET", "/ext/models", AUTH)
    );
    // Negative: a request without the extension refused with 401.
    assert_eq!(state(&s, "GET", "/ext-strict/models", AUTH), "guarded");
}

#[test]
fn paths_in_a_const_list_the_middleware_lets_through_are_exempt() {
    let s = scan("ga9_shapes");
    // `if OPEN_PATHS.contains(&path) { return next.run(req).await; }`
    // with `const OPEN_PATHS: &[&str] = &["/ext/open", ..]`.
    assert_eq!(state(&s, "GET", "/ext/open", AUTH), "unguarded");
    assert!(
        reason(&s, "GET", "/ext/open", AUTH).contains("(in `OPEN_PATHS`)"),
        "{}",
        reason(&s, "GET", "/ext/open", AUTH)
    );
    // Negative: `if !OPERATOR_ROUTES.contains(&path) { return 401 }` after
    // the credential check is a role's allow-list, not an exemption; and
    // `if given == pw { return next.run(..) }` with `given` read from the
    // request's header is the check itself, not a configuration switch.
    assert_eq!(state(&s, "GET", "/op/balance", AUTH), "guarded");
    assert_eq!(state(&s, "POST", "/op/config", AUTH), "guarded");
}

#[test]
fn an_in_body_check_under_a_configured_secret_guards_only_where_it_is_set() {
    let s = scan("ga9_shapes");
    // `if let Some(expected) = &state.secret { .. return UNAUTHORIZED .. }`.
    assert_eq!(state(&s, "POST", "/hook", AUTH), "unknown");
    assert!(
        reason(&s, "POST", "/hook", AUTH).contains("only `if let Some(expected) = &state.secret`"),
        "{}",
        reason(&s, "POST", "/hook", AUTH)
    );
    // Negative: the same check outside any `if`.
    assert_eq!(state(&s, "POST", "/hook-strict", AUTH), "guarded");
}

#[test]
fn looking_up_what_the_url_names_and_calling_out_are_no_guard() {
    let s = scan("ga9_shapes");
    // `state.store.get(&id)` (`SessionStore`, whose text says "session")
    // with `id` built from `Path(session_id)`, and the 404 built by
    // `session_not_found(..)` in `ok_or_else`: a lookup of the addressed
    // resource.
    assert_eq!(state(&s, "GET", "/sessions/{id}", AUTH), "unguarded");
    // Negative: `state.store.check(&headers)?` reads the caller's header.
    assert_eq!(state(&s, "GET", "/sessions-checked/{id}", AUTH), "guarded");
    // A callee that sets the service's own token (from the environment)
    // on an outgoing request and maps an upstream's `status: 401` reads
    // no credential of the caller's.
    assert_eq!(state(&s, "GET", "/proxy", AUTH), "unguarded");
    // Negative: a callee reading the caller's Authorization header and
    // answering 401.
    assert_eq!(state(&s, "GET", "/checked", AUTH), "guarded");
    // `set_value(&mut settings, &key, &body.value)?`: handed the path's
    // key, the JSON body's value and the state; the setting it writes
    // is named `upstream.api_key`, which is no credential of the caller.
    assert_eq!(state(&s, "PUT", "/settings/{key}", AUTH), "unguarded");
}

#[test]
fn a_router_module_compiled_only_into_tests_is_not_served() {
    let s = scan("ga9_shapes");
    // `#[cfg(all(test, feature = "metrics"))] mod metrics_test;`.
    assert!(s.report.route("GET", "/test-only").is_none());
    // Negative: `#[cfg(feature = "extra")] mod extra;` is served with it.
    assert!(s.report.route("GET", "/extra").is_some());
}

#[test]
fn a_handler_block_ending_in_a_closure_is_that_closure() {
    let s = scan("ga9_shapes");
    // `get({ let spec = Arc::clone(&spec); move || { .. async move { .. } } })`.
    assert_eq!(state(&s, "GET", "/spec.json", AUTH), "unguarded");
    // Negative: a block ending in a fn's name is not read as one.
    assert_eq!(state(&s, "GET", "/spec-named", AUTH), "unknown");
}

#[test]
fn a_refusing_if_on_a_local_read_from_the_authorization_header_is_a_check() {
    let s = scan("ga9_shapes");
    // `let presented = headers.get("authorization")..; if
    // !constant_time_eq(presented, &expected) { return UNAUTHORIZED; }`.
    assert_eq!(state(&s, "POST", "/enroll", AUTH), "guarded");
    // Negative: a local read from another header, validated with a 400.
    assert_eq!(state(&s, "POST", "/pick", AUTH), "unguarded");
}

#[test]
fn an_extractor_that_only_gathers_credentials_is_no_guard_of_its_own() {
    let s = scan("ga10_shapes");
    assert!(s.gaps.is_empty(), "{:?}", s.gaps);
    // `Presented` reads the Authorization header and a cookie jar, and
    // its only `?` is `parts.extract::<Cookies>().await?` (a jar fails
    // only without its layer): it refuses nobody. A handler that only
    // sets a cookie with it is open.
    assert_eq!(state(&s, "POST", "/presented/logout", AUTH), "unguarded");
    // The check is in the application method the handler hands it to
    // (`app.list_items(&presented)`, which opens with
    // `self.authenticate(presented).await?`): read, but given an identity
    // that may be absent, its policy is not evaluated.
    assert_eq!(state(&s, "GET", "/presented/items", AUTH), "unknown");
    // Negative: an extractor that answers 401 without the header guards,
    // its jar extraction's `?` notwithstanding.
    assert_eq!(state(&s, "GET", "/strict", AUTH), "guarded");
}

#[test]
fn an_optional_identity_handed_on_to_another_fn_is_an_unread_check() {
    let s = scan("ga10_shapes");
    // `policy::decide(bearer)` with `bearer: Option<Bearer>`: the check,
    // if any, is in code this reader does not follow.
    assert_eq!(state(&s, "GET", "/maybe/handed", AUTH), "unknown");
    assert!(
        reason(&s, "GET", "/maybe/handed", AUTH)
            .contains("the optional identity `bearer` is handed to `decide(..)`"),
        "{}",
        reason(&s, "GET", "/maybe/handed", AUTH)
    );
    // Negative: an optional identity only looked at (`bearer.is_some()`
    // inside `format!`) is no check.
    assert_eq!(state(&s, "GET", "/maybe/looked-at", AUTH), "unguarded");
}
