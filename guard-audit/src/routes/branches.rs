//! `if` / `match` branches: both sides are read, what each adds is tagged
//! with its condition, and the two router values are joined.

use super::*;

impl Discovery<'_, '_> {
    /// A loop's body is read once: what it adds is tagged `for p in e`
    /// (its paths are usually the loop variable, so unknown).
    pub(super) fn for_expr(&mut self, frame: &mut Frame, f: &syn::ExprForLoop) -> Val {
        let cond = format!("for {} in {}", text(&*f.pat), text(&*f.expr));
        frame.cond.push(Cond::Loop(cond));
        self.block(frame, &f.body);
        frame.cond.pop();
        Val::Other
    }

    /// Both branches of an `if` are read: an endpoint behind a condition is
    /// still an endpoint, tagged with the condition it is registered under.
    pub(super) fn if_expr(&mut self, frame: &mut Frame, i: &syn::ExprIf) -> Val {
        let cond = text(&*i.cond);
        // A router variable assigned in a branch (`if p { app = nest(p,
        // app); }`) holds either branch's value afterwards: both are kept,
        // joined like the branches' values, never the `then` one alone.
        let before = frame.locals.clone();
        frame.cond.push(Cond::If(cond.clone()));
        let then = self.block(frame, &i.then_branch);
        frame.cond.pop();
        let after_then = std::mem::replace(&mut frame.locals, before.clone());
        let els = match &i.else_branch {
            Some((_, els)) => {
                frame.cond.push(Cond::If(negate(&cond)));
                let v = self.expr(frame, els);
                frame.cond.pop();
                v
            }
            None => Val::Other,
        };
        let after_else = std::mem::take(&mut frame.locals);
        frame.locals = join_locals(&before, after_then, after_else, &cond);
        union(then, els, &cond)
    }

    /// Every arm of a `match` is read like the branches of an `if`, each
    /// under `scrutinee matches pattern`.
    pub(super) fn match_expr(&mut self, frame: &mut Frame, m: &syn::ExprMatch) -> Val {
        let scrutinee = text(&*m.expr);
        let mut out = Val::Other;
        for arm in &m.arms {
            let cond = format!("{scrutinee} matches {}", text(&arm.pat));
            frame.cond.push(Cond::If(cond.clone()));
            let v = self.expr(frame, &arm.body);
            frame.cond.pop();
            out = union(out, v, &cond);
        }
        out
    }
}

/// The locals after an `if`: a router local either branch reassigned is
/// the union of its two values (a branch that did not touch it keeps the
/// value from before the `if`); other locals as the branch left them.
fn join_locals(
    before: &HashMap<String, Val>,
    mut then: HashMap<String, Val>,
    els: HashMap<String, Val>,
    cond: &str,
) -> HashMap<String, Val> {
    for (name, e) in els {
        match then.remove(&name) {
            Some(t) if matches!((&t, &e), (Val::Router(_), Val::Router(_))) => {
                let changed = |v: &Val| match (v, before.get(&name)) {
                    (Val::Router(a), Some(Val::Router(b))) => {
                        a.eps.len() != b.eps.len() || a.eps.iter().zip(&b.eps).any(|(x, y)| x != y)
                    }
                    _ => true,
                };
                let joined = if changed(&t) || changed(&e) {
                    union(t, e, cond)
                } else {
                    t
                };
                then.insert(name, joined);
            }
            Some(t) => {
                then.insert(name, t);
            }
            None => {
                then.insert(name, e);
            }
        }
    }
    then
}

/// A condition a route or layer is registered under.
#[derive(Debug, Clone)]
pub(super) enum Cond {
    /// `if c` (`then`) or its negation (`else`).
    If(String),
    /// `#[cfg(..)]`, as written.
    Cfg(String),
    /// The body of a loop (`for p in routes`), read once.
    Loop(String),
}

impl Cond {
    pub(super) fn endpoint(&self) -> String {
        match self {
            Self::If(c) => format!("if {c}"),
            Self::Cfg(c) | Self::Loop(c) => c.clone(),
        }
    }

    pub(super) fn layer(&self) -> String {
        match self {
            Self::If(c) | Self::Cfg(c) | Self::Loop(c) => c.clone(),
        }
    }
}

