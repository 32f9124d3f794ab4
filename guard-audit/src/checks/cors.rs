//! GA-CORS-004 (credentials with any or a mirrored origin) and GA-CORS-005
//! (any origin): reads each tower-http `CorsLayer` wrapping an endpoint,
//! following a local binding or a workspace fn that returns it.

use std::collections::HashMap;

use proc_macro2::TokenTree;
use quote::ToTokens;

use super::input::common::{definition, fn_at, text};
use super::{Ctx, HandlerFn};
use crate::findings::{Finding, Location, Results, Severity, Verdict};
use crate::symbols::ModId;

const CRED: &str = "GA-CORS-004";
const ANY: &str = "GA-CORS-005";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Origin {
    /// `CorsLayer::new()` with no `allow_origin`: no origin is allowed.
    None,
    Any,
    Mirror,
    Predicate,
    Exact(Vec<String>),
    Unknown(String),
}

#[derive(Debug, Clone)]
struct Cors {
    origin: Origin,
    /// `Some(true)` for `allow_credentials(true)`, `None` when not literal.
    creds: Option<bool>,
    ctor: &'static str,
}

/// Where to read names in.
#[derive(Clone, Copy)]
struct At<'w> {
    module: ModId,
    scope: Option<HandlerFn<'w>>,
    line: usize,
}

fn peel(e: &syn::Expr) -> &syn::Expr {
    match e {
        syn::Expr::Paren(p) => peel(&p.expr),
        syn::Expr::Reference(p) => peel(&p.expr),
        syn::Expr::Group(p) => peel(&p.expr),
        _ => e,
    }
}

fn cors_of<'w>(ctx: &Ctx<'_, 'w>, at: At<'w>, e: &syn::Expr, depth: usize) -> Option<Cors> {
    if depth > 8 {
        return None;
    }
    let e = peel(e);
    match e {
        syn::Expr::MethodCall(m) => {
            let method = m.method.to_string();
            let base = cors_of(ctx, at, &m.receiver, depth + 1);
            let Some(mut c) = base else {
                // `ServiceBuilder::new().layer(cors)`.
                if method == "layer" {
                    return m.args.first().and_then(|a| cors_of(ctx, at, a, depth + 1));
                }
                return None;
            };
            let arg = m.args.first();
            match (method.as_str(), arg) {
                ("allow_origin", Some(a)) => c.origin = origin(ctx, at, a, depth + 1),
                ("allow_credentials", Some(a)) => {
                    c.creds = match text(a).as_str() {
                        "true" => Some(true),
                        "false" => Some(false),
                        _ => None,
                    }
                }
                _ => {}
            }
            Some(c)
        }
        syn::Expr::Call(c) => {
            let f = text(&c.func);
            let ctor = |origin, creds, ctor| {
                Some(Cors {
                    origin,
                    creds: Some(creds),
                    ctor,
                })
            };
            if f.ends_with("CorsLayer::new") || f.ends_with("CorsLayer::default") {
                return ctor(Origin::None, false, "CorsLayer::new()");
            }
            if f.ends_with("CorsLayer::permissive") {
                return ctor(Origin::Any, false, "CorsLayer::permissive()");
            }
            if f.ends_with("CorsLayer::very_permissive") {
                return ctor(Origin::Mirror, true, "CorsLayer::very_permissive()");
            }
            let (d, m, s, l) = definition(ctx, at.module, at.scope, e, at.line)?;
            cors_of(
                ctx,
                At {
                    module: m,
                    scope: s,
                    line: l,
                },
                &d,
                depth + 1,
            )
        }
        syn::Expr::Path(_) => {
            let (d, m, s, l) = definition(ctx, at.module, at.scope, e, at.line)?;
            cors_of(
                ctx,
                At {
                    module: m,
                    scope: s,
                    line: l,
                },
                &d,
                depth + 1,
            )
        }
        syn::Expr::Block(b) => match b.block.stmts.last()? {
            syn::Stmt::Expr(t, None) => cors_of(ctx, at, t, depth + 1),
            _ => None,
        },
        _ => None,
    }
}

