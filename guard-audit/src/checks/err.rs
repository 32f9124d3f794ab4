//! GA-ERR-007: an error's text in a response: `e.to_string()` or
//! `format!("{e}")` in a `map_err` closure or `Err(e)` arm that builds a
//! response, and `IntoResponse` impls that format `self` or an inner error
//! into the body. Also axum's default `JsonRejection` text (Low, once).

use std::collections::HashSet;

use syn::visit::Visit;

use super::input::common::{
    LOG_MACROS, args, handler_or_reason, idents, pat_idents, route, text, type_parts,
};
use super::{Ctx, HandlerFn};
use crate::findings::{Finding, Location, Results, Severity, Verdict};
use crate::symbols::{Item, ModId};

const RULE: &str = "GA-ERR-007";

const DETAILED: &[&str] = &[
    "sqlx",
    "diesel",
    "io::Error",
    "reqwest",
    "sea_orm",
    "rusqlite",
    "tokio_postgres",
    "redis",
];
const DB_CALLS: &[&str] = &[
    "sqlx",
    "query",
    "fetch_one",
    "fetch_all",
    "fetch_optional",
    "execute(",
    "diesel",
    "reqwest",
    "fs::",
    "File::",
    "pool",
    ".db",
    "db.",
    "conn",
];

/// Whether `body` puts one of `names` into text outside a logging macro.
fn leaks(e: &syn::Expr, names: &HashSet<String>) -> Option<String> {
    {
        struct V<'n> {
            names: &'n HashSet<String>,
            found: Option<String>,
        }
        impl<'a> Visit<'a> for V<'_> {
            fn visit_macro(&mut self, m: &'a syn::Macro) {
                let name = m
                    .path
                    .segments
                    .last()
                    .map(|s| s.ident.to_string())
                    .unwrap_or_default();
                if LOG_MACROS.contains(&name.as_str()) {
                    return;
                }
                let mut ids = HashSet::new();
                idents(m.tokens.clone(), &mut ids);
                let raw = m.tokens.to_string();
                let inline = self
                    .names
                    .iter()
                    .any(|n| raw.contains(&format!("{{{n}}}")) || raw.contains(&format!("{{{n}:")));
                if (inline || ids.iter().any(|i| self.names.contains(i))) && self.found.is_none() {
                    self.found = Some(format!("`{}!(..)`", text(&m.path)));
                }
            }
            fn visit_expr_method_call(&mut self, m: &'a syn::ExprMethodCall) {
                if matches!(m.method.to_string().as_str(), "to_string" | "description") {
                    let r = text(&m.receiver);
                    let head = r
                        .trim_start_matches(['&', '*', '('])
                        .split(['.', ')'])
                        .next()
                        .unwrap_or_default();
                    if self.names.contains(head) && self.found.is_none() {
                        self.found = Some(format!("`{r}.to_string()`"));
                    }
                }
                syn::visit::visit_expr_method_call(self, m);
            }
        }
        let mut v = V { names, found: None };
        v.visit_expr(e);
        v.found
    }
}

fn respond_like(e: &syn::Expr) -> bool {
    let t = text(e);
    [
        "StatusCode",
        "into_response",
        "Json(",
        "Html(",
        "Response",
        "json!",
    ]
    .iter()
    .any(|w| t.contains(w))
}

fn detailed(source: &str) -> bool {
    DB_CALLS.iter().any(|w| source.contains(w))
}