/// The union of two branches' values: the routes both hold once, a layer
/// only one side adds marked with a condition, never plain; the same
/// registration under a prefix only one side adds is one endpoint.
pub(super) fn union(then: Val, els: Val, cond: &str) -> Val {
    let cond = cond.to_owned();
    match (then, els) {
        (Val::Router(t), Val::Router(e)) => {
            // The union: the routes both sides hold once, a layer only
            // one side adds marked with that side's condition, never
            // plain.
            let mut out = t.clone();
            for o in &mut out.eps {
                let Some(other) = e.eps.iter().find(|x| key(x) == key(o) && x.line == o.line)
                else {
                    continue;
                };
                let has = |list: &[Layer], l: &Layer| list.iter().any(|x| x.text == l.text);
                for l in o.layers.iter_mut().filter(|l| !has(&other.layers, l)) {
                    if l.condition.is_none() {
                        l.condition = Some(cond.clone());
                    }
                }
                let extra: Vec<Layer> = other
                    .layers
                    .iter()
                    .filter(|l| !has(&t_layers(&t, o), l))
                    .cloned()
                    .map(|mut l| {
                        if l.condition.is_none() {
                            l.condition = Some(negate(&cond));
                        }
                        l
                    })
                    .collect();
                o.layers.extend(extra);
            }
            for ep in e.eps {
                let same = |x: &Endpoint| {
                    (x.module, x.line, &x.method) == (ep.module, ep.line, &ep.method)
                };
                if out.eps.iter().any(|x| same(x) && x.path == ep.path) {
                    continue;
                }
                // The same registration under a prefix only one branch
                // adds (`if p.is_empty() { r } else { nest(p, r) }`):
                // one endpoint, the prefix named in its condition.
                if let Some(o) = out.eps.iter_mut().find(|x| {
                    same(x)
                        && (x.path.ends_with(&ep.path)
                            || ep.path.ends_with(&x.path)
                            || x.path == "/"
                            || ep.path == "/")
                }) {
                    let (short, long, when) = if o.path.len() <= ep.path.len() {
                        (o.path.clone(), ep.path.clone(), negate(&cond))
                    } else {
                        (ep.path.clone(), o.path.clone(), cond.clone())
                    };
                    let prefix = if short == "/" {
                        &long[..]
                    } else {
                        &long[..long.len() - short.len()]
                    };
                    o.path = short;
                    o.condition = Some(and(
                        o.condition.as_deref(),
                        &format!("nested under `{prefix}` if {when}"),
                    ));
                    continue;
                }
                out.eps.push(ep);
            }
            for c in e.calls {
                if !out
                    .calls
                    .iter()
                    .any(|(x, _)| x.layer.line == c.0.layer.line)
                {
                    out.calls.push(c);
                }
            }
            Val::Router(out)
        }
        (Val::Router(r), _) | (_, Val::Router(r)) => Val::Router(r),
        (Val::Stack(s), _) | (_, Val::Stack(s)) => Val::Stack(s),
        _ => Val::Other,
    }
}

pub(super) fn t_layers(t: &RouterVal, o: &Endpoint) -> Vec<Layer> {
    t.eps
        .iter()
        .find(|x| key(x) == key(o) && x.line == o.line)
        .map(|x| x.layers.clone())
        .unwrap_or_default()
}

pub(super) fn negate(cond: &str) -> String {
    let simple = |c: &str| {
        c.chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
    };
    if let Some(rest) = cond.strip_prefix('!')
        && simple(rest)
    {
        return rest.to_owned();
    }
    if simple(cond) {
        format!("!{cond}")
    } else {
        format!("!({cond})")
    }
}

pub(super) fn and(a: Option<&str>, b: &str) -> String {
    match a {
        Some(a) if a != b => format!("{a} && {b}"),
        _ => b.to_owned(),
    }
}

/// A fn's router and one an early `return` hands back: the routes and
/// layer calls the early one adds beside those both hold.
pub(super) fn with_early(mut out: RouterVal, early: RouterVal) -> RouterVal {
    for ep in early.eps {
        let same = |x: &Endpoint| {
            (x.module, x.line, &x.method, &x.path) == (ep.module, ep.line, &ep.method, &ep.path)
        };
        if !out.eps.iter().any(same) {
            out.eps.push(ep);
        }
    }
    for c in early.calls {
        if !out
            .calls
            .iter()
            .any(|(x, _)| x.layer.line == c.0.layer.line)
        {
            out.calls.push(c);
        }
    }
    out
}
