//! Run-time switches in a middleware: a condition that reads only the
//! service's own state (`State(..)` parameters, `self`, and locals built
//! from them), never the request. When it lets a request through before
//! any check, the guard is on or off by configuration, not by the caller.

use syn::visit::Visit;

use super::code::bindings;

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
fn roots(e: &syn::Expr) -> Option<Vec<String>> {
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

/// Whether `e`, read in the statements `stmts` that come before it, reads
/// only the service's state: every variable in it is one of `state` or a
/// local whose initialiser (an earlier `let`) reads only the state.
pub(crate) fn reads_only_state(stmts: &[syn::Stmt], e: &syn::Expr, state: &[String]) -> bool {
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

/// Whether an expression is the literal `true`, alone or as a block's
/// value or a `return`.
fn is_true(e: &syn::Expr) -> bool {
    match e {
        syn::Expr::Lit(l) => matches!(&l.lit, syn::Lit::Bool(b) if b.value),
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

/// Where a check method (its body `block`) answers `true` on the
/// service's own state alone, before it looks at what it was given:
/// `match &self.token { None => true, .. }`, `if self.token.is_none() {
/// return true; }`, `let Some(t) = &self.token else { return true };`.
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
