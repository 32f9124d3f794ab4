//! GA-ERR-007: an error's text in a response: `e.to_string()` or
//! `format!("{e}")` in a `map_err` closure or `Err(e)` arm that builds a
//! response, and `IntoResponse` impls that format `self` or an inner error
//! into the body (only fields that carry an error's text count: typed as an
//! error, or filled from one somewhere in the workspace; a message the app
//! writes itself does not). Also axum's default `JsonRejection` text (Low,
//! once).

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
        // `self` and what match arms on `self` bind (`Self::Db(e)`), but
        // only the bindings that carry an error's text: a field typed as
        // an error, or one the workspace fills from an error
        // (`.map_err(|e| Self::Io(e.to_string()))`); a message the app
        // writes itself (`BadRequest(String)` from a literal) is not error
        // detail. A type whose definition is not in the workspace: all.
        let def = ctx.type_def(&item);
        let carriers = def.map(|d| carrying_fields(ctx, d));
        let Some(what) = impl_leak(&f.block, carriers.as_ref()) else {
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

/// Whether a field of this type holds a foreign error (its text is the
/// error's detail): `sqlx::Error`, `anyhow::Error`, `Box<dyn Error>`,
/// `eyre::Report`, a rejection.
fn error_like(ty: &syn::Type) -> bool {
    let t = text(ty);
    ["Error", "Report", "Rejection", "anyhow"]
        .iter()
        .any(|w| t.contains(w))
}

/// A field of a struct (`variant` `None`) or of an enum variant: its name,
/// or its index for a tuple field.
type FieldKey = (Option<String>, String);

/// The fields of a type definition and whether each carries an error's
/// text: typed as an error, or filled from one somewhere in the workspace.
#[derive(Debug)]
struct Carriers {
    enum_def: bool,
    fields: std::collections::HashMap<FieldKey, bool>,
}

impl Carriers {
    fn any(&self) -> bool {
        self.fields.values().any(|c| *c)
    }
}

fn field_list<'a>(
    fields: &'a syn::Fields,
    variant: Option<&str>,
) -> Vec<(FieldKey, &'a syn::Type)> {
    fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let name = f
                .ident
                .as_ref()
                .map_or_else(|| i.to_string(), ToString::to_string);
            ((variant.map(str::to_owned), name), &f.ty)
        })
        .collect()
}

fn carrying_fields(ctx: &Ctx<'_, '_>, def: &syn::Item) -> Carriers {
    let (name, enum_def, list) = match def {
        syn::Item::Struct(s) => (s.ident.to_string(), false, field_list(&s.fields, None)),
        syn::Item::Enum(e) => (
            e.ident.to_string(),
            true,
            e.variants
                .iter()
                .flat_map(|v| field_list(&v.fields, Some(&v.ident.to_string())))
                .collect(),
        ),
        _ => (String::new(), false, Vec::new()),
    };
    let filled = filled_from_errors(ctx, &name, enum_def);
    Carriers {
        enum_def,
        fields: list
            .into_iter()
            .map(|(k, ty)| {
                let c = error_like(ty) || filled.contains(&k);
                (k, c)
            })
            .collect(),
    }
}

