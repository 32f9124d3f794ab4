//! GA-AUTH-001: a route with no authentication. Every endpoint gets a
//! verdict: guarded (a declared guard, an auth extractor, an auth layer
//! that wraps it, or an in-body guard call: a workspace fn call, or a
//! method call on a handler argument whose type is followed through struct
//! fields to a workspace impl fn, `state.auth.check(&headers)?`), unguarded (none of them: a
//! finding), or unknown (an opaque extractor or layer, a service, a
//! layer only present under a condition, an auth middleware a configured
//! value switches off: `checks/auth/switch.rs`).

pub(crate) mod code;
mod switch;

use syn::visit::Visit;

use self::code::{
    Body, Code, MethodCalls, bindings, calls, reach, reads_credentials, rejects, type_head,
};
use super::Ctx;
use crate::findings::{Results, Severity, Verdict};
use crate::routes::{Endpoint, Handler, Layer};
use crate::symbols::{Item, ModId};

const RULE: &str = "GA-AUTH-001";

/// The parameters of a route path (`{id}`, `{*rest}`, `:id`, `*rest`).
pub(crate) fn path_params(path: &str) -> Vec<String> {
    path.split('/')
        .filter_map(|seg| {
            if let Some(inner) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(inner.trim_start_matches('*').to_owned())
            } else {
                seg.strip_prefix(':')
                    .or_else(|| seg.strip_prefix('*'))
                    .map(str::to_owned)
            }
        })
        .filter(|p| !p.is_empty())
        .collect()
}

/// Whether a parameter name names a record (`id`, `user_id`, `noteId`,
/// `uuid`, `slug`).
pub(crate) fn is_id_like(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n == "id"
        || n.ends_with("_id")
        || n.ends_with("id") && n.len() > 2
        || n.contains("uuid")
        || n == "slug"
}

/// Whether a route is a login, signup, reset or auth callback route.
pub(crate) fn is_login_path(path: &str) -> bool {
    let p = path.to_ascii_lowercase();
    [
        "login", "signin", "sign_in", "sign-in", "logon", "signup", "sign_up", "sign-up",
        "register", "reset", "forgot", "callback", "oauth",
    ]
    .iter()
    .any(|w| p.contains(w))
}

fn is_public_by_nature(path: &str) -> bool {
    let p = path.to_ascii_lowercase();
    if p == "/" || p.is_empty() {
        return true;
    }
    p.split('/').any(|seg| {
        matches!(
            seg,
            "health"
                | "healthz"
                | "livez"
                | "readyz"
                | "ready"
                | "live"
                | "ping"
                | "version"
                | "favicon.ico"
                | "robots.txt"
                | "static"
                | "assets"
                | "public"
        )
    })
}

/// The severity of an unauthenticated endpoint (`mutates`: see
/// [`super::input::common::mutating`]; `ANY` only with a body).
fn severity(ep: &Endpoint, mutates: bool) -> Severity {
    let path = ep.path.to_ascii_lowercase();
    if is_login_path(&path) {
        return Severity::Low;
    }
    let id = path_params(&ep.path).iter().any(|p| is_id_like(p));
    let admin = path.contains("admin");
    let upload = path.contains("upload");
    if mutates && (admin || id) {
        Severity::Critical
    } else if mutates || id || admin || upload {
        Severity::High
    } else if matches!(ep.method.as_str(), "GET" | "HEAD") && is_public_by_nature(&ep.path) {
        Severity::Low
    } else {
        Severity::Medium
    }
}

/// What a layer does for authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LayerAuth {
    /// It authenticates (why).
    Auth(String),
    /// It may (why).
    Maybe(String),
    /// It does not.
    No,
}

fn auth_ish(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["auth", "login", "session", "jwt", "guard", "token"]
        .iter()
        .any(|w| n.contains(w))
}

const NOT_AUTH_LAYERS: &[&str] = &[
    "AuthManagerLayer",
    "SessionManagerLayer",
    "CookieManagerLayer",
    "TraceLayer",
    "CorsLayer",
];

/// Whether a fn body (and the workspace fns it calls) authenticates: it
/// answers 401/403 or redirects to login, or reads credentials and
/// returns early.
fn authenticates(ctx: &Ctx<'_, '_>, body: Body<'_>) -> Option<String> {
    let own = body.code;
    let text: String = reach(ctx, body, 2)
        .iter()
        .map(|(b, _)| b.code.text())
        .collect::<Vec<_>>()
        .join("\n");
    // A 403 alone is not authentication (a middleware refusing
    // service-worker scripts answers 403): it must read credentials too,
    // unless it answers 401 or sends the client to a login page.
    // A middleware that refuses only with 403 and checks a CSRF token is
    // CSRF protection: the session cookie it reads is what the token is
    // bound to, and a caller without a session passes it (a login form).
    // One that answers CORS (`Access-Control-Allow-*`) refuses an origin,
    // and the `Authorization` it names is an allowed header, not a read.
    let lower = text.to_ascii_lowercase();
    if rejects(&text) == Some("403")
        && [
            "csrf",
            "xsrf",
            "access_control_allow",
            "access-control-allow",
        ]
        .iter()
        .any(|w| lower.contains(w))
    {
        return None;
    }
    match (reads_credentials(&text), rejects(&text)) {
        (_, Some(r @ "a redirect to login")) => Some(format!("answers {r}")),
        (Some(c), Some(r)) => Some(format!("reads {c} and answers {r}")),
        (None, Some(r)) if code::reads_token(&text) => {
            Some(format!("reads a token and answers {r}"))
        }
        // 401 is the status that asks for authentication: a middleware
        // answering it decides who may pass (a forward-auth layer that
        // asks another service and answers 401 on its refusal).
        (None, Some(r @ "401")) => Some(format!("answers {r}")),
        // Its early exits, if it names them all, must include one that is
        // not a refusal for another reason (a 413 for a body too large).
        (Some(c), None)
            if code::short_circuits(&text)
                && !outer_block(own).is_some_and(code::refuses_for_other_reasons) =>
        {
            Some(format!("reads {c} and returns early"))
        }
        _ => None,
    }
}

/// A run-time switch that lets every request through a middleware before
/// it checks anything: a top-level `if cond { return next.run(..) }`
/// one of whose `||` alternatives reads nothing of the request: no
/// credential, or only the service's state (`state` are the names the
/// fn's `State(..)` parameters bind). kellnr's `if
/// !state.settings.registry.auth_required { return next.run(..) }`;
/// `let key = &state.config.api_key; if key.is_empty() { .. }`; `if
/// !auth.is_required() || path == "/health" { .. }` (the path is an
/// exemption, read by [`exemption`]). The alternative's text, if there is one.
fn bypass(code: Code<'_>, state: &[String]) -> Option<String> {
    let block = outer_block(code)?;
    block.stmts.iter().enumerate().find_map(|(at, stmt)| {
        if let syn::Stmt::Local(l) = stmt {
            return let_else_bypass(&block.stmts[..at], l, state)
                .or_else(|| match_bypass(&block.stmts[..at], l, state));
        }
        let syn::Stmt::Expr(syn::Expr::If(i), _) = stmt else {
            return None;
        };
        let then = code::text(&i.then_branch);
        if !(then.contains("return") && then.contains("next.run(")) {
            return None;
        }
        switch::disjuncts(&i.cond).into_iter().find_map(|d| {
            let cond = code::text(d);
            let lower = cond.to_ascii_lowercase();
            let about_request = ["header", "uri", "path", "method", "extensions", "request"]
                .iter()
                .any(|w| lower.contains(w));
            let no_credential = reads_credentials(&cond).is_none() && !code::reads_token(&cond);
            // `if given == pw { return next.run(..) }` with `let given =
            // req.headers().get(..)`: the caller's credential, compared.
            let request_local = switch::roots(d).unwrap_or_default().iter().any(|n| {
                block.stmts[..at].iter().rev().find_map(|s| {
                    let syn::Stmt::Local(l) = s else { return None };
                    let mut bound = Vec::new();
                    code::bindings(&l.pat, &mut bound);
                    bound.contains(n).then(|| {
                        l.init.as_ref().is_some_and(|i| {
                            let t = code::text(&*i.expr).to_ascii_lowercase();
                            ["header", "uri", "extensions", "req.", "request"]
                                .iter()
                                .any(|w| t.contains(w))
                        })
                    })
                }) == Some(true)
            });
            (!about_request
                && !request_local
                && (no_credential || switch::reads_only_state(&block.stmts[..at], d, state)))
            .then_some(cond)
        })
    })
}

