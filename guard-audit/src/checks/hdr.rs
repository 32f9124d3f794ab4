//! GA-HDR-011: which security headers the layers of each endpoint set
//! (tower-http `SetResponseHeaderLayer`, a helmet layer, a middleware fn
//! that inserts them, or `GuardedRouter`). One finding per router root.

use super::Ctx;
use super::input::common::{fn_at, layer_tokens, route, text};
use crate::findings::{Finding, Results, Severity, Verdict};
use crate::routes::Handler;

const RULE: &str = "GA-HDR-011";

const HEADERS: [(&str, &str); 4] = [
    ("strict-transport-security", "HSTS"),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "X-Frame-Options"),
    ("content-security-policy", "CSP"),
];

/// The headers set (by index into [`HEADERS`]) and the opaque layers that
/// look like they might set some.
fn headers(ctx: &Ctx<'_, '_>, endpoint: usize) -> ([bool; 4], Vec<String>, Option<&'static str>) {
    let ep = ctx.endpoints[endpoint];
    let mut set = [false; 4];
    let mut opaque = Vec::new();
    // A `GuardedRouter` routes only `#[secure_route]` handlers (and the
    // services it mounts); a plain fn or a closure in the same fn is on a
    // plain router beside it, which its headers do not cover.
    let on_guarded_router = match &ep.handler {
        Handler::Resolved(item) => crate::secure::declared(ctx.syms, item).is_some(),
        Handler::Closure => false,
        _ => true,
    };
    if on_guarded_router
        && fn_at(ctx, ep.module, ep.line).is_some_and(|f| text(f.block).contains("GuardedRouter"))
    {
        return ([true; 4], opaque, Some("GuardedRouter"));
    }
    for layer in &ep.layers {
        let t = text(&layer_tokens(ctx, layer))
            .to_ascii_lowercase()
            .replace('_', "-");
        if t.contains("helmet") {
            return ([true; 4], opaque, Some("a helmet layer"));
        }
        let mut any = false;
        for (k, (name, _)) in HEADERS.iter().enumerate() {
            if t.contains(name) {
                set[k] = true;
                any = true;
            }
        }
        let shown = layer.text.to_ascii_lowercase();
        if !any && (shown.contains("header") || shown.contains("security")) {
            opaque.push(layer.shown());
        }
    }
    (set, opaque, None)
}

fn list(set: &[bool; 4], want: bool) -> String {
    HEADERS
        .iter()
        .zip(set)
        .filter(|(_, s)| **s == want)
        .map(|((_, n), _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn run(ctx: &Ctx<'_, '_>, out: &mut Results) {
    // Per root: (first endpoint, worst endpoint's missing list, none at all?, count).
    let mut per_root: Vec<Option<(usize, [bool; 4], usize)>> = vec![None; ctx.roots.len()];
    for i in 0..ctx.endpoints.len() {
        let (set, opaque, all) = headers(ctx, i);
        if let Some(by) = all {
            out.verdict(
                i,
                RULE,
                Verdict::Guarded,
                format!("all security headers ({by})"),
            );
            continue;
        }
        let guarded = set[0] && set[1] && (set[2] || set[3]);
        if guarded {
            out.verdict(
                i,
                RULE,
                Verdict::Guarded,
                format!("sets {}", list(&set, true)),
            );
            continue;
        }
        if !opaque.is_empty() {
            out.verdict(
                i,
                RULE,
                Verdict::Unknown,
                format!(
                    "layer(s) {} may set headers the scan cannot see",
                    opaque.join(", ")
                ),
            );
            continue;
        }
        let missing = list(&set, false);
        out.verdict(i, RULE, Verdict::Unguarded, format!("missing {missing}"));
        let root = ctx.endpoint_root[i];
        let fewer = |s: &[bool; 4]| s.iter().filter(|x| **x).count();
        per_root[root] = Some(match per_root[root] {
            None => (i, set, 1),
            Some((first, worst, n)) => (
                first,
                if fewer(&set) < fewer(&worst) {
                    set
                } else {
                    worst
                },
                n + 1,
            ),
        });
    }
    for (root, entry) in per_root.into_iter().enumerate() {
        let Some((first, worst, n)) = entry else {
            continue;
        };
        let none = worst.iter().all(|s| !s);
        let msg = format!(
            "router `{}`: {n} endpoint(s) answer without {} (e.g. {}){}",
            ctx.roots[root].function,
            list(&worst, false),
            route(ctx, first),
            if none {
                "; no security header is set at all"
            } else {
                ""
            }
        );
        let sev = if none {
            Severity::Medium
        } else {
            Severity::Low
        };
        out.finding(Finding {
            location: ctx.endpoint_location(first),
            endpoint: None,
            ..ctx.endpoint_finding(first, RULE, sev, msg)
        });
    }
}
