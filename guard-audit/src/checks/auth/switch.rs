//! Run-time switches in a middleware: a condition that reads only the
//! service's own state (`State(..)` parameters, `self`, and locals built
//! from them), never the request. When it lets a request through before
//! any check, the guard is on or off by configuration, not by the caller.

use syn::visit::Visit;

use super::super::Ctx;
use super::code::{MethodCalls, bindings, type_head};
use super::{field_type, peeled, receiver_chain};
use crate::symbols::{Item, ModId};

/// The names a fn's `State(..)` parameters bind
/// (`State(state): State<AppState>`, `State((auth, limiter))`).
pub(crate) fn state_names(sig: &syn::Signature) -> Vec<String> {
    let mut out = vec!["self".to_owned()];
    for input in &sig.inputs {
        let syn::FnArg::Typed(t) = input else {
            continue;
        };
        if let syn::Pat::TupleStruct(ts) = &*t.pat
            && ts.path.segments.last().is_some_and(|s| s.ident == "State")
        {
            ts.elems.iter().for_each(|p| bindings(p, &mut out));
        }
    }
    out
}

/// The `||` alternatives of a condition (`a || (b || c)` is `a`, `b`, `c`).
pub(crate) fn disjuncts(e: &syn::Expr) -> Vec<&syn::Expr> {
    match e {
        syn::Expr::Binary(b) if matches!(b.op, syn::BinOp::Or(_)) => {
            let mut out = disjuncts(&b.left);
            out.extend(disjuncts(&b.right));
            out
        }
        syn::Expr::Paren(p) => match &*p.expr {
            syn::Expr::Binary(b) if matches!(b.op, syn::BinOp::Or(_)) => disjuncts(&p.expr),
            _ => vec![e],
        },
        _ => vec![e],
    }
}

/// The variables an expression reads (not fn names, consts or paths
/// with `::`); `None` when it holds code whose names are not read here
/// (a macro, a closure with its own parameters).
pub(crate) fn roots(e: &syn::Expr) -> Option<Vec<String>> {
    struct Roots {
        names: Vec<String>,
        opaque: bool,
    }
    impl<'a> Visit<'a> for Roots {
        fn visit_expr_path(&mut self, p: &'a syn::ExprPath) {
            if let Some(id) = p.path.get_ident() {
                let n = id.to_string();
                if n.chars()
                    .next()
                    .is_some_and(|c| c.is_lowercase() || c == '_')
                {
                    self.names.push(n);
                }
            }
        }
        fn visit_expr_call(&mut self, c: &'a syn::ExprCall) {
            // `f(x)`: `f` is a fn, not a variable.
            c.args.iter().for_each(|a| self.visit_expr(a));
        }
        fn visit_expr_closure(&mut self, _: &'a syn::ExprClosure) {
            self.opaque = true;
        }
        fn visit_macro(&mut self, _: &'a syn::Macro) {
            self.opaque = true;
        }
    }
    let mut v = Roots {
        names: Vec::new(),
        opaque: false,
    };
    v.visit_expr(e);
    (!v.opaque).then_some(v.names)
}

/// Whether an expression calls a fn or a method.
fn has_call(e: &syn::Expr) -> bool {
    struct Calls(bool);
    impl<'a> Visit<'a> for Calls {
        fn visit_expr_call(&mut self, _: &'a syn::ExprCall) {
            self.0 = true;
        }
        fn visit_expr_method_call(&mut self, _: &'a syn::ExprMethodCall) {
            self.0 = true;
        }
    }
    let mut c = Calls(false);
    c.visit_expr(e);
    c.0
}

/// Whether `e`, read in the statements `stmts` that come before it, reads
/// only the service's state: every variable in it is one of `state` or a
/// local whose initialiser (an earlier `let`) reads only the state; or it
/// reads no variable and calls a fn of no arguments (the environment).
pub(crate) fn reads_only_state(stmts: &[syn::Stmt], e: &syn::Expr, state: &[String]) -> bool {
    // No variable at all, but a call: a fn of no arguments, which cannot
    // see the request (`!require_auth_for_creation()`, an env var).
    if roots(e).is_some_and(|n| n.is_empty()) && has_call(e) {
        return true;
    }
    fn go(stmts: &[syn::Stmt], e: &syn::Expr, state: &[String], depth: usize) -> bool {
        let Some(names) = roots(e) else {
            return false;
        };
        !names.is_empty()
            && names.iter().all(|n| {
                if state.contains(n) {
                    return true;
                }
                if depth == 0 {
                    return false;
                }
                // The latest `let` binding `n` before `e`.
                stmts
                    .iter()
                    .enumerate()
                    .rev()
                    .find_map(|(i, s)| {
                        let syn::Stmt::Local(l) = s else { return None };
                        let mut bound = Vec::new();
                        bindings(&l.pat, &mut bound);
                        bound.contains(n).then_some((i, l))
                    })
                    .is_some_and(|(i, l)| {
                        l.init
                            .as_ref()
                            .is_some_and(|init| go(&stmts[..i], &init.expr, state, depth - 1))
                    })
            })
    }
    go(stmts, e, state, 4)
}

/// Whether an expression lets the caller on: the literal `true` or an
/// `Ok(..)`, alone or as a block's value or a `return`.
fn is_true(e: &syn::Expr) -> bool {
    match e {
        syn::Expr::Lit(l) => matches!(&l.lit, syn::Lit::Bool(b) if b.value),
        // A check returning `Result`: `Ok(..)` lets the caller on.
        syn::Expr::Call(c) => matches!(&*c.func, syn::Expr::Path(p) if p.path.is_ident("Ok")),
        syn::Expr::Return(r) => r.expr.as_deref().is_some_and(is_true),
        syn::Expr::Block(b) => block_true(&b.block),
        syn::Expr::Paren(p) => is_true(&p.expr),
        _ => false,
    }
}