/// The `let .. else` form of [`bypass`]: `let Some(ref expected) =
/// state.api_key else { return Ok(next.run(req).await); };`, whose `else`
/// runs the inner service when a value read only from the service's
/// state (`stmts` are the statements before it) is absent. A `let .. else`
/// on the request (a missing header let through) is not a switch.
fn let_else_bypass(stmts: &[syn::Stmt], l: &syn::Local, state: &[String]) -> Option<String> {
    let init = l.init.as_ref()?;
    let (_, els) = init.diverge.as_ref()?;
    let els = code::text(&**els);
    if !(els.contains("return") && els.contains("next.run(")) {
        return None;
    }
    let value = code::text(&*init.expr);
    if let Some(ext) = extension_read(stmts, &init.expr) {
        return Some(format!("the request extension `{ext}` is absent"));
    }
    let lower = value.to_ascii_lowercase();
    let about_request = ["header", "uri", "path", "method", "extensions", "request"]
        .iter()
        .any(|w| lower.contains(w));
    (!about_request && switch::reads_only_state(stmts, &init.expr, state))
        .then(|| format!("`{value}` does not match `{}`", crate::routes::text(&l.pat)))
}

/// The `match` form of [`let_else_bypass`]: `let keys = match auth_state
/// { Some(k) => k, None => return next.run(request).await };`, an arm
/// that runs the inner service when the value is absent, where the value
/// is read only from the service's state or from a request extension
/// (which another layer puts there: configuration handed on, or an
/// identity resolved before; either way this middleware lets a request
/// without it through, whatever it carries).
fn match_bypass(stmts: &[syn::Stmt], l: &syn::Local, state: &[String]) -> Option<String> {
    let init = l.init.as_ref()?;
    if init.diverge.is_some() {
        return None;
    }
    let syn::Expr::Match(m) = &*init.expr else {
        return None;
    };
    let arm = m.arms.iter().find(|a| {
        let body = code::text(&*a.body);
        a.guard.is_none() && body.contains("return") && body.contains("next.run(")
    })?;
    let pat = crate::routes::text(&arm.pat);
    if !matches!(pat.as_str(), "None" | "_" | "Err(_)") {
        return None;
    }
    if let Some(ext) = extension_read(stmts, &m.expr) {
        return Some(format!("the request extension `{ext}` is absent"));
    }
    let value = code::text(&*m.expr);
    let lower = value.to_ascii_lowercase();
    let about_request = ["header", "uri", "path", "method", "extensions", "request"]
        .iter()
        .any(|w| lower.contains(w));
    (!about_request && switch::reads_only_state(stmts, &m.expr, state))
        .then(|| format!("`{value}` is `{pat}`"))
}

/// The extension an expression reads, `extensions().get::<T>()` in it or
/// in the initialiser of a local it names (`let auth_state =
/// request.extensions().get::<AuthState>().cloned();`): `T`, as text.
fn extension_read(stmts: &[syn::Stmt], e: &syn::Expr) -> Option<String> {
    fn ext_in(text: &str) -> Option<String> {
        let at = text.find("extensions().get::<")? + "extensions().get::<".len();
        let end = text[at..].find(">()")?;
        Some(text[at..at + end].trim().to_owned())
    }
    let text = code::text(e);
    if let Some(t) = ext_in(&text) {
        return Some(t);
    }
    // `auth_state.as_ref().and_then(..)`: the receiver chain's root.
    let mut root = e;
    while let syn::Expr::MethodCall(mc) = root {
        root = &mc.receiver;
    }
    let syn::Expr::Path(p) = root else {
        return None;
    };
    let n = p.path.get_ident()?.to_string();
    stmts.iter().rev().find_map(|s| {
        let syn::Stmt::Local(l) = s else { return None };
        let mut bound = Vec::new();
        code::bindings(&l.pat, &mut bound);
        if !bound.contains(&n) {
            return None;
        }
        Some(l.init.as_ref().and_then(|i| ext_in(&code::text(&*i.expr))))
    })?
}

/// A middleware's bypass (see [`bypass`]), in its own body or in the fn
/// it hands its whole work to (`inner(State(..), req, next).await`).
fn bypass_of(ctx: &Ctx<'_, '_>, item: &Item, body: &Body<'_>) -> Option<String> {
    let state = ctx
        .function(item)
        .map(|f| switch::state_names(f.sig))
        .unwrap_or_default();
    if let Some(cond) = bypass(body.code, &state).or_else(|| config_grant(ctx, item, body)) {
        return Some(cond);
    }
    let (callee_item, callee) = delegate(ctx, body)?;
    let state = ctx
        .function(&callee_item)
        .map(|f| switch::state_names(f.sig))
        .unwrap_or_default();
    bypass(callee.code, &state)
}

/// A check method the middleware asks about its state that lets everyone
/// in by configuration: `state.auth.check(header)` where `check` is the
/// workspace impl fn of `state.auth`'s type (followed from the
/// `State(state): State<T>` parameter) and opens with `match &self.token
/// { None => true, .. }` (`switch::grants_when`).
fn config_grant(ctx: &Ctx<'_, '_>, item: &Item, body: &Body<'_>) -> Option<String> {
    let f = ctx.function(item)?;
    let states: Vec<(String, &syn::Type)> = f
        .sig
        .inputs
        .iter()
        .filter_map(|input| {
            let syn::FnArg::Typed(t) = input else {
                return None;
            };
            let syn::Pat::TupleStruct(ts) = &*t.pat else {
                return None;
            };
            let [syn::Pat::Ident(id)] = ts.elems.iter().collect::<Vec<_>>().as_slice() else {
                return None;
            };
            let (_, head, args) = type_head(&t.ty)?;
            if head != "State" {
                return None;
            }
            Some((id.ident.to_string(), *args.first()?))
        })
        .collect();
    let mut ms = MethodCalls(Vec::new());
    body.code.visit(&mut ms);
    ms.0.into_iter().find_map(|m| {
        let (root, fields) = receiver_chain(&m.receiver)?;
        let (_, ty) = states.iter().find(|(n, _)| *n == root)?;
        let Item::Type(m_def, name) = field_type(ctx, f.module, ty, &fields)? else {
            return None;
        };
        let method = m.method.to_string();
        ctx.syms.impl_fn(m_def, &name, &method)?;
        let callee = code::body_of(ctx, &Item::ImplFn(m_def, name.clone(), method.clone()))?;
        let Code::Block(block) = callee.code else {
            return None;
        };
        let when = switch::grants_when(block)?;
        Some(format!(
            "`{}.{method}(..)` (`{name}::{method}`) is `true`: {when}",
            code::text(&*m.receiver)
        ))
    })
}

/// The workspace fn a body hands its whole work to: its only statement
/// is a call of it (awaited or not).
fn delegate<'w>(ctx: &Ctx<'_, 'w>, body: &Body<'w>) -> Option<(Item, Body<'w>)> {
    let block = outer_block(body.code)?;
    let [syn::Stmt::Expr(tail, None)] = block.stmts.as_slice() else {
        return None;
    };
    let mut call = tail;
    while let syn::Expr::Await(a) = call {
        call = &a.base;
    }
    let syn::Expr::Call(c) = call else {
        return None;
    };
    let syn::Expr::Path(p) = &*c.func else {
        return None;
    };
    let item = code::resolve_call(ctx, body, &p.path)?;
    let callee = code::body_of(ctx, &item)?;
    Some((item, callee))
}

/// A body's outermost block: the fn's, or a closure's `async` / block body.
fn outer_block(code: Code<'_>) -> Option<&syn::Block> {
    match code {
        Code::Block(b) => Some(b),
        Code::Expr(syn::Expr::Async(a)) => Some(&a.block),
        Code::Expr(syn::Expr::Block(b)) => Some(&b.block),
        Code::Expr(_) => None,
    }
}

/// Whether a middleware body hands every request on (`code::always_passes`).
fn passes_all(code: Code<'_>) -> bool {
    outer_block(code).is_some_and(code::always_passes)
}

/// Whether a middleware runs the inner service first (`code::runs_first`),
/// itself or through a fn it hands its whole work to
/// (`audit::audit_requests(state, request, next).await`).
fn runs_inner_first(ctx: &Ctx<'_, '_>, body: &Body<'_>) -> bool {
    let Some(block) = outer_block(body.code) else {
        return false;
    };
    code::runs_first(block)
        || delegate(ctx, body)
            .and_then(|(_, callee)| outer_block(callee.code))
            .is_some_and(code::runs_first)
}