/// The fields of `type_name` the workspace fills with an error's text: a
/// constructor call or struct literal (`Self::Io(format!("{e:?}"))`,
/// `ApiError { message: e.to_string() }`) whose argument formats an error
/// binding: a `map_err`-like closure's parameter, an `Err(e)` binding, a
/// fn parameter of an error type (`impl From<sqlx::Error>`).
fn filled_from_errors(ctx: &Ctx<'_, '_>, type_name: &str, enum_def: bool) -> HashSet<FieldKey> {
    struct V<'t> {
        type_name: &'t str,
        enum_def: bool,
        errs: Vec<String>,
        out: HashSet<FieldKey>,
    }
    impl V<'_> {
        /// The variant (or `None` for the struct itself) a constructor
        /// path names, if it is one of `type_name`'s.
        fn target(&self, path: &syn::Path) -> Option<Option<String>> {
            let segs: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
            match segs.as_slice() {
                [.., ty, variant] if self.enum_def && (ty == self.type_name || ty == "Self") => {
                    Some(Some(variant.clone()))
                }
                [.., ty] if !self.enum_def && (ty == self.type_name || ty == "Self") => Some(None),
                _ => None,
            }
        }
        fn leaks(&self, e: &syn::Expr) -> bool {
            !self.errs.is_empty() && leaks(e, &self.errs.iter().cloned().collect()).is_some()
        }
        fn with<T>(&mut self, names: Vec<String>, f: impl FnOnce(&mut Self) -> T) -> T {
            let n = self.errs.len();
            self.errs.extend(names);
            let r = f(self);
            self.errs.truncate(n);
            r
        }
    }
    fn error_params(sig: &syn::Signature) -> Vec<String> {
        let mut names = Vec::new();
        for a in args(sig) {
            if error_like(a.ty) {
                pat_idents(a.pat, &mut names);
            }
        }
        names
    }
    fn err_binding(p: &syn::Pat) -> Option<Vec<String>> {
        let syn::Pat::TupleStruct(t) = p else {
            return None;
        };
        t.path.segments.last().filter(|s| s.ident == "Err")?;
        let mut names = Vec::new();
        pat_idents(p, &mut names);
        Some(names)
    }
    impl<'a> Visit<'a> for V<'_> {
        fn visit_item_fn(&mut self, f: &'a syn::ItemFn) {
            let names = error_params(&f.sig);
            self.with(names, |v| syn::visit::visit_item_fn(v, f));
        }
        fn visit_impl_item_fn(&mut self, f: &'a syn::ImplItemFn) {
            let names = error_params(&f.sig);
            self.with(names, |v| syn::visit::visit_impl_item_fn(v, f));
        }
        fn visit_expr_method_call(&mut self, m: &'a syn::ExprMethodCall) {
            let name = m.method.to_string();
            if matches!(
                name.as_str(),
                "map_err" | "or_else" | "unwrap_or_else" | "map_or_else"
            ) && let Some(syn::Expr::Closure(c)) = m.args.last()
            {
                let mut names = Vec::new();
                c.inputs.iter().for_each(|p| pat_idents(p, &mut names));
                self.visit_expr(&m.receiver);
                for (i, a) in m.args.iter().enumerate() {
                    if i + 1 == m.args.len() {
                        self.with(names.clone(), |v| v.visit_expr(a));
                    } else {
                        self.visit_expr(a);
                    }
                }
                return;
            }
            syn::visit::visit_expr_method_call(self, m);
        }
        fn visit_arm(&mut self, a: &'a syn::Arm) {
            let names = err_binding(&a.pat).unwrap_or_default();
            self.with(names, |v| syn::visit::visit_arm(v, a));
        }
        fn visit_expr_if(&mut self, i: &'a syn::ExprIf) {
            if let syn::Expr::Let(l) = &*i.cond
                && let Some(names) = err_binding(&l.pat)
            {
                self.visit_expr(&l.expr);
                self.with(names, |v| v.visit_block(&i.then_branch));
                if let Some((_, e)) = &i.else_branch {
                    self.visit_expr(e);
                }
                return;
            }
            syn::visit::visit_expr_if(self, i);
        }
        fn visit_expr_call(&mut self, c: &'a syn::ExprCall) {
            if let syn::Expr::Path(p) = &*c.func
                && let Some(variant) = self.target(&p.path)
            {
                for (i, a) in c.args.iter().enumerate() {
                    if self.leaks(a) {
                        self.out.insert((variant.clone(), i.to_string()));
                    }
                }
            }
            syn::visit::visit_expr_call(self, c);
        }
        fn visit_expr_struct(&mut self, s: &'a syn::ExprStruct) {
            if let Some(variant) = self.target(&s.path) {
                for f in &s.fields {
                    if self.leaks(&f.expr) {
                        let name = match &f.member {
                            syn::Member::Named(n) => n.to_string(),
                            syn::Member::Unnamed(i) => i.index.to_string(),
                        };
                        self.out.insert((variant.clone(), name));
                    }
                }
            }
            syn::visit::visit_expr_struct(self, s);
        }
    }
    let mut v = V {
        type_name,
        enum_def,
        errs: Vec::new(),
        out: HashSet::new(),
    };
    for module in &ctx.ws.modules {
        for item in &module.items {
            v.visit_item(item);
        }
    }
    v.out
}