fn literals(e: &impl ToTokens) -> Vec<String> {
    fn walk(ts: proc_macro2::TokenStream, out: &mut Vec<String>) {
        for tt in ts {
            match tt {
                TokenTree::Literal(l) => {
                    if let Ok(syn::Lit::Str(s)) = syn::parse_str::<syn::Lit>(&l.to_string()) {
                        out.push(s.value());
                    }
                }
                TokenTree::Group(g) => walk(g.stream(), out),
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    walk(e.to_token_stream(), &mut out);
    out
}

fn origin<'w>(ctx: &Ctx<'_, 'w>, at: At<'w>, a: &syn::Expr, depth: usize) -> Origin {
    let t = text(a);
    let lits = literals(a);
    if t == "Any"
        || t.ends_with("::Any")
        || t.contains("AllowOrigin::any()")
        || lits.iter().any(|l| l == "*")
    {
        return Origin::Any;
    }
    if t.contains("mirror_request") {
        return Origin::Mirror;
    }
    if t.contains("predicate(") {
        return Origin::Predicate;
    }
    if depth < 8
        && matches!(peel(a), syn::Expr::Path(_) | syn::Expr::Call(_))
        && let Some((d, m, s, l)) = definition(ctx, at.module, at.scope, peel(a), at.line)
    {
        return origin(
            ctx,
            At {
                module: m,
                scope: s,
                line: l,
            },
            &d,
            depth + 1,
        );
    }
    let env = ["env::var", "env!", "config", "settings", "args", "std::env"];
    if !lits.is_empty()
        && lits.iter().all(|l| l.starts_with("http"))
        && !env.iter().any(|e| t.contains(e))
    {
        return Origin::Exact(lits);
    }
    Origin::Unknown(format!("origins from `{t}`, which the scan cannot read"))
}

/// The verdicts (004, 005) and the finding a CorsLayer gets.
fn judge(c: &Cors) -> [(Verdict, Option<Severity>, String); 2] {
    let creds = c.creds == Some(true);
    let g = |s: &str| (Verdict::Guarded, None, s.to_owned());
    match &c.origin {
        Origin::None => [
            g("CorsLayer allows no origin"),
            g("CorsLayer allows no origin"),
        ],
        Origin::Exact(list) => {
            let s = format!("exact origin list {}", list.join(", "));
            [g(&s), g(&s)]
        }
        Origin::Unknown(why) => [
            (Verdict::Unknown, None, why.clone()),
            (Verdict::Unknown, None, why.clone()),
        ],
        Origin::Any if creds => [
            (
                Verdict::Unguarded,
                Some(Severity::High),
                format!(
                    "{} allows any origin with credentials (tower-http panics at runtime on `Any` + `allow_credentials(true)`; the intent is credentialed CORS for every site)",
                    c.ctor
                ),
            ),
            g("credentials: see GA-CORS-004"),
        ],
        Origin::Any => [
            g("no credentials allowed"),
            (
                Verdict::Unguarded,
                Some(Severity::Low),
                format!("{} allows any origin", c.ctor),
            ),
        ],
        Origin::Mirror if creds => [
            (
                Verdict::Unguarded,
                Some(Severity::High),
                format!(
                    "{} mirrors the request origin with credentials: any site can make credentialed requests",
                    c.ctor
                ),
            ),
            g("credentials: see GA-CORS-004"),
        ],
        Origin::Mirror => [
            g("no credentials allowed"),
            (
                Verdict::Unguarded,
                Some(Severity::Low),
                format!("{} mirrors any request origin", c.ctor),
            ),
        ],
        Origin::Predicate if creds => [
            (
                Verdict::Unguarded,
                Some(Severity::Medium),
                format!(
                    "{} allows credentials for origins an `AllowOrigin::predicate` accepts: the predicate must match exact origins (no suffix or substring match)",
                    c.ctor
                ),
            ),
            g("credentials: see GA-CORS-004"),
        ],
        Origin::Predicate => [
            g("no credentials allowed"),
            (
                Verdict::Unknown,
                None,
                "origins decided by an `AllowOrigin::predicate` the scan does not evaluate"
                    .to_owned(),
            ),
        ],
    }
}

pub(crate) fn run(ctx: &Ctx<'_, '_>, out: &mut Results) {
    let mut raised: HashMap<(ModId, usize, &'static str), ()> = HashMap::new();
    for i in 0..ctx.endpoints.len() {
        let ep = ctx.endpoints[i];
        let mut verdicts: Vec<[(Verdict, Option<Severity>, String); 2]> = Vec::new();
        for layer in &ep.layers {
            let at = At {
                module: layer.module,
                scope: fn_at(ctx, layer.module, layer.line),
                line: layer.line,
            };
            let Some(c) = cors_of(ctx, at, &layer.expr, 0) else {
                if layer.text.to_ascii_lowercase().contains("cors") {
                    let why = format!("layer `{}` looks like CORS but was not read", layer.text);
                    verdicts.push([
                        (Verdict::Unknown, None, why.clone()),
                        (Verdict::Unknown, None, why),
                    ]);
                }
                continue;
            };
            let v = judge(&c);
            for (rule, (verdict, sev, msg)) in [CRED, ANY].into_iter().zip(v.iter()) {
                if *verdict == Verdict::Unguarded
                    && let Some(sev) = sev
                    && raised
                        .insert((layer.module, layer.line, rule), ())
                        .is_none()
                {
                    out.finding(Finding {
                        rule,
                        severity: *sev,
                        message: format!(
                            "{msg} (`{}`, first on {} {})",
                            layer.shown(),
                            ep.method,
                            ep.path
                        ),
                        location: Location {
                            file: ctx.file(layer.module).to_path_buf(),
                            line: layer.line,
                            column: 1,
                        },
                        endpoint: None,
                        suppressed: None,
                    });
                }
            }
            verdicts.push(v);
        }
        if verdicts.is_empty() {
            for rule in [CRED, ANY] {
                out.verdict(
                    i,
                    rule,
                    Verdict::Guarded,
                    "no CORS layer: browsers keep the same-origin policy",
                );
            }
            continue;
        }
        for (k, rule) in [CRED, ANY].into_iter().enumerate() {
            let rank = |v: Verdict| match v {
                Verdict::Unguarded => 2,
                Verdict::Unknown => 1,
                Verdict::Guarded => 0,
            };
            if let Some((v, _, why)) = verdicts.iter().map(|v| &v[k]).max_by_key(|v| rank(v.0)) {
                out.verdict(i, rule, *v, why.clone());
            }
        }
    }
}