/// What a middleware fn given to `from_fn` does.
fn middleware_fn(ctx: &Ctx<'_, '_>, module: ModId, arg: &syn::Expr) -> LayerAuth {
    let shown = code::text(arg);
    match arg {
        syn::Expr::Path(p) => {
            let b = Body {
                module,
                self_ty: None,
                code: Code::Expr(arg),
            };
            let item = code::resolve_call(ctx, &b, &p.path);
            match item
                .as_ref()
                .and_then(|i| code::body_of(ctx, i).map(|b| (i, b)))
            {
                // Every exit is `next.run(..)`, or the handler runs before
                // anything else: it refuses nobody.
                Some((_, body)) if passes_all(body.code) || runs_inner_first(ctx, &body) => {
                    LayerAuth::No
                }
                Some((item, body)) => {
                    let bypassed = bypass_of(ctx, item, &body);
                    match (authenticates(ctx, body), bypassed) {
                        (Some(why), Some(cond)) => {
                            // A condition already quoted (a check method's
                            // own switch) is shown as it comes.
                            let cond = if cond.starts_with('`') {
                                cond
                            } else {
                                format!("`{cond}`")
                            };
                            LayerAuth::Maybe(format!(
                                "middleware `{shown}` {why}, but lets every request through when {cond}"
                            ))
                        }
                        (Some(why), None) => LayerAuth::Auth(format!("middleware `{shown}` {why}")),
                        (None, _) => LayerAuth::No,
                    }
                }
                None if auth_ish(&shown) => LayerAuth::Maybe(format!(
                    "middleware `{shown}` does not resolve; it may authenticate"
                )),
                None => LayerAuth::No,
            }
        }
        syn::Expr::Closure(c) => {
            let body = Body {
                module,
                self_ty: None,
                code: Code::Expr(&c.body),
            };
            if passes_all(body.code) || runs_inner_first(ctx, &body) {
                return LayerAuth::No;
            }
            match authenticates(ctx, body) {
                Some(why) => LayerAuth::Auth(format!("middleware closure {why}")),
                None => LayerAuth::No,
            }
        }
        _ if auth_ish(&shown) => LayerAuth::Maybe(format!("middleware `{shown}` may authenticate")),
        _ => LayerAuth::No,
    }
}

/// The from_fn-style calls in an expression, with their fn argument.
fn from_fn_args(code: Code<'_>) -> Vec<&syn::Expr> {
    calls(code)
        .into_iter()
        .filter(|c| {
            c.path.is_some()
                && matches!(
                    c.name.as_str(),
                    "from_fn" | "from_fn_with_state" | "map_request" | "map_request_with_state"
                )
        })
        .filter_map(|c| c.args.last().copied())
        .collect()
}

fn layer_code(ctx: &Ctx<'_, '_>, module: ModId, code: Code<'_>, depth: usize) -> LayerAuth {
    let text = code.text();
    for known in [
        "ValidateRequestHeaderLayer::bearer",
        "ValidateRequestHeaderLayer::basic",
        "ValidateRequestHeaderLayer::custom",
        "RequireAuthorizationLayer",
        "AsyncRequireAuthorizationLayer",
        "login_required!",
        "permission_required!",
    ] {
        if text.contains(known) {
            return LayerAuth::Auth(format!("`{known}`"));
        }
    }
    let mut result = LayerAuth::No;
    for arg in from_fn_args(code) {
        match middleware_fn(ctx, module, arg) {
            a @ LayerAuth::Auth(_) => return a,
            m @ LayerAuth::Maybe(_) => result = m,
            LayerAuth::No => {}
        }
    }
    if result != LayerAuth::No || depth == 0 {
        return result;
    }
    // A layer built by a workspace fn: read that fn.
    let body = Body {
        module,
        self_ty: None,
        code,
    };
    for call in calls(code) {
        let Some(path) = call.path else { continue };
        if let Some(callee) =
            code::resolve_call(ctx, &body, path).and_then(|i| code::body_of(ctx, &i))
        {
            match layer_code(ctx, callee.module, callee.code, depth - 1) {
                LayerAuth::Auth(why) => {
                    return LayerAuth::Auth(format!("`{}()` adds {why}", call.name));
                }
                m @ LayerAuth::Maybe(_) => result = m,
                LayerAuth::No => {}
            }
        }
    }
    result
}

/// Which routes an auth middleware lets through before it checks anyone.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Exempt {
    /// None found.
    None,
    /// This route's path: it compares the request path with it.
    This(String),
    /// It decides by the route's `MatchedPath` against values not read
    /// here (a table of consts).
    Unread(String),
}

/// The string literals a text compares a request path with:
/// `req.uri().path() == "/health"` (exact) and
/// `path.starts_with("/public/")` (prefix).
fn compared_paths(text: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for (at, _) in text.match_indices("\"/") {
        let before = &text[..at];
        let window = &before[before.len().saturating_sub(60)..];
        let Some(end) = text[at + 1..].find('"') else {
            continue;
        };
        let lit = text[at + 1..at + 1 + end].to_owned();
        let lower = window.to_ascii_lowercase();
        if !lower.contains("path") {
            continue;
        }
        if window.trim_end().ends_with("starts_with(") {
            out.push((lit, true));
        } else if window.trim_end().ends_with("==") {
            out.push((lit, false));
        }
    }
    out
}

/// The const lists of paths a condition tests the request path against,
/// unnegated: `EXEMPT_PATHS.contains(&path)` with `const EXEMPT_PATHS:
/// &[&str] = &["/health", ..]` in `module`. Each const's name and its
/// paths. (Read only in a top-level `if` that runs the inner service:
/// an exemption; `if !ROLE_ROUTES.contains(&path) { return Err(401) }`
/// after the credential check is an allow-list of a role, not one.)
fn listed_paths(ctx: &Ctx<'_, '_>, module: ModId, text: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for (at, _) in text.match_indices(".contains(") {
        let name: String = text[..at]
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let arg = &text[at + ".contains(".len()..];
        let arg = &arg[..arg.find(')').unwrap_or(arg.len())];
        let negated = text[..at - name.len()].trim_end().ends_with('!');
        if name.is_empty()
            || negated
            || !name
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            || !arg.to_ascii_lowercase().contains("path")
        {
            continue;
        }
        if let Some(lits) = ctx.syms.const_str_list(module, &name) {
            out.push((name, lits));
        }
    }
    out
}

/// A top-level `if` of a middleware that runs the inner service when
/// the request path is in a const list (see [`listed_paths`]) holding
/// `path`: the const's name.
fn listed_exemption(ctx: &Ctx<'_, '_>, body: &Body<'_>, path: &str) -> Option<String> {
    outer_block(body.code).and_then(|block| {
        block.stmts.iter().find_map(|stmt| {
            let syn::Stmt::Expr(syn::Expr::If(i), _) = stmt else {
                return None;
            };
            let then = code::text(&i.then_branch);
            if !(then.contains("return") && then.contains("next.run(")) {
                return None;
            }
            listed_paths(ctx, body.module, &code::text(&*i.cond))
                .into_iter()
                .find(|(_, lits)| lits.iter().any(|l| l == path))
                .map(|(name, _)| name)
        })
    })
}

/// What the middleware fns of an auth layer exempt, for a route's path.
fn exemption(ctx: &Ctx<'_, '_>, layer: &Layer, path: &str) -> Exempt {
    for arg in from_fn_args(Code::Expr(&layer.expr)) {
        let body = match arg {
            syn::Expr::Path(p) => {
                let b = Body {
                    module: layer.module,
                    self_ty: None,
                    code: Code::Expr(arg),
                };
                code::resolve_call(ctx, &b, &p.path).and_then(|i| code::body_of(ctx, &i))
            }
            syn::Expr::Closure(c) => Some(Body {
                module: layer.module,
                self_ty: None,
                code: Code::Expr(&c.body),
            }),
            _ => None,
        };
        let Some(body) = body else { continue };
        let listed = listed_exemption(ctx, &body, path);
        let text: String = reach(ctx, body, 2)
            .iter()
            .map(|(b, _)| b.code.text())
            .collect::<Vec<_>>()
            .join("\n");
        if let Some(name) = listed {
            return Exempt::This(format!("{path}` (in `{name}`)"));
        }
        if let Some((lit, _)) = compared_paths(&text).into_iter().find(|(lit, prefix)| {
            if *prefix {
                path.starts_with(lit.as_str())
            } else {
                path == lit
            }
        }) {
            return Exempt::This(lit);
        }
        if text.contains("MatchedPath") {
            return Exempt::Unread(format!(
                "middleware `{}` lets some routes through by their `MatchedPath` (against values not read here)",
                code::text(arg)
            ));
        }
    }
    Exempt::None
}

