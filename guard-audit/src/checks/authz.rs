//! GA-AUTHZ-002: insecure direct object reference. A handler that takes an
//! id from its path and reaches an SQL statement (sqlx macros and fns,
//! diesel `find`/`filter`) selecting by that id with no owner, tenant or
//! user predicate, no post-fetch comparison with the principal and no
//! access-check call on the way.

use syn::visit::Visit;

use super::Ctx;
use super::auth::code::{self, Body, bindings, calls, type_head};
use super::auth::{handler_code, is_id_like, path_params};
use crate::findings::{Results, Severity, Verdict};
use crate::routes::Handler;
use crate::symbols::Item;

const RULE: &str = "GA-AUTHZ-002";

const OWNER_WORDS: &[&str] = &[
    "owner",
    "user_id",
    "tenant",
    "account_id",
    "org_id",
    "created_by",
    "author_id",
];

fn has_owner_word(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    OWNER_WORDS.iter().any(|w| t.contains(w))
}

/// What an SQL statement does with ids and owners.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SqlFacts {
    id_predicate: bool,
    owner_predicate: bool,
    mutates: bool,
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '"' || c == '`'
}

/// Reads a statement: an `x_id = $1|?|:x` predicate, an owner column in the
/// predicates (or in a `WITH` part), and whether it is an UPDATE/DELETE.
fn sql_facts(sql: &str) -> SqlFacts {
    let lower = sql.to_ascii_lowercase();
    let trimmed = lower.trim_start();
    let mutates = trimmed.starts_with("update")
        || trimmed.starts_with("delete")
        || trimmed.starts_with("with")
            && (lower.contains("delete from") || lower.contains("update "));
    let mut id_predicate = false;
    let chars: Vec<char> = lower.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if *c != '=' || i == 0 || matches!(chars[i - 1], '!' | '<' | '>') {
            continue;
        }
        let mut j = i;
        while j > 0 && chars[j - 1] == ' ' {
            j -= 1;
        }
        let end = j;
        while j > 0 && is_ident_char(chars[j - 1]) {
            j -= 1;
        }
        let left: String = chars[j..end].iter().collect();
        let column = left
            .rsplit('.')
            .next()
            .unwrap_or_default()
            .trim_matches(|c| c == '"' || c == '`')
            .to_owned();
        let right: String = chars[i + 1..].iter().collect();
        let right = right.trim_start();
        if right.starts_with(['$', '?', ':', '@'])
            && is_id_like(&column)
            && !has_owner_word(&column)
        {
            id_predicate = true;
        }
    }
    // The predicate parts: after WHERE / ON, and a leading WITH part.
    let mut preds = String::new();
    if trimmed.starts_with("with") {
        preds.push_str(trimmed);
    } else {
        for key in [" where ", " on ", "\nwhere ", "\non "] {
            if let Some(pos) = lower.find(key) {
                preds.push_str(&lower[pos..]);
            }
        }
    }
    SqlFacts {
        id_predicate,
        owner_predicate: has_owner_word(&preds),
        mutates,
    }
}

/// What the walk found.
#[derive(Debug, Default)]
struct Reached {
    /// Statements selecting by id with no owner predicate: (sql, where, mutates).
    open: Vec<(String, String, bool)>,
    /// Statements scoped by an owner predicate.
    scoped: Vec<String>,
    /// A post-fetch comparison or access-check call.
    checks: Vec<String>,
    /// What could not be read.
    unknown: Vec<String>,
}

fn first_str_lit(tokens: &proc_macro2::TokenStream) -> Option<String> {
    let args = syn::parse::Parser::parse2(
        syn::punctuated::Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated,
        tokens.clone(),
    )
    .ok()?;
    args.iter().find_map(str_lit)
}

fn str_lit(e: &syn::Expr) -> Option<String> {
    match e {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        }) => Some(s.value()),
        syn::Expr::Reference(r) => str_lit(&r.expr),
        syn::Expr::Paren(p) => str_lit(&p.expr),
        _ => None,
    }
}

