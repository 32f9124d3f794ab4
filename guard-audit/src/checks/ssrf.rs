//! GA-SSRF-006: an outbound request (reqwest, a client's `.get/.post/..`,
//! `.request(..)`, `TcpStream::connect`) whose URL derives from request
//! data, in the handler or in workspace fns it passes the data to.

use std::collections::{HashMap, HashSet};

use super::input::common::{
    args, block_expr, calls, handler_or_reason, lets, mentions, pat_idents, receiver,
    request_names, route, secure_route_has, taint, text,
};
use super::{Ctx, HandlerFn};
use crate::findings::{Finding, Location, Results, Severity, Verdict};
use crate::symbols::Item;

const RULE: &str = "GA-SSRF-006";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Derived from request data.
    Tainted,
    /// Request data passed through a fn the scan cannot read.
    Opaque,
    /// Built on a fixed `https://host/` prefix.
    Fixed,
}

/// Whether a string literal starts with a scheme and a host ending in `/`
/// before any placeholder (`https://api.example.com/v1/{}`).
fn fixed_literal(s: &str) -> bool {
    let Some(rest) = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
    else {
        return false;
    };
    let head = rest.split('{').next().unwrap_or_default();
    match head.find('/') {
        Some(slash) => slash > 0 && !head[..slash].contains('@'),
        None => false,
    }
}

fn first_literal(e: &syn::Expr) -> Option<String> {
    match e {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        }) => Some(s.value()),
        syn::Expr::Macro(m) => {
            let name = m.mac.path.segments.last()?.ident.to_string();
            if !matches!(name.as_str(), "format" | "concat") {
                return None;
            }
            let parsed: syn::punctuated::Punctuated<syn::Expr, syn::Token![,]> = m
                .mac
                .parse_body_with(syn::punctuated::Punctuated::parse_terminated)
                .ok()?;
            parsed.first().and_then(first_literal)
        }
        syn::Expr::Binary(b) if matches!(b.op, syn::BinOp::Add(_)) => first_literal(&b.left),
        syn::Expr::MethodCall(m)
            if matches!(
                m.method.to_string().as_str(),
                "to_string" | "to_owned" | "into"
            ) =>
        {
            first_literal(&m.receiver)
        }
        syn::Expr::Call(c) if text(&c.func).ends_with("String::from") => {
            c.args.first().and_then(first_literal)
        }
        syn::Expr::Reference(r) => first_literal(&r.expr),
        syn::Expr::Paren(r) => first_literal(&r.expr),
        _ => None,
    }
}

fn fixed(e: &syn::Expr) -> bool {
    first_literal(e).is_some_and(|s| fixed_literal(&s))
}

const TRANSPARENT: &[&str] = &[
    "clone",
    "to_string",
    "to_owned",
    "as_str",
    "as_ref",
    "trim",
    "parse",
    "unwrap",
    "expect",
    "join",
    "into",
    "borrow",
    "as_deref",
    "unwrap_or",
    "unwrap_or_default",
    "replace",
    "ok",
    "to_lowercase",
    "push_str",
    "uri",
    "url",
    "body",
    "header",
    "build",
    "get",
    "as_bytes",
    "trim_end_matches",
    "trim_start_matches",
    "map_err",
    "context",
];

/// Whether request data reaches `e`'s value only through a call the scan
/// cannot follow.
fn opaque(ctx: &Ctx<'_, '_>, h: &HandlerFn<'_>, e: &syn::Expr) -> bool {
    match e {
        syn::Expr::Try(t) => opaque(ctx, h, &t.expr),
        syn::Expr::Await(t) => opaque(ctx, h, &t.base),
        syn::Expr::Paren(t) => opaque(ctx, h, &t.expr),
        syn::Expr::Reference(t) => opaque(ctx, h, &t.expr),
        syn::Expr::MethodCall(m) => {
            if TRANSPARENT.contains(&m.method.to_string().as_str()) {
                opaque(ctx, h, &m.receiver)
            } else {
                true
            }
        }
        syn::Expr::Call(c) => {
            let f = text(&c.func);
            let known = [
                "Url::parse",
                "Uri::from_str",
                "String::from",
                "Some",
                "Ok",
                "Request::get",
                "Request::post",
                "Uri::try_from",
                "SocketAddr::from",
            ];
            if known
                .iter()
                .any(|k| f == *k || f.ends_with(&format!("::{k}")))
            {
                return false;
            }
            let syn::Expr::Path(p) = &*c.func else {
                return true;
            };
            !matches!(
                ctx.syms.resolve(h.module, &p.path),
                Some(Item::Fn(..) | Item::ImplFn(..))
            )
        }
        _ => false,
    }
}