/// What one layer does for authentication (ignoring its condition).
pub(crate) fn layer_auth(ctx: &Ctx<'_, '_>, layer: &Layer) -> LayerAuth {
    if NOT_AUTH_LAYERS.iter().any(|n| layer.text.contains(n)) && !layer.text.contains("from_fn") {
        return LayerAuth::No;
    }
    match layer_code(ctx, layer.module, Code::Expr(&layer.expr), 2) {
        LayerAuth::No if auth_ish(&layer.text) && !middleware_read(ctx, layer) => {
            LayerAuth::Maybe(format!("opaque layer `{}` may authenticate", layer.text))
        }
        other => other,
    }
}

/// Whether the layer is `from_fn`-style middleware whose every fn was
/// found and read: then its name (`check_token`) says nothing more than its
/// body did, and a body that reads no credential is not authentication.
fn middleware_read(ctx: &Ctx<'_, '_>, layer: &Layer) -> bool {
    let args = from_fn_args(Code::Expr(&layer.expr));
    !args.is_empty()
        && args.iter().all(|arg| match arg {
            syn::Expr::Closure(_) => true,
            syn::Expr::Path(p) => {
                let b = Body {
                    module: layer.module,
                    self_ty: None,
                    code: Code::Expr(arg),
                };
                code::resolve_call(ctx, &b, &p.path)
                    .and_then(|i| code::body_of(ctx, &i))
                    .is_some()
            }
            _ => false,
        })
}

/// What an extractor argument does for authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ext {
    Guarded(String),
    Optional(String),
    Unknown(String),
    Never(String),
    NotAuth,
}

const NOT_AUTH_EXTRACTORS: &[&str] = &[
    "State",
    "Path",
    "Query",
    "Json",
    "Form",
    "HeaderMap",
    "Method",
    "Uri",
    "OriginalUri",
    "MatchedPath",
    "ConnectInfo",
    "Multipart",
    "Bytes",
    "String",
    "Request",
    "Body",
    "WebSocketUpgrade",
    "RawQuery",
    "RawPathParams",
    "Host",
    "Version",
    "Parts",
    "Html",
    "Valid",
    "Garde",
    "Validated",
    "Typed",
    "Session",
];

fn user_ish(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "auth",
        "user",
        "session",
        "claims",
        "token",
        "identity",
        "principal",
        "admin",
        "account",
    ]
    .iter()
    .any(|w| n.contains(w))
}

/// The text of a workspace extractor's `FromRequestParts`/`FromRequest`
/// impls (and its rejection's `IntoResponse`), or `None` without one.
fn workspace_extractor(ctx: &Ctx<'_, '_>, m: ModId, name: &str) -> Option<Ext> {
    let target = Item::Type(m, name.to_owned());
    let mut texts = Vec::new();
    let mut infallible = false;
    let mut never_errs = Vec::new();
    let mut lets_anonymous = Vec::new();
    let mut rejection = Vec::new();
    for (im, imp) in ctx
        .impls_of("FromRequestParts")
        .chain(ctx.impls_of("FromRequest"))
    {
        let Some((path, _, _)) = type_head(&imp.self_ty) else {
            continue;
        };
        if ctx.syms.resolve(im, path) != Some(target.clone()) {
            continue;
        }
        for it in &imp.items {
            match it {
                syn::ImplItem::Type(t) if t.ident == "Rejection" => {
                    let t_text = code::text(&t.ty);
                    if t_text.ends_with("Infallible") {
                        infallible = true;
                    }
                    if let Some((p, _, _)) = type_head(&t.ty)
                        && let Some(item @ Item::Type(..)) = ctx.syms.resolve(im, p)
                    {
                        rejection.push(item);
                    }
                    texts.push(t_text);
                }
                syn::ImplItem::Fn(f) => {
                    if code::never_errs(&f.block) {
                        never_errs.push(f.sig.ident.to_string());
                    } else if code::ok_none_exit(&f.block) {
                        lets_anonymous.push(f.sig.ident.to_string());
                    }
                    let body = Body {
                        module: im,
                        self_ty: Some(name.to_owned()),
                        code: Code::Block(&f.block),
                    };
                    texts.extend(reach(ctx, body, 2).iter().map(|(b, _)| b.code.text()));
                }
                _ => {}
            }
        }
    }
    if texts.is_empty() {
        return None;
    }
    if infallible {
        return Some(Ext::Never(format!(
            "extractor `{name}` never rejects (Rejection = Infallible)"
        )));
    }
    // A header of its own name (`Blind-auth`, `X-Auth-Token`) is no
    // credential to `reads_credentials`, but an extractor that names auth
    // and lets a caller without it through is optional auth all the same.
    if let Some(f) = lets_anonymous.first()
        && let Some(c) = reads_credentials(&texts.join("\n")).or_else(|| {
            texts
                .join("\n")
                .to_ascii_lowercase()
                .contains("auth")
                .then_some("an auth header")
        })
    {
        return Some(Ext::Optional(format!(
            "extractor `{name}` reads {c} but lets a caller without it through (its `{f}` returns `Ok(..None..)`)"
        )));
    }
    if let Some(f) = never_errs.first() {
        let all = texts.join("\n");
        return Some(match reads_credentials(&all) {
            // An optional identity: the handler runs without it.
            Some(c) => Ext::Optional(format!(
                "extractor `{name}` reads {c} but never rejects (every exit of its `{f}` is `Ok(..)`)"
            )),
            None => Ext::Never(format!(
                "extractor `{name}` never rejects (every exit of its `{f}` is `Ok(..)`)"
            )),
        });
    }
    for (im, imp) in ctx.impls_of("IntoResponse") {
        if let Some((path, _, _)) = type_head(&imp.self_ty)
            && ctx
                .syms
                .resolve(im, path)
                .is_some_and(|i| rejection.contains(&i))
        {
            texts.push(code::text(imp));
        }
    }
    let all = texts.join("\n");
    if let Some(r) = rejects(&all) {
        return Some(Ext::Guarded(format!(
            "auth extractor `{name}` (rejects with {r})"
        )));
    }
    if let Some(c) = reads_credentials(&all) {
        return Some(Ext::Guarded(format!("auth extractor `{name}` (reads {c})")));
    }
    Some(Ext::Never(format!(
        "extractor `{name}` never rejects with 401/403 and reads no credentials"
    )))
}

fn extractor(
    ctx: &Ctx<'_, '_>,
    module: ModId,
    pat: &syn::Pat,
    ty: &syn::Type,
    body_text: &str,
    auth_layer: bool,
) -> Ext {
    let Some((path, name, args)) = type_head(ty) else {
        return Ext::NotAuth;
    };
    if matches!(name.as_str(), "Option" | "Result") {
        return match args
            .first()
            .map(|t| extractor(ctx, module, pat, t, body_text, auth_layer))
        {
            Some(Ext::Guarded(_) | Ext::Unknown(_)) => {
                let inner = args.first().map(|t| code::text(*t)).unwrap_or_default();
                Ext::Optional(format!(
                    "optional auth `{name}<{inner}>` (the handler runs without it)"
                ))
            }
            _ => Ext::NotAuth,
        };
    }
    if name == "Extension" {
        let inner = args
            .first()
            .and_then(|t| type_head(t))
            .map(|(_, n, _)| n)
            .unwrap_or_default();
        if !user_ish(&inner) {
            return Ext::NotAuth;
        }
        return if auth_layer {
            Ext::Guarded(format!("`Extension<{inner}>` set by an auth layer"))
        } else {
            Ext::Unknown(format!("`Extension<{inner}>` set by a layer not visible"))
        };
    }
    if name == "TypedHeader" {
        let inner = args.first().and_then(|t| type_head(t)).map(|(_, n, _)| n);
        return if inner.as_deref() == Some("Authorization") {
            Ext::Guarded(format!("`{}` extractor", code::text(ty)))
        } else {
            Ext::NotAuth
        };
    }
    match ctx.syms.resolve(module, path) {
        Some(Item::Type(m, n)) => match workspace_extractor(ctx, m, &n) {
            Some(ext) => ext,
            None if user_ish(&n) => Ext::Unknown(format!(
                "`{n}` has no readable FromRequestParts/FromRequest impl in the workspace"
            )),
            None => Ext::NotAuth,
        },
        _ if NOT_AUTH_EXTRACTORS.contains(&name.as_str()) => Ext::NotAuth,
        _ if name == "Principal" => Ext::Guarded("`Principal` extractor".to_owned()),
        _ if name == "AuthSession" => {
            let mut names = Vec::new();
            bindings(pat, &mut names);
            let checked = names
                .iter()
                .any(|n| body_text.contains(&format!("{n}.user")))
                && (code::short_circuits(body_text) || rejects(body_text).is_some());
            if checked {
                Ext::Guarded("axum-login `AuthSession` with `.user` checked".to_owned())
            } else {
                Ext::Never(
                    "axum-login `AuthSession` without a `.user` check does not authenticate"
                        .to_owned(),
                )
            }
        }
        _ if user_ish(&name) => Ext::Unknown(format!(
            "extractor `{name}` from an external crate may authenticate"
        )),
        _ => Ext::NotAuth,
    }
}