/// A `const NAME: &str = "..."` reachable from a module by path.
fn const_sql(ctx: &Ctx<'_, '_>, module: usize, path: &syn::Path) -> Option<String> {
    let segs: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    let (name, prefix) = segs.split_last()?;
    let m = if prefix.is_empty() {
        module
    } else {
        match ctx
            .syms
            .resolve_segments(module, prefix, path.leading_colon.is_some(), 0)?
        {
            Item::Module(m) => m,
            _ => return None,
        }
    };
    ctx.ws.modules[m].items.iter().find_map(|it| match it {
        syn::Item::Const(c) if c.ident == name => str_lit(&c.expr),
        _ => None,
    })
}

#[derive(Default)]
struct Sites<'w> {
    /// `query!`-style macros: the SQL literal.
    macros: Vec<(Option<String>, String)>,
    /// `let name = expr` in the body.
    locals: Vec<(String, &'w syn::Expr)>,
    /// `a != b` / `a == b` comparisons.
    compares: Vec<String>,
}

impl<'w> Visit<'w> for Sites<'w> {
    fn visit_macro(&mut self, m: &'w syn::Macro) {
        let name = m
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default();
        if matches!(
            name.as_str(),
            "query" | "query_as" | "query_scalar" | "query_unchecked" | "query_as_unchecked"
        ) {
            self.macros
                .push((first_str_lit(&m.tokens), format!("{name}!")));
        }
    }

    fn visit_local(&mut self, l: &'w syn::Local) {
        if let (syn::Pat::Ident(i), Some(init)) = (&l.pat, &l.init) {
            self.locals.push((i.ident.to_string(), &init.expr));
        }
        syn::visit::visit_local(self, l);
    }

    fn visit_expr_binary(&mut self, b: &'w syn::ExprBinary) {
        if matches!(b.op, syn::BinOp::Ne(_) | syn::BinOp::Eq(_)) {
            let t = code::text(b);
            if has_owner_word(&t) {
                self.compares.push(t);
            }
        }
        syn::visit::visit_expr_binary(self, b);
    }
}