fn block_true(b: &syn::Block) -> bool {
    match b.stmts.last() {
        Some(syn::Stmt::Expr(e, _)) => is_true(e),
        _ => false,
    }
}

/// Where a check method (its body `block`) answers `true` (or `Ok`) on the
/// service's own state alone, before it looks at what it was given:
/// `match &self.token { None => true, .. }`, `if self.api_token.is_empty()
/// { return Ok(()); }`, `let Some(t) = &self.token else { return true };`.
/// The condition, as text.
pub(crate) fn grants_when(block: &syn::Block) -> Option<String> {
    let me = ["self".to_owned()];
    block.stmts.iter().enumerate().find_map(|(at, stmt)| {
        let before = &block.stmts[..at];
        match stmt {
            syn::Stmt::Expr(syn::Expr::Match(m), _) if reads_only_state(before, &m.expr, &me) => {
                m.arms.iter().find_map(|arm| {
                    (arm.guard.is_none() && is_true(&arm.body)).then(|| {
                        format!(
                            "`{}` matches `{}`",
                            crate::routes::text(&*m.expr),
                            crate::routes::text(&arm.pat)
                        )
                    })
                })
            }
            syn::Stmt::Expr(syn::Expr::If(i), _)
                if reads_only_state(before, &i.cond, &me)
                    && (block_true(&i.then_branch)
                        || i.then_branch.stmts.iter().any(|s| {
                            matches!(s, syn::Stmt::Expr(syn::Expr::Return(_), _))
                                && matches!(s, syn::Stmt::Expr(e, _) if is_true(e))
                        })) =>
            {
                Some(format!("`{}`", crate::routes::text(&*i.cond)))
            }
            syn::Stmt::Local(l) => {
                let init = l.init.as_ref()?;
                let (_, els) = init.diverge.as_ref()?;
                (reads_only_state(before, &init.expr, &me) && is_true(els)).then(|| {
                    format!(
                        "`{}` does not match `{}`",
                        crate::routes::text(&*init.expr),
                        crate::routes::text(&l.pat)
                    )
                })
            }
            _ => None,
        }
    })
}

/// How deep [`switch_in`] follows method calls.
const DEPTH: usize = 3;

/// A configuration switch in an impl fn a handler's in-body check calls,
/// or in the methods it calls on `self`'s fields and on locals it gets
/// from `self`'s methods (`let c = self.components().await?;
/// c.auth.check(..)`), each followed by its declared type:
/// [`grants_when`] of the first that has one, with the method named.
pub(crate) fn switch_in(ctx: &Ctx<'_, '_>, m: ModId, ty: &str, method: &str) -> Option<String> {
    go(ctx, m, ty, method, DEPTH)
}

fn go(ctx: &Ctx<'_, '_>, m: ModId, ty: &str, method: &str, depth: usize) -> Option<String> {
    let f = ctx.syms.impl_fn(m, ty, method)?;
    if let Some(when) = grants_when(&f.block) {
        return Some(format!("`{ty}::{method}` lets everyone on when {when}"));
    }
    if depth == 0 {
        return None;
    }
    let mut ms = MethodCalls(Vec::new());
    ms.visit_block(&f.block);
    let self_ty: syn::Type = syn::parse_str(ty).ok()?;
    ms.0.into_iter().find_map(|call| {
        let (root, fields) = receiver_chain(&call.receiver)?;
        let (base_module, base): (ModId, syn::Type) = if root == "self" {
            (m, self_ty.clone())
        } else {
            local_type(ctx, m, ty, &f.block, &root)?
        };
        let Item::Type(m_def, name) = field_type(ctx, base_module, &base, &fields)? else {
            return None;
        };
        go(ctx, m_def, &name, &call.method.to_string(), depth - 1)
    })
}

/// The declared type of a local bound from a method of `self`
/// (`let c = self.wait_components().await?;`): that impl fn's return type,
/// with `Result`/`Option` unwrapped, and the module it is written in.
fn local_type(
    ctx: &Ctx<'_, '_>,
    m: ModId,
    ty: &str,
    block: &syn::Block,
    name: &str,
) -> Option<(ModId, syn::Type)> {
    let init = block.stmts.iter().rev().find_map(|s| {
        let syn::Stmt::Local(l) = s else { return None };
        let syn::Pat::Ident(id) = &l.pat else {
            return None;
        };
        (id.ident == name).then_some(l.init.as_ref()?)
    })?;
    let mut e = &*init.expr;
    loop {
        match e {
            syn::Expr::Try(t) => e = &t.expr,
            syn::Expr::Await(a) => e = &a.base,
            syn::Expr::Paren(p) => e = &p.expr,
            _ => break,
        }
    }
    let syn::Expr::MethodCall(call) = e else {
        return None;
    };
    let (root, fields) = receiver_chain(&call.receiver)?;
    if root != "self" || !fields.is_empty() {
        return None;
    }
    let f = ctx.syms.impl_fn(m, ty, &call.method.to_string())?;
    let syn::ReturnType::Type(_, out) = &f.sig.output else {
        return None;
    };
    let out = match type_head(out) {
        Some((_, head, args)) if matches!(head.as_str(), "Result" | "Option") => *args.first()?,
        _ => &**out,
    };
    Some((m, peeled(out).clone()))
}