/// Error text reaching a response in a fn body: `(construct, detailed?, node)`.
fn body_leaks(ctx: &Ctx<'_, '_>, h: &HandlerFn<'_>) -> Vec<(String, bool, Location)> {
    struct V<'c, 'a, 'w> {
        ctx: &'c Ctx<'a, 'w>,
        module: ModId,
        out: Vec<(String, bool, Location)>,
    }
    impl V<'_, '_, '_> {
        fn check(
            &mut self,
            names: HashSet<String>,
            body: &syn::Expr,
            source: &str,
            at: &dyn syn::spanned::Spanned,
        ) {
            if names.is_empty() || !respond_like(body) {
                return;
            }
            if let Some(what) = leaks(body, &names) {
                let loc = self.ctx.location(self.module, &at.span());
                self.out.push((what, detailed(source), loc));
            }
        }
    }
    impl<'a> Visit<'a> for V<'_, '_, '_> {
        fn visit_expr_method_call(&mut self, m: &'a syn::ExprMethodCall) {
            let name = m.method.to_string();
            if matches!(
                name.as_str(),
                "map_err" | "or_else" | "unwrap_or_else" | "map_or_else"
            ) && let Some(arg) = m.args.last()
            {
                let source = text(&m.receiver);
                match arg {
                    syn::Expr::Closure(c) => {
                        let mut names = Vec::new();
                        c.inputs.iter().for_each(|p| pat_idents(p, &mut names));
                        self.check(names.into_iter().collect(), &c.body, &source, &m.method);
                    }
                    syn::Expr::Path(p) => {
                        // `.map_err(internal_error)`: a workspace fn turning the error into a response.
                        if let Some(item @ (Item::Fn(..) | Item::ImplFn(..))) =
                            self.ctx.syms.resolve(self.module, &p.path)
                            && let Some(f) = self.ctx.function(&item)
                        {
                            let mut names = Vec::new();
                            for a in args(f.sig) {
                                pat_idents(a.pat, &mut names);
                            }
                            let body = super::input::common::block_expr(f.block);
                            let ret = f.sig.output.clone();
                            let responds = respond_like(&body) || text(&ret).contains("StatusCode");
                            if responds
                                && let Some(what) = leaks(&body, &names.into_iter().collect())
                            {
                                let loc = self.ctx.location(self.module, &m.method);
                                self.out.push((
                                    format!("{what} in `{}`", f.sig.ident),
                                    detailed(&source),
                                    loc,
                                ));
                            }
                        }
                    }
                    _ => {}
                }
            }
            syn::visit::visit_expr_method_call(self, m);
        }
        fn visit_expr_match(&mut self, m: &'a syn::ExprMatch) {
            let source = text(&m.expr);
            for arm in &m.arms {
                if let syn::Pat::TupleStruct(t) = &arm.pat
                    && t.path.segments.last().is_some_and(|s| s.ident == "Err")
                {
                    let mut names = Vec::new();
                    pat_idents(&arm.pat, &mut names);
                    self.check(names.into_iter().collect(), &arm.body, &source, &arm.pat);
                }
            }
            syn::visit::visit_expr_match(self, m);
        }
        fn visit_expr_if(&mut self, i: &'a syn::ExprIf) {
            if let syn::Expr::Let(l) = &*i.cond
                && let syn::Pat::TupleStruct(t) = &*l.pat
                && t.path.segments.last().is_some_and(|s| s.ident == "Err")
            {
                let mut names = Vec::new();
                pat_idents(&l.pat, &mut names);
                let body = super::input::common::block_expr(&i.then_branch);
                self.check(names.into_iter().collect(), &body, &text(&l.expr), &l.pat);
            }
            syn::visit::visit_expr_if(self, i);
        }
    }
    let mut v = V {
        ctx,
        module: h.module,
        out: Vec::new(),
    };
    v.visit_block(h.block);
    v.out
}

/// A workspace error type whose `IntoResponse` puts its text in the body.
struct Leaky {
    item: Item,
    name: String,
    location: Location,
}