/// Whether a branch ends the body early with a refusal: a 401/403, or a
/// `return` of anything but `Ok(..)`. A logout handler's `None => return
/// Ok(..)` (no session, nothing to end) succeeds: it refuses nobody.
fn refuses(branch: &str) -> bool {
    let mut returns = branch.split("return").skip(1).peekable();
    let refusing_return =
        returns.peek().is_some() && returns.any(|rest| !rest.trim_start().starts_with("Ok"));
    refusing_return || rejects(branch).is_some()
}

/// The names of calls that make credentials (a login handler's
/// `create_session_token`): such a call does not check the caller's.
const MAKES: [&str; 7] = [
    "create", "new", "issue", "generate", "make", "insert", "hash",
];

/// Whether a call makes credentials: a `MAKES` name, or a login or
/// sign-up call (`signin(&body)`, `sign_up(..)`, `login(..)`), which takes
/// the credentials the caller submits and answers with a session: the
/// handler that makes it is the way in, not a route behind a check.
/// `login_required(..)` is a check, not a login.
fn makes_credentials(name: &str) -> bool {
    const LOGS_IN: [&str; 7] = [
        "signin", "sign_in", "signup", "sign_up", "login", "log_in", "register",
    ];
    MAKES.iter().any(|p| name.starts_with(p))
        || LOGS_IN.iter().any(|l| {
            name == *l
                || name
                    .strip_prefix(l)
                    .is_some_and(|rest| rest.starts_with("_with"))
        })
}

/// Expressions whose failure ends the body early.
#[derive(Default)]
struct Guards<'w> {
    exprs: Vec<(&'w syn::Expr, &'static str)>,
    /// Those of them whose no-caller outcome (`Ok(None) => return
    /// login_redirect(..)`, `let Ok(Some(user)) = .. else { return .. }`)
    /// the handler refuses itself.
    none_refused: Vec<&'w syn::Expr>,
}

/// Whether a pattern names a no-caller value (`None`, `Anonymous`, ...).
fn no_caller_pattern(pat: &str) -> bool {
    pat.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .any(|w| {
            matches!(
                w,
                "None" | "Anonymous" | "Anon" | "Anyone" | "Nobody" | "Guest" | "Unauthenticated"
            )
        })
}

/// Whether a match arm `Err(e) => return Ok(e)` hands the matched call's
/// own refusal on (a helper's login redirect, returned as the response).
fn err_passed_on(arm: &syn::Arm) -> bool {
    let syn::Pat::TupleStruct(ts) = &arm.pat else {
        return false;
    };
    if !ts.path.is_ident("Err") {
        return false;
    }
    let Some(syn::Pat::Ident(name)) = ts.elems.first() else {
        return false;
    };
    let body = code::text(&*arm.body);
    body.contains("return") && mentions(&body, &name.ident.to_string())
}

impl<'w> Visit<'w> for Guards<'w> {
    fn visit_expr_try(&mut self, t: &'w syn::ExprTry) {
        self.exprs.push((&t.expr, "?"));
        syn::visit::visit_expr_try(self, t);
    }

    fn visit_expr_if(&mut self, i: &'w syn::ExprIf) {
        let then = code::text(&i.then_branch);
        if refuses(&then) {
            self.exprs.push((&i.cond, "if"));
        }
        syn::visit::visit_expr_if(self, i);
    }

    fn visit_local(&mut self, l: &'w syn::Local) {
        if let Some(init) = &l.init
            && init.diverge.is_some()
        {
            self.exprs.push((&init.expr, "let-else"));
            // `let Ok(Some(user)) = .. else { .. }`: no caller diverges.
            if code::text(&l.pat).contains("Some(") {
                self.none_refused.push(&init.expr);
            }
        }
        syn::visit::visit_local(self, l);
    }

    fn visit_expr_match(&mut self, m: &'w syn::ExprMatch) {
        if m.arms
            .iter()
            .any(|a| refuses(&code::text(&a.body)) || err_passed_on(a))
        {
            self.exprs.push((&m.expr, "match"));
        }
        if m.arms
            .iter()
            .any(|a| no_caller_pattern(&code::text(&a.pat)) && refuses(&code::text(&a.body)))
        {
            self.none_refused.push(&m.expr);
        }
        syn::visit::visit_expr_match(self, m);
    }
}

/// What the in-body reader found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BodyGuard {
    /// A check that refuses a caller without credentials.
    Checks(String),
    /// A short-circuiting expression that hands the request's headers to
    /// code outside the scanned crates: it may refuse a caller without
    /// credentials, or only a bad credential.
    Delegated(String),
}

/// Whether a callee has an `Ok(..)` exit holding no caller
/// (`Ok(Principal::Anyone)` when no Authorization header came): it
/// refuses only a bad credential, and lets a caller without one through.
fn lets_anonymous(callee: &Body<'_>) -> bool {
    matches!(callee.code, Code::Block(b) if code::ok_none_exit(b))
}

impl Guards<'_> {
    /// The verdict of an in-body check `shown` at `expr`: a check that can
    /// let a caller without credentials through (`anon`) guards only where
    /// the handler refuses that outcome itself.
    fn check(&self, expr: &syn::Expr, anon: bool, shown: &str) -> BodyGuard {
        let refused = self.none_refused.iter().any(|r| std::ptr::eq(*r, expr));
        match (anon, refused) {
            (true, false) => anonymous_through(shown),
            (true, true) => BodyGuard::Checks(format!(
                "in-body check {shown}, whose no-caller outcome the handler refuses"
            )),
            (false, _) => BodyGuard::Checks(format!("in-body check {shown}")),
        }
    }
}