/// Where `into_response`'s body puts an error's text: `self` (if any
/// field carries one) anywhere, or in a match arm on `self` the bindings
/// of that arm's carrying fields (each arm read with its own bindings: a
/// local named like another arm's binding is not it). Without the
/// definition (`carriers` `None`) every binding counts.
fn impl_leak(block: &syn::Block, carriers: Option<&Carriers>) -> Option<String> {
    struct Arms<'c> {
        carriers: Option<&'c Carriers>,
        self_counts: bool,
        found: Option<String>,
    }
    impl Arms<'_> {
        fn pat(&self, p: &syn::Pat, names: &mut HashSet<String>) {
            let all = |p: &syn::Pat, out: &mut HashSet<String>| {
                let mut n = Vec::new();
                pat_idents(p, &mut n);
                out.extend(n);
            };
            let Some(c) = self.carriers else {
                all(p, names);
                return;
            };
            let variant = |path: &syn::Path| {
                c.enum_def
                    .then(|| path.segments.last().map(|s| s.ident.to_string()))
                    .flatten()
            };
            // A field the pattern names: its binding counts if it
            // carries; one not in the definition (another type): counts.
            let field = |key: FieldKey, sub: &syn::Pat, names: &mut HashSet<String>| {
                if c.fields.get(&key).is_none_or(|carries| *carries) {
                    all(sub, names);
                }
            };
            match p {
                syn::Pat::TupleStruct(t) => {
                    let v = variant(&t.path);
                    for (i, sub) in t.elems.iter().enumerate() {
                        field((v.clone(), i.to_string()), sub, names);
                    }
                }
                syn::Pat::Struct(s) => {
                    let v = variant(&s.path);
                    for f in &s.fields {
                        let name = match &f.member {
                            syn::Member::Named(n) => n.to_string(),
                            syn::Member::Unnamed(i) => i.index.to_string(),
                        };
                        field((v.clone(), name), &f.pat, names);
                    }
                }
                syn::Pat::Or(o) => o.cases.iter().for_each(|p| self.pat(p, names)),
                syn::Pat::Reference(r) => self.pat(&r.pat, names),
                syn::Pat::Path(_) | syn::Pat::Wild(_) => {}
                other => all(other, names),
            }
        }
    }
    impl<'a> Visit<'a> for Arms<'_> {
        fn visit_expr_match(&mut self, m: &'a syn::ExprMatch) {
            if text(&m.expr).contains("self") {
                for arm in &m.arms {
                    let mut names = HashSet::new();
                    if self.self_counts {
                        names.insert("self".to_owned());
                    }
                    self.pat(&arm.pat, &mut names);
                    if self.found.is_none() && !names.is_empty() {
                        self.found = leaks(&arm.body, &names);
                    }
                }
            }
            syn::visit::visit_expr_match(self, m);
        }
    }
    let self_counts = carriers.is_none_or(Carriers::any);
    if self_counts {
        let body = super::input::common::block_expr(block);
        let found = leaks(&body, &["self".to_owned()].into());
        if found.is_some() {
            return found;
        }
    }
    let mut arms = Arms {
        carriers,
        self_counts,
        found: None,
    };
    arms.visit_block(block);
    arms.found
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
