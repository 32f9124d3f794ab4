//! GA-RATE-010: login, signup, reset, token, upload and expensive routes
//! (an outbound HTTP client or an LLM call) with no rate limit; and one
//! workspace-level note when no limiter is used anywhere.

use super::Ctx;
use super::auth::code::{self, reach, type_head};
use super::auth::handler_code;
use crate::findings::{Finding, Results, Severity, Verdict};
use crate::routes::Handler;

const RULE: &str = "GA-RATE-010";

/// Why a route needs a limit, and how bad its absence is.
fn kind(method: &str, path: &str) -> Option<(&'static str, Severity)> {
    let p = path.to_ascii_lowercase();
    let has = |ws: &[&str]| ws.iter().any(|w| p.contains(w));
    let read = matches!(method, "GET" | "HEAD");
    // `reset` alone is not a password reset (fedimint's
    // `META_RESET_ROUTE`, `RESET_SETUP_CODES_ROUTE`).
    if has(&["forgot", "password", "passwd"]) && !read {
        Some(("password reset/change", Severity::High))
    } else if has(&["login", "signin", "sign_in", "sign-in", "logon"]) && !read {
        Some(("login", Severity::High))
    } else if has(&["signup", "sign_up", "sign-up", "register"]) && !read {
        Some(("signup", Severity::Medium))
    } else if has(&["token", "otp", "verify", "2fa", "mfa", "totp"]) {
        Some(("token/verification", Severity::Medium))
    } else if has(&["upload"]) && !read {
        Some(("upload", Severity::Medium))
    } else {
        None
    }
}

const LIMITERS: &[&str] = &[
    "GovernorLayer",
    "tower_governor",
    "RateLimitLayer",
    "RateLimit",
];

fn expensive(text: &str) -> Option<&'static str> {
    let lower = text.to_ascii_lowercase();
    [
        ("reqwest", "an outbound HTTP request (reqwest)"),
        ("hyper::client", "an outbound HTTP request (hyper client)"),
        (
            "hyper_util::client",
            "an outbound HTTP request (hyper client)",
        ),
        ("openai", "an LLM call (openai)"),
        ("anthropic", "an LLM call (anthropic)"),
        ("completion", "an LLM completion call"),
        ("embedding", "an embedding call"),
    ]
    .into_iter()
    .find(|(w, _)| lower.contains(w))
    .map(|(_, what)| what)
}

/// Whether any limiter is used anywhere in the workspace.
fn workspace_has_limiter(ctx: &Ctx<'_, '_>) -> bool {
    ctx.ws.modules.iter().any(|m| {
        m.items.iter().any(|it| {
            let t = code::text(it);
            t.contains("governor")
                || t.contains("RateLimitLayer")
                || t.contains("secure_route") && t.contains("rate")
        })
    })
}

pub(crate) fn run(ctx: &Ctx<'_, '_>, out: &mut Results) {
    for i in 0..ctx.endpoints.len() {
        let ep = ctx.endpoints[i];
        let route = format!("{} {}", ep.method, ep.path);
        let h = handler_code(ctx, i);
        let reached = h
            .as_ref()
            .map(|h| {
                reach(ctx, h.body.clone(), 2)
                    .iter()
                    .map(|(b, _)| b.code.text())
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default();
        let multipart = h.as_ref().is_some_and(|h| {
            h.args
                .iter()
                .any(|(_, t)| type_head(t).is_some_and(|(_, n, _)| n == "Multipart"))
        });
        let why = match kind(&ep.method, &ep.path) {
            Some(k) => k,
            None if multipart => ("upload", Severity::Medium),
            None => match expensive(&reached) {
                Some(_) => ("expensive", Severity::Medium),
                None => continue,
            },
        };
        let what = match why.0 {
            "expensive" => expensive(&reached)
                .unwrap_or("an expensive call")
                .to_owned(),
            k => format!("a {k} route"),
        };
        // Declared rates.
        if let Handler::Resolved(item) = &ep.handler
            && let Some(d) = crate::secure::declared(ctx.syms, item)
            && let Some(r) = d.rates.first()
        {
            out.verdict(
                i,
                RULE,
                Verdict::Guarded,
                format!("declared: #[secure_route({} = \"{}\")]", r.kind, r.spec),
            );
            continue;
        }
        if let Some(l) = ep
            .layers
            .iter()
            .find(|l| LIMITERS.iter().any(|n| l.text.contains(n)))
        {
            let reason = format!("rate limit layer `{}`", l.text);
            match &l.condition {
                Some(c) => {
                    out.verdict(i, RULE, Verdict::Unknown, format!("{reason} only if {c}"));
                }
                None => out.verdict(i, RULE, Verdict::Guarded, reason),
            }
            continue;
        }
        let in_body = h.as_ref().and_then(|h| {
            code::calls(h.body.code)
                .into_iter()
                .find(|c| {
                    c.name.contains("rate_limit")
                        || c.name.contains("throttle")
                        || (c.name == "check" || c.name == "check_key") && c.path.is_none()
                })
                .map(|c| c.name)
        });
        if let Some(name) = in_body {
            out.verdict(
                i,
                RULE,
                Verdict::Guarded,
                format!("in-body limiter call `{name}(..)`"),
            );
            continue;
        }
        if let Some(l) = ep
            .layers
            .iter()
            .find(|l| l.text.contains("ConcurrencyLimit"))
        {
            out.verdict(
                i,
                RULE,
                Verdict::Unknown,
                format!("`{}`: a concurrency limit is not a rate limit", l.text),
            );
            continue;
        }
        if let Some(l) = ep.layers.iter().find(|l| {
            let t = l.text.to_ascii_lowercase();
            t.contains("limit") && !t.contains("bodylimit") && !t.contains("body_limit")
                || t.contains("throttle")
        }) {
            out.verdict(
                i,
                RULE,
                Verdict::Unknown,
                format!("opaque layer `{}` may limit the rate", l.text),
            );
            continue;
        }
        let reason = format!(
            "{what} with no rate limit (no governor/RateLimit layer, no `rate =` in #[secure_route], no limiter call in its body)"
        );
        out.verdict(i, RULE, Verdict::Unguarded, reason.clone());
        out.finding(ctx.endpoint_finding(i, RULE, why.1, format!("{route}: {reason}")));
    }
    if !ctx.endpoints.is_empty() && !workspace_has_limiter(ctx) {
        out.finding(Finding {
            rule: RULE,
            severity: Severity::Low,
            message: "no rate limiter anywhere in the workspace (no governor, tower_governor, RateLimitLayer or `#[secure_route(rate = ...)]`)".to_owned(),
            location: ctx.endpoint_location(0),
            endpoint: None,
            suppressed: None,
        });
    }
}