fn leaky_impls(ctx: &Ctx<'_, '_>, out: &mut Results) -> Vec<Leaky> {
    let mut found = Vec::new();
    for (m, imp) in ctx.impls_of("IntoResponse") {
        let syn::Type::Path(p) = &*imp.self_ty else {
            continue;
        };
        let Some(item) = ctx.syms.resolve(m, &p.path) else {
            continue;
        };
        let Some(f) = imp.items.iter().find_map(|it| match it {
            syn::ImplItem::Fn(f) if f.sig.ident == "into_response" => Some(f),
            _ => None,
        }) else {
            continue;
        };
        // `self`, and what match arms on `self` bind (`Self::Db(e)`).
        let mut names: HashSet<String> = ["self".to_owned()].into();
        struct Arms<'n>(&'n mut HashSet<String>);
        impl<'a> Visit<'a> for Arms<'_> {
            fn visit_expr_match(&mut self, m: &'a syn::ExprMatch) {
                if text(&m.expr).contains("self") {
                    for arm in &m.arms {
                        let mut n = Vec::new();
                        pat_idents(&arm.pat, &mut n);
                        self.0.extend(n);
                    }
                }
                syn::visit::visit_expr_match(self, m);
            }
        }
        Arms(&mut names).visit_block(&f.block);
        let body = super::input::common::block_expr(&f.block);
        let Some(what) = leaks(&body, &names) else {
            continue;
        };
        let name = type_parts(&imp.self_ty).map(|t| t.0).unwrap_or_default();
        let def = ctx.type_def(&item).map(text).unwrap_or_default();
        let high = DETAILED.iter().any(|w| def.contains(w)) || def.contains("anyhow");
        let location = ctx.location(m, &f.sig.ident);
        out.finding(Finding {
            rule: RULE,
            severity: if high { Severity::High } else { Severity::Medium },
            message: format!(
                "`impl IntoResponse for {name}` puts the error's text in the response body ({what}){}",
                if high { "; it wraps database/IO/HTTP errors" } else { "" }
            ),
            location: location.clone(),
            endpoint: None,
            suppressed: None,
        });
        found.push(Leaky {
            item,
            name,
            location,
        });
    }
    found
}

/// The error type of a handler returning `Result<_, E>`.
fn error_type(sig: &syn::Signature) -> Option<&syn::Type> {
    let syn::ReturnType::Type(_, ty) = &sig.output else {
        return None;
    };
    let (name, a) = type_parts(ty)?;
    (name == "Result").then(|| a.get(1).copied()).flatten()
}

fn plain_json(ty: &syn::Type) -> bool {
    type_parts(ty).is_some_and(|(n, a)| match n.as_str() {
        "Json" => true,
        "Option" | "Valid" | "Garde" => a.first().is_some_and(|t| plain_json(t)),
        _ => false,
    })
}

pub(crate) fn run(ctx: &Ctx<'_, '_>, out: &mut Results) {
    let leaky = leaky_impls(ctx, out);
    let mut rejection_raised = false;
    for i in 0..ctx.endpoints.len() {
        let h = match handler_or_reason(ctx, i) {
            Ok(h) => h,
            Err(why) => {
                out.verdict(i, RULE, Verdict::Unknown, why);
                continue;
            }
        };
        let r = route(ctx, i);
        let mut reasons = Vec::new();
        let mut verdict = Verdict::Guarded;
        for (what, high, location) in body_leaks(ctx, &h) {
            verdict = Verdict::Unguarded;
            let sev = if high {
                Severity::High
            } else {
                Severity::Medium
            };
            out.finding(Finding {
                location,
                ..ctx.endpoint_finding(
                    i,
                    RULE,
                    sev,
                    format!(
                        "{r}: `{}` returns the error's text to the client ({what})",
                        h.sig.ident
                    ),
                )
            });
            reasons.push(format!("error text in the response ({what})"));
        }
        if let Some(syn::Type::Path(p)) = error_type(h.sig)
            && let Some(item) = ctx.syms.resolve(h.module, &p.path)
            && let Some(l) = leaky.iter().find(|l| l.item == item)
        {
            verdict = Verdict::Unguarded;
            reasons.push(format!(
                "errors are `{}`, whose IntoResponse ({}:{}) prints the error",
                l.name,
                l.location.file.display(),
                l.location.line
            ));
        }
        if args(h.sig).iter().any(|a| plain_json(a.ty)) {
            reasons.push(
                "`Json<T>` rejections answer with axum's default text (serde's error)".to_owned(),
            );
            if !rejection_raised {
                rejection_raised = true;
                out.finding(ctx.endpoint_finding(
                    i,
                    RULE,
                    Severity::Low,
                    format!("{r}: `Json<T>` with axum's default `JsonRejection`: the deserializer's error text reaches the client (use `WithRejection` or a custom extractor); reported once per workspace"),
                ));
            }
        }
        if reasons.is_empty() || verdict == Verdict::Guarded {
            reasons.insert(0, "no error text found in responses".to_owned());
        }
        out.verdict(i, RULE, verdict, reasons.join("; "));
    }
}