/// The initialisers of the handler body's top-level `let`s that bind a
/// variable `expr` reads, as text.
fn locals_read_from(body: &Body<'_>, expr: &syn::Expr) -> String {
    let Code::Block(block) = body.code else {
        return String::new();
    };
    let names = switch::roots(expr).unwrap_or_default();
    block
        .stmts
        .iter()
        .filter_map(|s| match s {
            syn::Stmt::Local(l) => {
                let mut bound = Vec::new();
                code::bindings(&l.pat, &mut bound);
                bound
                    .iter()
                    .any(|b| names.contains(b))
                    .then(|| l.init.as_ref().map(|i| code::text(&*i.expr)))
                    .flatten()
            }
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The names a handler's `Extractor(..)` arguments bind
/// (`State(state)`, `Path((owner, id))`).
fn arg_bindings(h: &HandlerCode<'_>, extractor: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (pat, _) in &h.args {
        if let syn::Pat::TupleStruct(ts) = pat
            && ts
                .path
                .segments
                .last()
                .is_some_and(|s| s.ident == extractor)
        {
            ts.elems.iter().for_each(|p| code::bindings(p, &mut out));
        }
    }
    out
}

/// The names a handler's `Path(..)`, `Json(..)`, `Form(..)` and
/// `Query(..)` arguments bind: what the request addresses and carries as
/// data, not what its caller authenticates with (headers, cookies,
/// extensions).
fn addressed_bindings(h: &HandlerCode<'_>) -> Vec<String> {
    ["Path", "Json", "Form", "Query"]
        .iter()
        .flat_map(|e| arg_bindings(h, e))
        .collect()
}

/// Whether a call is handed only what the URL addresses (the route's
/// `Path(..)` bindings, locals built from them) and the service's state:
/// `state.store.get(&id)` with `let id = SessionId::from_raw(session_id)`
/// looks up the resource the path names (a terminal session, a shared
/// link), it reads nothing the caller authenticates with. A closure
/// argument is code the callee runs on what it found and is not counted.
fn addressed_only(body: &Body<'_>, args: &[&syn::Expr], path: &[String], state: &[String]) -> bool {
    if path.is_empty() {
        return false;
    }
    let Code::Block(block) = body.code else {
        return false;
    };
    let args: Vec<&syn::Expr> = args
        .iter()
        .copied()
        .filter(|a| !matches!(a, syn::Expr::Closure(_)))
        .collect();
    let known: Vec<String> = path.iter().chain(state).cloned().collect();
    !args.is_empty()
        && args
            .iter()
            .all(|a| switch::reads_only_state(&block.stmts, a, &known))
        && args
            .iter()
            .any(|a| !switch::reads_only_state(&block.stmts, a, state))
}

/// The condition of the top-level `if` (or `if let`) of a handler body
/// that holds `expr` and reads only the service's state.
fn configured_if(body: &Body<'_>, expr: &syn::Expr, state: &[String]) -> Option<String> {
    struct Holds<'e>(&'e syn::Expr, bool);
    impl<'w> syn::visit::Visit<'w> for Holds<'_> {
        fn visit_expr(&mut self, e: &'w syn::Expr) {
            if std::ptr::eq(e, self.0) {
                self.1 = true;
            }
            syn::visit::visit_expr(self, e);
        }
    }
    if state.is_empty() {
        return None;
    }
    let Code::Block(block) = body.code else {
        return None;
    };
    block.stmts.iter().enumerate().find_map(|(at, stmt)| {
        let syn::Stmt::Expr(syn::Expr::If(i), _) = stmt else {
            return None;
        };
        let cond = match &*i.cond {
            syn::Expr::Let(l) => &*l.expr,
            c => c,
        };
        if !switch::reads_only_state(&block.stmts[..at], cond, state) {
            return None;
        }
        let mut h = Holds(expr, false);
        syn::visit::Visit::visit_block(&mut h, &i.then_branch);
        h.1.then(|| code::text(&*i.cond))
    })
}

fn anonymous_through(shown: &str) -> BodyGuard {
    BodyGuard::Delegated(format!(
        "in-body {shown} lets a caller without credentials through (an `Ok` exit with no caller): whether the handler then refuses one is not read"
    ))
}

/// Whether an argument is the request's headers (or parts) whole:
/// `headers`, `&headers`, `req.headers()`, `&parts.headers`.
fn whole_headers(arg: &syn::Expr) -> bool {
    let t = code::text(arg).replace([' ', '&'], "");
    let t = t.strip_prefix("mut").unwrap_or(&t);
    t == "headers"
        || t == "parts"
        || t.ends_with(".headers()")
        || t.ends_with(".headers")
        || t.ends_with("headers_mut()")
}

/// The in-body guard of a handler: a short-circuiting expression that
/// reads credentials or calls a workspace fn that does (2-3 levels).
///
/// A check inside a top-level `if` of the handler whose condition reads
/// only the service's state (`state` are its `State(..)` bindings: `if
/// let Some(expected) = &state.auth_token { .. return UNAUTHORIZED .. }`)
/// runs only where that is configured: `Delegated`.
pub(crate) fn body_guard(
    ctx: &Ctx<'_, '_>,
    body: &Body<'_>,
    state: &[String],
    url: &[String],
) -> Option<BodyGuard> {
    let mut g = Guards::default();
    body.code.visit(&mut g);
    // Expressions whose callee only validates input: not read again below
    // for a credential word in their text (`take_state_cookie(jar, ..)`).
    let mut validating: Vec<&syn::Expr> = Vec::new();
    for (expr, how) in &g.exprs {
        for call in calls(Code::Expr(expr)) {
            let Some(path) = call.path else { continue };
            // A fn that makes credentials (a login handler's
            // `create_session_token`) does not check the caller's.
            if makes_credentials(&call.name) || addressed_only(body, &call.args, url, state) {
                continue;
            }
            let Some(callee) =
                code::resolve_call(ctx, body, path).and_then(|i| code::body_of(ctx, &i))
            else {
                continue;
            };
            let anon = lets_anonymous(&callee);
            let callee_code = callee.code;
            let text: String = reach(ctx, callee, 2)
                .iter()
                .map(|(b, _)| code::without_prose(&b.code.text()))
                .collect::<Vec<_>>()
                .join("\n");
            // A callee whose only refusal is a 400 validates input (an
            // OAuth2 callback's state-cookie match), even if it reads a
            // cookie: authentication answers 401/403 or sends to login.
            let validates_only = rejects(&text).is_none() && text.contains("BAD_REQUEST");
            if validates_only {
                validating.push(expr);
            }
            if !validates_only
                && (reads_credentials(&text).is_some() || code::rejects_unauthenticated(&text))
            {
                let shown = if *how == "?" {
                    format!("{}(..)?", call.name)
                } else {
                    format!("{}(..)", call.name)
                };
                let shown = format!("`{shown}`");
                // A check that configuration switches off guards only
                // when it is configured (`if !required() { return Ok(()) }`).
                if let Code::Block(block) = callee_code
                    && let Some(when) = switch::grants_when(block)
                {
                    return Some(BodyGuard::Delegated(format!(
                        "in-body check {shown}, but `{}` lets everyone on when {when}: it guards only where that is configured",
                        call.name
                    )));
                }
                if let Some(cond) = configured_if(body, expr, state) {
                    return Some(BodyGuard::Delegated(format!(
                        "in-body check {shown}, only `if {cond}`, which reads the service's configuration: it guards only where that is configured"
                    )));
                }
                return Some(g.check(expr, anon, &shown));
            }
        }
    }
    // Then an expression that reads credentials itself
    // (`headers.get(AUTHORIZATION).ok_or(StatusCode::UNAUTHORIZED)?`).
    for (expr, how) in &g.exprs {
        if validating.iter().any(|v| std::ptr::eq(*v, *expr)) {
            continue;
        }
        let t = code::text(*expr);
        // What the locals it reads were read from (`let presented =
        // headers.get(AUTHORIZATION)..; if !eq(presented, &state.token)
        // { return UNAUTHORIZED }`), one `let` up: for the condition of
        // an `if` that refuses, not for a call whose `?` may fail for any
        // reason (a logout's `delete_session_token(&session_id)?`).
        let from = if *how == "if" {
            locals_read_from(body, expr)
        } else {
            String::new()
        };
        // Handing the cookie jar to a fn that makes a session
        // (`create_session_jar(cookies, ..)?`) writes credentials.
        let write = ["insert(", "set(", "remove(", "add(", "flush(", "cycle_id("]
            .iter()
            .any(|w| t.contains(w))
            || calls(Code::Expr(expr))
                .iter()
                .any(|c| makes_credentials(&c.name));
        // Here a bare "session" or "token" in a name (`db.get_user_session(..)`
        // in a login handler) is not enough: it must read a header or
        // cookie, or get a value out of a session.
        let lower = format!("{t}\n{from}").to_ascii_lowercase();
        let reads = ["authorization", "cookie", "bearer", "jwt"]
            .iter()
            .any(|w| lower.contains(w))
            || (lower.contains("session.get(") || lower.contains("session.get::<")) && *how != "?";
        if !write && reads {
            // The expression does not read a credential itself but hands
            // the request's headers to a call outside the scanned crates
            // (`state.authenticator.resolve(req.headers(), Schemes::Bearer)`,
            // whose `Ok` may be an anonymous principal): the check may
            // refuse only a bad credential.
            let handed = calls(Code::Expr(expr)).into_iter().find(|c| {
                c.args.iter().any(|a| whole_headers(a))
                    && c.path
                        .is_none_or(|p| code::resolve_call(ctx, body, p).is_none())
            });
            if let Some(c) = handed {
                return Some(BodyGuard::Delegated(format!(
                    "in-body `{}(..)` ({how}) hands the request's headers to code outside the scanned crates: whether it refuses a caller without credentials, or only a bad credential, is not read",
                    c.name
                )));
            }
            if let Some(cond) = configured_if(body, expr, state) {
                return Some(BodyGuard::Delegated(format!(
                    "in-body check `{}` ({how}), only `if {cond}`, which reads the service's configuration: it guards only where that is configured",
                    short(&t)
                )));
            }
            return Some(BodyGuard::Checks(format!(
                "in-body check `{}` ({how})",
                short(&t)
            )));
        }
    }
    None
}