/// What request data each name of a fn holds.
fn kinds(ctx: &Ctx<'_, '_>, h: &HandlerFn<'_>, seeds: &HashSet<String>) -> HashMap<String, Kind> {
    let mut k: HashMap<String, Kind> = seeds.iter().map(|s| (s.clone(), Kind::Tainted)).collect();
    for s in taint(h.block, seeds.clone(), &|_| false) {
        k.entry(s).or_insert(Kind::Tainted);
    }
    let bound = lets(h.block);
    for _ in 0..2 {
        for (name, init, _) in &bound {
            if seeds.contains(name) {
                continue;
            }
            let live: HashSet<String> = k.keys().cloned().collect();
            if !mentions(init, &live) {
                continue;
            }
            let kind = if fixed(init) {
                Kind::Fixed
            } else {
                let mut found = HashSet::new();
                super::input::common::idents(quote::ToTokens::to_token_stream(init), &mut found);
                let tainted = found.iter().any(|n| k.get(n) == Some(&Kind::Tainted));
                let opaque_in = found.iter().any(|n| k.get(n) == Some(&Kind::Opaque));
                if tainted && opaque(ctx, h, init) {
                    Kind::Opaque
                } else if tainted {
                    Kind::Tainted
                } else if opaque_in {
                    Kind::Opaque
                } else {
                    Kind::Fixed
                }
            };
            k.insert(name.clone(), kind);
        }
    }
    k
}

/// One outbound call.
struct Hit {
    verdict: Verdict,
    why: String,
    location: Location,
}

fn client_like(e: &syn::Expr) -> bool {
    let t = text(e).to_ascii_lowercase();
    (t.contains("client") || t.contains("reqwest") || t.contains("http")) && !t.contains("header")
}