fn mentions(text: &str, names: &[String]) -> bool {
    names.iter().any(|n| {
        text.match_indices(n.as_str()).any(|(pos, _)| {
            let before = text[..pos].chars().next_back();
            let after = text[pos + n.len()..].chars().next();
            !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
                && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
    })
}

const PLAIN_METHODS: &[&str] = &[
    "to_string",
    "clone",
    "parse",
    "as_str",
    "into",
    "to_owned",
    "len",
    "eq",
    "ne",
    "cmp",
    "as_ref",
    "bind",
    "fetch_one",
    "fetch_optional",
    "fetch_all",
    "fetch",
    "execute",
    "await",
    "unwrap",
    "unwrap_or",
    "ok_or",
    "map_err",
    "map",
    "ok",
    "expect",
    "to_lowercase",
    "trim",
    "as_bytes",
    "iter",
    "collect",
    "push",
    "get",
    "contains",
    "is_empty",
    "first",
    "into_inner",
    "load",
    "first_async",
    "get_result",
    "filter",
    "find",
    "eq_any",
];

fn statement(sql: Option<String>, how: &str, at: &str, r: &mut Reached) {
    match sql {
        Some(sql) => {
            let f = sql_facts(&sql);
            let shown = sql.split_whitespace().collect::<Vec<_>>().join(" ");
            if f.owner_predicate {
                r.scoped.push(format!("`{shown}` in `{at}`"));
            } else if f.id_predicate {
                r.open.push((shown, at.to_owned(), f.mutates));
            }
        }
        None => r
            .unknown
            .push(format!("{how} in `{at}` with SQL that is not a literal")),
    }
}

const PLAIN_FNS: &[&str] = &[
    "Ok",
    "Some",
    "Err",
    "Json",
    "Path",
    "Box",
    "Arc",
    "String",
    "from",
    "new",
    "parse_str",
    "try_from",
    "from_str",
];

fn walk(
    ctx: &Ctx<'_, '_>,
    body: &Body<'_>,
    tainted: &[String],
    depth: usize,
    at: &str,
    r: &mut Reached,
) {
    let mut sites = Sites::default();
    body.code.visit(&mut sites);
    let body_text = body.code.text();
    for (sql, how) in sites.macros.clone() {
        statement(sql, &how, at, r);
    }
    for c in &sites.compares {
        r.checks.push(format!("post-fetch check `{c}` in `{at}`"));
    }
    for call in calls(body.code) {
        let n = call.name.as_str();
        if n.contains("access")
            || n.starts_with("authorize")
            || n.starts_with("can_")
            || n.starts_with("check_owner")
            || n.starts_with("ensure_")
        {
            r.checks.push(format!("access check `{n}(..)` in `{at}`"));
            continue;
        }
        if call.path.is_some()
            && matches!(
                n,
                "query" | "query_as" | "query_scalar" | "query_as_with" | "query_with"
            )
        {
            let sql = call.args.first().and_then(|a| match a {
                syn::Expr::Path(p) if p.path.segments.len() == 1 => {
                    let name = p.path.segments[0].ident.to_string();
                    match sites.locals.iter().rev().find(|(l, _)| *l == name) {
                        Some((_, init)) => str_lit(init),
                        None => const_sql(ctx, body.module, &p.path),
                    }
                }
                syn::Expr::Path(p) => const_sql(ctx, body.module, &p.path),
                other => str_lit(other),
            });
            statement(sql, n, at, r);
            continue;
        }
        // diesel: `.find(id)`, `.filter(id.eq(..))`.
        if call.path.is_none() && (n == "find" || n == "filter") && mentions(&call.text, tainted) {
            let arg = call
                .args
                .first()
                .map(|a| code::text(*a))
                .unwrap_or_default();
            if n == "find" || arg.contains("id.eq(") {
                if body_text.contains(".filter(") && has_owner_word(&body_text) {
                    r.scoped.push(format!(
                        "diesel `.{n}({arg})` with an owner filter in `{at}`"
                    ));
                } else {
                    r.open.push((
                        format!("diesel .{n}({arg})"),
                        at.to_owned(),
                        body_text.contains("delete(") || body_text.contains("update("),
                    ));
                }
            }
            continue;
        }
        // Constructors (`Ok(..)`, `ServerError::NotFound(..)`) store nothing.
        if call.path.is_some() && n.starts_with(|c: char| c.is_ascii_uppercase()) {
            continue;
        }
        // A closure argument's calls are walked where they are; the id
        // inside `format!` is text.
        let passed: Vec<usize> = call
            .args
            .iter()
            .enumerate()
            .filter(|(_, a)| !matches!(a, syn::Expr::Closure(_) | syn::Expr::Macro(_)))
            .filter(|(_, a)| mentions(&code::text(**a), tainted))
            .map(|(i, _)| i)
            .collect();
        if passed.is_empty() {
            continue;
        }
        let resolved = call
            .path
            .and_then(|p| code::resolve_call(ctx, body, p))
            .and_then(|item| Some((code::body_of(ctx, &item)?, ctx.function(&item)?)));
        match resolved {
            Some((callee, f)) if depth > 0 => {
                let params: Vec<&syn::Pat> = f
                    .sig
                    .inputs
                    .iter()
                    .filter_map(|a| match a {
                        syn::FnArg::Typed(t) => Some(&*t.pat),
                        syn::FnArg::Receiver(_) => None,
                    })
                    .collect();
                let mut next = Vec::new();
                for i in passed {
                    if let Some(p) = params.get(i) {
                        bindings(p, &mut next);
                    }
                }
                walk(ctx, &callee, &next, depth - 1, &f.sig.ident.to_string(), r);
            }
            Some(_) => {}
            None if call.path.is_none() && PLAIN_METHODS.contains(&n) => {}
            None if call.path.is_some() && PLAIN_FNS.contains(&n) => {}
            None => {
                let shown = if call.path.is_some() {
                    format!("{n}(..)")
                } else {
                    format!(".{n}(..)")
                };
                r.unknown.push(format!(
                    "the id is passed to `{shown}` in `{at}`, not followed"
                ));
            }
        }
    }
}

pub(crate) fn run(ctx: &Ctx<'_, '_>, out: &mut Results) {
    for i in 0..ctx.endpoints.len() {
        let ep = ctx.endpoints[i];
        let ids: Vec<String> = path_params(&ep.path)
            .into_iter()
            .filter(|p| is_id_like(p))
            .collect();
        if ids.is_empty() {
            continue;
        }
        if let Handler::Resolved(item) = &ep.handler
            && let Some(d) = crate::secure::declared(ctx.syms, item)
            && !d.owner.is_empty()
        {
            out.verdict(
                i,
                RULE,
                Verdict::Guarded,
                format!(
                    "declared: #[secure_route(owner = \"{}\")]",
                    d.owner.join(", ")
                ),
            );
            continue;
        }
        let Some(h) = handler_code(ctx, i) else {
            continue;
        };
        let mut tainted = Vec::new();
        for (pat, ty) in &h.args {
            if type_head(ty).is_some_and(|(_, n, _)| n == "Path") {
                bindings(pat, &mut tainted);
            }
        }
        if tainted.is_empty() {
            continue;
        }
        let mut r = Reached::default();
        walk(ctx, &h.body, &tainted, 3, &h.name, &mut r);
        let route = format!("{} {}", ep.method, ep.path);
        if let Some(c) = r.checks.first() {
            out.verdict(i, RULE, Verdict::Guarded, c.clone());
        } else if let Some((sql, at, mutates)) = r.open.first() {
            let sev = if r.open.iter().any(|o| o.2) || *mutates {
                Severity::Critical
            } else {
                Severity::High
            };
            let reason = format!(
                "`{sql}` in `{at}` selects by the path id with no owner/tenant/user predicate and no access check"
            );
            out.verdict(i, RULE, Verdict::Unguarded, reason.clone());
            out.finding(ctx.endpoint_finding(i, RULE, sev, format!("{route}: {reason}")));
        } else if !r.unknown.is_empty() {
            r.unknown.dedup();
            let mut reason = r
                .unknown
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join("; ");
            if r.unknown.len() > 3 {
                reason.push_str(&format!("; and {} more", r.unknown.len() - 3));
            }
            out.verdict(i, RULE, Verdict::Unknown, reason);
        } else if let Some(s) = r.scoped.first() {
            out.verdict(i, RULE, Verdict::Guarded, format!("owner predicate: {s}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::sql_facts;

    #[test]
    fn sql_predicates() {
        let f = sql_facts("SELECT * FROM notes WHERE id = $1");
        assert!(f.id_predicate && !f.owner_predicate && !f.mutates);
        let f = sql_facts("SELECT * FROM notes WHERE id = $1 AND owner_id = $2");
        assert!(f.id_predicate && f.owner_predicate);
        let f = sql_facts("DELETE FROM notes WHERE notes.id = ?");
        assert!(f.id_predicate && f.mutates && !f.owner_predicate);
        let f = sql_facts("SELECT owner_id FROM notes WHERE name = $1");
        assert!(!f.id_predicate && !f.owner_predicate);
        let f = sql_facts(
            "WITH mine AS (SELECT id FROM notes WHERE owner_id = $2) SELECT * FROM mine WHERE id = $1",
        );
        assert!(f.id_predicate && f.owner_predicate);
    }
}
