//! GA-LAYER-012: a layer that does not wrap the routes it looks meant to
//! guard. axum's `Router::layer` / `route_layer` wrap only the routes added
//! **before** the call; a `route_layer` on a router with no route yet makes
//! axum panic at startup.

use std::collections::HashSet;

use super::Ctx;
use crate::findings::{Finding, Location, Results, Severity, Verdict};
use crate::routes::LayerCall;

const RULE: &str = "GA-LAYER-012";

/// Words that say a layer guards (authentication, sessions, limits).
const GUARD_WORDS: [&str; 13] = [
    "auth",
    "login",
    "session",
    "jwt",
    "guard",
    "require",
    "governor",
    "ratelimit",
    "rate_limit",
    "ratelimiter",
    "validaterequestheader",
    "requireauthorization",
    "limiter",
];

/// Paths that are public on purpose and so sit after an auth layer.
const PUBLIC_WORDS: [&str; 8] = [
    "login", "logout", "register", "signup", "health", "public", "static", "assets",
];

fn guard_like(call: &LayerCall) -> bool {
    let t = call.layer.text.to_ascii_lowercase();
    GUARD_WORDS.iter().any(|w| t.contains(w))
}

/// The first static segment of a path (`/api/users/{id}` → `api`).
fn first_segment(path: &str) -> Option<&str> {
    let seg = path.split('/').find(|s| !s.is_empty())?;
    (!seg.starts_with('{') && !seg.starts_with(':') && !seg.starts_with('*')).then_some(seg)
}

/// The routes added after `call` that look meant to be covered by it.
fn missed(call: &LayerCall) -> Vec<&(String, String)> {
    let real = |(_, p): &&(String, String)| !p.starts_with('(');
    if call.covered.iter().filter(real).count() == 0 {
        return call.after.iter().filter(real).collect();
    }
    call.after
        .iter()
        .filter(real)
        .filter(|(_, p)| {
            let lower = p.to_ascii_lowercase();
            !PUBLIC_WORDS.iter().any(|w| lower.contains(w))
                && first_segment(p).is_some_and(|seg| {
                    call.covered
                        .iter()
                        .any(|(_, c)| first_segment(c) == Some(seg))
                })
        })
        .collect()
}

fn shown(routes: &[&(String, String)]) -> String {
    routes
        .iter()
        .map(|(m, p)| format!("{m} {p}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn run(ctx: &Ctx<'_, '_>, out: &mut Results) {
    // A router fn used by two roots has its layer calls in both: one
    // finding per call site, a verdict in each root.
    let mut reported = HashSet::new();
    for (root, r) in ctx.roots.iter().enumerate() {
        for call in &r.layer_calls {
            let kind = if call.route_layer {
                "route_layer"
            } else {
                "layer"
            };
            let empty = call.covered.is_empty();
            let panics = call.route_layer && empty;
            let missed = if guard_like(call) {
                missed(call)
            } else {
                Vec::new()
            };
            if !panics && missed.is_empty() {
                continue;
            }
            let mut message = format!("`.{kind}({})`", call.layer.text);
            if empty {
                message.push_str(" wraps no route: it comes before every route of its router");
            } else {
                message.push_str(&format!(
                    " wraps only the {} route(s) added before it",
                    call.covered.len()
                ));
            }
            if !missed.is_empty() {
                message.push_str(&format!(
                    "; not covered: {} (axum layers wrap only routes added before the call; \
                     move the layer after them)",
                    shown(&missed)
                ));
            }
            if panics {
                message.push_str(
                    "; axum panics at startup when `route_layer` is called on a router with \
                     no routes yet (documented on `Router::route_layer`)",
                );
            }
            if reported.insert((call.layer.module, call.layer.line)) {
                out.finding(Finding {
                    rule: RULE,
                    severity: Severity::High,
                    message,
                    location: Location {
                        file: ctx.file(call.layer.module).to_path_buf(),
                        line: call.layer.line,
                        column: 1,
                    },
                    endpoint: None,
                    suppressed: None,
                });
            }
            for (m, p) in missed {
                for (i, ep) in ctx.endpoints.iter().enumerate() {
                    if ctx.endpoint_root[i] == root && (&ep.method, &ep.path) == (m, p) {
                        out.verdict(
                            i,
                            RULE,
                            Verdict::Unguarded,
                            format!(
                                "`.{kind}({})` at line {} is registered before this route \
                                 and does not wrap it",
                                call.layer.text, call.layer.line
                            ),
                        );
                    }
                }
            }
        }
    }
}