fn scan_fn(
    ctx: &Ctx<'_, '_>,
    h: &HandlerFn<'_>,
    seeds: &HashSet<String>,
    depth: usize,
    hits: &mut Vec<Hit>,
) {
    let k = kinds(ctx, h, seeds);
    let body = block_expr(h.block);
    let mut callees = Vec::new();
    calls(&body, &mut |e, name, a| {
        let method = matches!(e, syn::Expr::MethodCall(_));
        let url = if method {
            let r = receiver(e);
            match name {
                "get" | "post" | "put" | "patch" | "delete" | "head"
                    if r.is_some_and(|r| {
                        client_like(r) || text(r).to_ascii_lowercase().contains("safe")
                    }) =>
                {
                    a.first().copied()
                }
                "request"
                    if r.is_some_and(|r| {
                        client_like(r) || text(r).to_ascii_lowercase().contains("safe")
                    }) =>
                {
                    a.last().copied()
                }
                _ => None,
            }
        } else if [
            "reqwest::get",
            "reqwest::blocking::get",
            "TcpStream::connect",
        ]
        .iter()
        .any(|s| name == *s || name.ends_with(&format!("::{s}")))
        {
            a.first().copied()
        } else {
            if let syn::Expr::Call(c) = e
                && let syn::Expr::Path(p) = &*c.func
                && let Some(item @ (Item::Fn(..) | Item::ImplFn(..))) =
                    ctx.syms.resolve(h.module, &p.path)
            {
                let live: HashSet<String> = k
                    .iter()
                    .filter(|(_, v)| **v != Kind::Fixed)
                    .map(|(n, _)| n.clone())
                    .collect();
                let passed: Vec<usize> = a
                    .iter()
                    .enumerate()
                    .filter(|(_, x)| mentions(**x, &live))
                    .map(|(i, _)| i)
                    .collect();
                if !passed.is_empty() {
                    callees.push((item, passed));
                }
            }
            None
        };
        let Some(url) = url else {
            return;
        };
        let location = ctx.location(h.module, e);
        let shown = text(e);
        let safe = receiver(e).is_some_and(|r| {
            text(r).contains("SafeClient") || text(r).to_ascii_lowercase().contains("safe")
        });
        let mut found = HashSet::new();
        super::input::common::idents(quote::ToTokens::to_token_stream(url), &mut found);
        let worst =
            found
                .iter()
                .filter_map(|n| k.get(n))
                .fold(None, |acc: Option<Kind>, v| match (acc, v) {
                    (Some(Kind::Tainted), _) | (_, Kind::Tainted) => Some(Kind::Tainted),
                    (Some(Kind::Opaque), _) | (_, Kind::Opaque) => Some(Kind::Opaque),
                    _ => Some(Kind::Fixed),
                });
        let (verdict, why) = if safe {
            (
                Verdict::Guarded,
                format!("`{shown}` goes through an SSRF-safe client"),
            )
        } else if fixed(url) {
            (
                Verdict::Guarded,
                format!("`{shown}`: fixed scheme and host"),
            )
        } else {
            match worst {
                Some(Kind::Tainted) => (
                    Verdict::Unguarded,
                    format!("`{shown}`: the URL comes from request data"),
                ),
                Some(Kind::Opaque) => (
                    Verdict::Unknown,
                    format!(
                        "`{shown}`: the URL comes from request data through a fn the scan cannot read"
                    ),
                ),
                Some(Kind::Fixed) => (
                    Verdict::Guarded,
                    format!("`{shown}`: URL built on a fixed host"),
                ),
                None => (
                    Verdict::Guarded,
                    format!("`{shown}`: URL not from request data"),
                ),
            }
        };
        hits.push(Hit {
            verdict,
            why,
            location,
        });
    });
    if depth >= 3 {
        return;
    }
    for (item, passed) in callees {
        let Some(f) = ctx.function(&item) else {
            continue;
        };
        let mut seeds = HashSet::new();
        for (i, arg) in args(f.sig).iter().enumerate() {
            if passed.contains(&i) {
                let mut names = Vec::new();
                pat_idents(arg.pat, &mut names);
                seeds.extend(names);
            }
        }
        scan_fn(ctx, &f, &seeds, depth + 1, hits);
    }
}

pub(crate) fn run(ctx: &Ctx<'_, '_>, out: &mut Results) {
    for i in 0..ctx.endpoints.len() {
        let Ok(h) = handler_or_reason(ctx, i) else {
            continue;
        };
        let mut seeds = HashSet::new();
        for a in args(h.sig) {
            if let Some((_, names)) = request_names(&a) {
                seeds.extend(names);
            }
        }
        let mut hits = Vec::new();
        scan_fn(ctx, &h, &seeds, 1, &mut hits);
        if hits.is_empty() {
            continue;
        }
        if secure_route_has(h.attrs, "fetch") {
            out.verdict(
                i,
                RULE,
                Verdict::Guarded,
                "#[secure_route(fetch ..)]: SSRF-safe client",
            );
            continue;
        }
        let r = route(ctx, i);
        let mut reasons = Vec::new();
        let mut worst = Verdict::Guarded;
        for hit in hits {
            match hit.verdict {
                Verdict::Unguarded => {
                    worst = Verdict::Unguarded;
                    out.finding(Finding {
                        location: hit.location,
                        ..ctx.endpoint_finding(
                            i,
                            RULE,
                            Severity::High,
                            format!("{r}: {} (server-side request forgery)", hit.why),
                        )
                    });
                }
                Verdict::Unknown if worst == Verdict::Guarded => worst = Verdict::Unknown,
                _ => {}
            }
            reasons.push(hit.why);
        }
        out.verdict(i, RULE, worst, reasons.join("; "));
    }
}