/// The receiver chain of a method call: `state.auth` → (`state`,
/// [`auth`]), through `&`, `*` and parentheses.
fn receiver_chain(e: &syn::Expr) -> Option<(String, Vec<String>)> {
    match e {
        syn::Expr::Path(p) if p.qself.is_none() => {
            Some((p.path.get_ident()?.to_string(), Vec::new()))
        }
        syn::Expr::Field(f) => {
            let syn::Member::Named(name) = &f.member else {
                return None;
            };
            let (root, mut fields) = receiver_chain(&f.base)?;
            fields.push(name.to_string());
            Some((root, fields))
        }
        syn::Expr::Reference(r) => receiver_chain(&r.expr),
        syn::Expr::Unary(u) if matches!(u.op, syn::UnOp::Deref(_)) => receiver_chain(&u.expr),
        syn::Expr::Paren(p) => receiver_chain(&p.expr),
        _ => None,
    }
}

/// A type with `Arc`/`Rc`/`Box` (and a `&`) peeled off.
fn peeled(ty: &syn::Type) -> &syn::Type {
    match ty {
        syn::Type::Reference(r) => peeled(&r.elem),
        syn::Type::Path(p) => {
            let Some(last) = p.path.segments.last() else {
                return ty;
            };
            if matches!(last.ident.to_string().as_str(), "Arc" | "Rc" | "Box")
                && let syn::PathArguments::AngleBracketed(a) = &last.arguments
                && let Some(syn::GenericArgument::Type(inner)) = a.args.first()
            {
                return peeled(inner);
            }
            ty
        }
        _ => ty,
    }
}

/// The workspace type a value of type `ty` (written in `module`) has after
/// the field accesses `fields` (`state.auth` of `State<ApiState>`), each
/// step a struct field of a workspace type; `None` where one is not.
fn field_type<'w>(
    ctx: &Ctx<'_, 'w>,
    mut module: ModId,
    mut ty: &'w syn::Type,
    fields: &[String],
) -> Option<Item> {
    let mut item = None;
    for step in 0..=fields.len() {
        let syn::Type::Path(p) = peeled(ty) else {
            return None;
        };
        let found @ Item::Type(m_def, _) = ctx.syms.resolve(module, &p.path)? else {
            return None;
        };
        module = m_def;
        item = Some(found.clone());
        let Some(field) = fields.get(step) else { break };
        let Some(syn::Item::Struct(def)) = ctx.type_def(&found) else {
            return None;
        };
        ty = &def
            .fields
            .iter()
            .find(|f| f.ident.as_ref().is_some_and(|i| i == field))?
            .ty;
    }
    item
}

/// The workspace type a handler argument binding has: `x: T`, or
/// `State(x): State<T>` / `Extension(x): Extension<T>`.
fn binding_type<'w>(h: &HandlerCode<'w>, name: &str) -> Option<&'w syn::Type> {
    h.args.iter().find_map(|(pat, ty)| match pat {
        syn::Pat::Ident(i) if i.ident == name => Some(*ty),
        syn::Pat::TupleStruct(t)
            if t.elems.len() == 1
                && matches!(t.elems.first(), Some(syn::Pat::Ident(i)) if i.ident == name) =>
        {
            let syn::Type::Path(p) = ty else { return None };
            let last = p.path.segments.last()?;
            let syn::PathArguments::AngleBracketed(a) = &last.arguments else {
                return None;
            };
            match a.args.first()? {
                syn::GenericArgument::Type(inner) => Some(inner),
                _ => None,
            }
        }
        _ => None,
    })
}

/// An in-body guard that is a method call on a handler argument
/// (`state.auth.check(&headers)?`): the receiver's type is followed
/// through the argument's type and the struct fields named (peeling
/// `Arc`/`Rc`/`Box`), and the method is the workspace impl fn of that type
/// (in the type's module); it guards if it short-circuits and the method
/// (2 levels of calls) rejects or reads credentials. A receiver whose type
/// cannot be followed is not guessed from the method's name.
fn method_guard(ctx: &Ctx<'_, '_>, h: &HandlerCode<'_>) -> Option<BodyGuard> {
    let mut g = Guards::default();
    h.body.code.visit(&mut g);
    for (expr, how) in &g.exprs {
        let mut ms = MethodCalls(Vec::new());
        ms.visit_expr(expr);
        for m in ms.0 {
            let Some((root, fields)) = receiver_chain(&m.receiver) else {
                continue;
            };
            let Some(ty) = binding_type(h, &root) else {
                continue;
            };
            let Some(Item::Type(m_def, name)) = field_type(ctx, h.body.module, ty, &fields) else {
                continue;
            };
            let method = m.method.to_string();
            // A service's `create_grant_session(..)?` or `signin(..)?`
            // makes the caller's credentials; it checks none. A lookup of
            // what the URL names (`state.store.get(&id)`) reads none.
            let args: Vec<&syn::Expr> = m.args.iter().collect();
            if makes_credentials(&method)
                || addressed_only(
                    &h.body,
                    &args,
                    &addressed_bindings(h),
                    &arg_bindings(h, "State"),
                )
            {
                continue;
            }
            if ctx.syms.impl_fn(m_def, &name, &method).is_none() {
                continue;
            }
            let Some(callee) = code::body_of(ctx, &Item::ImplFn(m_def, name.clone(), method))
            else {
                continue;
            };
            let anon = lets_anonymous(&callee);
            let text: String = reach(ctx, callee, 2)
                .iter()
                .map(|(b, _)| b.code.text())
                .collect::<Vec<_>>()
                .join("\n");
            if reads_credentials(&text).is_some() || code::rejects_unauthenticated(&text) {
                let recv = std::iter::once(root.clone())
                    .chain(fields.iter().cloned())
                    .collect::<Vec<_>>()
                    .join(".");
                let q = if *how == "?" { "?" } else { "" };
                let shown = format!("`{recv}.{}(..){q}` (`{name}::{}`)", m.method, m.method);
                // A check that configuration switches off guards only
                // when it is configured.
                if let Some(why) = switch::switch_in(ctx, m_def, &name, &m.method.to_string()) {
                    return Some(BodyGuard::Delegated(format!(
                        "in-body check {shown}, but {why}: it guards only where that is configured"
                    )));
                }
                return Some(g.check(expr, anon, &shown));
            }
        }
    }
    None
}

/// The first call of a handler body handed one of the optional-identity
/// bindings as an argument (`get_tokens(&auth_data)`), as (binding, call
/// name): not a method called on the identity itself
/// (`auth_data.create_expired_id_cookie()`), not a constructor (`Ok(user)`,
/// `Json(user)`).
fn handed_identity(body: &Body<'_>, optional: &[String]) -> Option<(String, String)> {
    if optional.is_empty() {
        return None;
    }
    code::calls(body.code).into_iter().find_map(|c| {
        if c.name.starts_with(|ch: char| ch.is_uppercase()) {
            return None;
        }
        c.args.iter().find_map(|a| {
            let (root, fields) = receiver_chain(a)?;
            (fields.is_empty() && optional.contains(&root)).then(|| (root, c.name.clone()))
        })
    })
}

/// Whether a text uses a name as a whole identifier.
fn mentions(text: &str, name: &str) -> bool {
    text.match_indices(name).any(|(at, _)| {
        let ident = |c: char| c.is_alphanumeric() || c == '_';
        !text[..at].chars().next_back().is_some_and(ident)
            && !text[at + name.len()..].chars().next().is_some_and(ident)
    })
}

fn short(t: &str) -> String {
    if t.chars().count() > 60 {
        format!("{}…", t.chars().take(60).collect::<String>())
    } else {
        t.to_owned()
    }
}

/// The handler's code and arguments, where it is readable.
pub(crate) struct HandlerCode<'w> {
    /// Its body.
    pub(crate) body: Body<'w>,
    /// Its arguments (pattern, type).
    pub(crate) args: Vec<(&'w syn::Pat, &'w syn::Type)>,
    /// Its name as shown.
    pub(crate) name: String,
}

/// The code of an endpoint's handler: a workspace fn or an inline closure.
pub(crate) fn handler_code<'w>(ctx: &Ctx<'_, 'w>, i: usize) -> Option<HandlerCode<'w>> {
    let ep = ctx.endpoints[i];
    match &ep.handler {
        Handler::Resolved(item) => {
            let body = code::body_of(ctx, item)?;
            let f = ctx.function(item)?;
            let args = f
                .sig
                .inputs
                .iter()
                .filter_map(|a| match a {
                    syn::FnArg::Typed(t) => Some((&*t.pat, &*t.ty)),
                    syn::FnArg::Receiver(_) => None,
                })
                .collect();
            Some(HandlerCode {
                body,
                args,
                name: f.sig.ident.to_string(),
            })
        }
        Handler::Closure => {
            let c = code::closure_at(ctx, ep.module, ep.line)?;
            let args = c
                .inputs
                .iter()
                .filter_map(|p| match p {
                    syn::Pat::Type(t) => Some((&*t.pat, &*t.ty)),
                    _ => None,
                })
                .collect();
            Some(HandlerCode {
                body: Body {
                    module: ep.module,
                    self_ty: None,
                    code: Code::Expr(&c.body),
                },
                args,
                name: "<closure>".to_owned(),
            })
        }
        _ => None,
    }
}

struct Judged {
    verdict: Verdict,
    reason: String,
    finding: Option<(Severity, String)>,
}

fn judge(ctx: &Ctx<'_, '_>, i: usize) -> Judged {
    let ep = ctx.endpoints[i];
    let route = format!("{} {}", ep.method, ep.path);
    if let Handler::Resolved(item) = &ep.handler
        && let Some(d) = crate::secure::declared(ctx.syms, item)
    {
        if d.access == "public" {
            return Judged {
                verdict: Verdict::Unguarded,
                reason: format!("declared public: {}", d.public_reason.unwrap_or_default()),
                finding: None,
            };
        }
        if d.access == "auth" || !d.owner.is_empty() {
            return Judged {
                verdict: Verdict::Guarded,
                reason: "declared: #[secure_route(auth)]".to_owned(),
                finding: None,
            };
        }
    }
    // Layers.
    let mut conditional = None;
    let mut maybe = Vec::new();
    let mut auth_layer = None;
    let mut exempted = Vec::new();
    for layer in &ep.layers {
        let auth = match layer_auth(ctx, layer) {
            LayerAuth::Auth(why) => match exemption(ctx, layer, &ep.path) {
                Exempt::None => LayerAuth::Auth(why),
                Exempt::This(lit) => {
                    exempted.push(format!(
                        "auth layer `{}` lets `{lit}` through before it checks anyone",
                        layer.text
                    ));
                    LayerAuth::No
                }
                Exempt::Unread(how) => LayerAuth::Maybe(format!(
                    "auth layer `{}`: {why}, but {how}: whether it lets this route's caller through without credentials is not known",
                    layer.text
                )),
            },
            // A middleware that is off by configuration and also lets this
            // path through: the path's exemption holds either way.
            LayerAuth::Maybe(why) => match exemption(ctx, layer, &ep.path) {
                Exempt::This(lit) => {
                    exempted.push(format!(
                        "auth layer `{}` lets `{lit}` through before it checks anyone",
                        layer.text
                    ));
                    LayerAuth::No
                }
                _ => LayerAuth::Maybe(why),
            },
            other => other,
        };
        match auth {
            LayerAuth::Auth(why) => match &layer.condition {
                Some(c) => {
                    conditional.get_or_insert((c.clone(), layer.text.clone(), why));
                }
                None => {
                    auth_layer.get_or_insert(format!("auth layer `{}`: {why}", layer.text));
                }
            },
            LayerAuth::Maybe(why) => maybe.push(why),
            LayerAuth::No => {}
        }
    }
    if let Some(reason) = &auth_layer {
        // Still note an extractor-free guard: the layer is enough.
        return Judged {
            verdict: Verdict::Guarded,
            reason: reason.clone(),
            finding: None,
        };
    }
    let handler = handler_code(ctx, i);
    let mut notes = Vec::new();
    let mut optional = Vec::new();
    if let Some(h) = &handler {
        let body_text = h.body.code.text();
        for (pat, ty) in &h.args {
            match extractor(
                ctx,
                h.body.module,
                pat,
                ty,
                &body_text,
                conditional.is_some(),
            ) {
                Ext::Guarded(why) => {
                    return Judged {
                        verdict: Verdict::Guarded,
                        reason: why,
                        finding: None,
                    };
                }
                Ext::Unknown(why) => maybe.push(why),
                Ext::Optional(why) => {
                    bindings(pat, &mut optional);
                    notes.push(why);
                }
                Ext::Never(why) => notes.push(why),
                Ext::NotAuth => {}
            }
        }
        // A handler that takes nothing from the request but state has
        // nothing of the caller's to check: a call in it that mentions
        // tokens makes them (`Identity::alloc(&ctx)` minting a JWT).
        let request_free = h
            .args
            .iter()
            .all(|(_, ty)| type_head(ty).is_some_and(|(_, n, _)| n == "State"));
        let guard = if request_free {
            None
        } else {
            let state = arg_bindings(h, "State");
            let path = addressed_bindings(h);
            match body_guard(ctx, &h.body, &state, &path) {
                Some(BodyGuard::Checks(why)) => Some(BodyGuard::Checks(why)),
                // A workspace method it calls may still be the check.
                delegated => method_guard(ctx, h).or(delegated),
            }
        };
        let guard = match guard {
            Some(BodyGuard::Delegated(why)) => {
                maybe.push(why);
                None
            }
            Some(BodyGuard::Checks(why)) => Some(why),
            None => None,
        };
        if let Some(why) = guard {
            // A check handed an identity that may be absent decides by a
            // policy this reader does not evaluate (torrust-index's
            // `authorize(ACTION::GetTorrent, maybe_user_id)` lets guests
            // through): it may or may not refuse an anonymous caller.
            if let Some(id) = optional.iter().find(|b| mentions(&body_text, b)) {
                return Judged {
                    verdict: Verdict::Unknown,
                    reason: format!(
                        "{why}, given the optional identity `{id}`: whether it refuses an anonymous caller depends on that check"
                    ),
                    finding: None,
                };
            }
            return Judged {
                verdict: Verdict::Guarded,
                reason: why,
                finding: None,
            };
        }
        // An identity that never refuses, handed on to a fn (cratery's
        // `state.application.get_tokens(&auth_data)`, whose
        // `self.authenticate(auth_data).await?` sits in a closure this
        // reader does not follow): the check, if any, is in that call.
        if let Some((id, call)) = handed_identity(&h.body, &optional) {
            maybe.push(format!(
                "the optional identity `{id}` is handed to `{call}(..)`, whose check of it is not read: whether it refuses an anonymous caller is not known"
            ));
        }
    }
    if let Some((cond, text, why)) = conditional {
        return Judged {
            verdict: Verdict::Unknown,
            reason: format!("auth layer only if {cond} (`{text}`: {why})"),
            finding: Some((
                Severity::Low,
                format!(
                    "{route}: authenticated only if {cond} (auth layer `{text}` is added under that condition)"
                ),
            )),
        };
    }
    if !maybe.is_empty() {
        return Judged {
            verdict: Verdict::Unknown,
            reason: maybe.join("; "),
            finding: None,
        };
    }
    let Some(h) = handler else {
        let what = match &ep.handler {
            Handler::Service(s) => format!("service `{s}` and no auth layer wraps it"),
            Handler::Closure => "inline closure not read and no auth layer wraps it".to_owned(),
            Handler::Unknown(r) => format!("handler not resolved ({r}) and no auth layer wraps it"),
            Handler::Resolved(_) => {
                "handler body not readable and no auth layer wraps it".to_owned()
            }
        };
        return Judged {
            verdict: Verdict::Unknown,
            reason: what,
            finding: None,
        };
    };
    let sev = severity(ep, super::input::common::mutating(ctx, i));
    let mut reason = format!(
        "no auth extractor in `{}`, no auth layer before the route, no guard call in its body",
        h.name
    );
    for e in &exempted {
        reason.push_str("; ");
        reason.push_str(e);
    }
    for n in &notes {
        reason.push_str("; ");
        reason.push_str(n);
    }
    let message = if is_login_path(&ep.path) {
        format!("{route}: no authentication ({reason}); public by nature; check it is rate limited")
    } else {
        format!("{route}: no authentication ({reason})")
    };
    Judged {
        verdict: Verdict::Unguarded,
        reason,
        finding: Some((sev, message)),
    }
}

pub(crate) fn run(ctx: &Ctx<'_, '_>, out: &mut Results) {
    for i in 0..ctx.endpoints.len() {
        let j = judge(ctx, i);
        out.verdict(i, RULE, j.verdict, j.reason);
        if let Some((sev, message)) = j.finding {
            out.finding(ctx.endpoint_finding(i, RULE, sev, message));
        }
    }
}
