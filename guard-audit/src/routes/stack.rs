//! Layer arguments: `ServiceBuilder` chains (first `.layer` outermost),
//! tuples and locals holding either, expanded into single layers.

use super::*;

impl Discovery<'_, '_> {
    /// The layers of a `.layer(..)` argument, outermost first, without
    /// interpreting locals (for handler layers, read without a frame's
    /// mutable state).
    pub(super) fn layers_of(&self, frame: &Frame, l: &syn::Expr, line: usize) -> Vec<Layer> {
        match l {
            syn::Expr::Path(p) => match p
                .path
                .get_ident()
                .and_then(|id| frame.locals.get(&id.to_string()))
            {
                Some(Val::Stack(s)) => s.clone(),
                _ => vec![frame.layer(l, line)],
            },
            syn::Expr::Tuple(t) => t
                .elems
                .iter()
                .flat_map(|el| self.layers_of(frame, el, line))
                .collect(),
            syn::Expr::Paren(p) => self.layers_of(frame, &p.expr, line),
            syn::Expr::MethodCall(_) => match builder(l) {
                Some(_) => stack(frame, l),
                None => vec![frame.layer(l, line)],
            },
            _ => vec![frame.layer(l, line)],
        }
    }

    /// The layers of a `.layer(..)` argument, outermost first: a
    /// `ServiceBuilder` (a local holding one too) or a tuple is expanded.
    pub(super) fn layers(&mut self, frame: &mut Frame, l: &syn::Expr) -> Vec<Layer> {
        let line = l.span().start().line;
        self.layers_of(frame, l, line)
    }
}

/// Whether a method chain starts at `ServiceBuilder::new()`.
pub(super) fn builder(e: &syn::Expr) -> Option<&syn::ExprCall> {
    match e {
        syn::Expr::MethodCall(mc) => builder(&mc.receiver),
        syn::Expr::Call(c) => match &*c.func {
            syn::Expr::Path(p)
                if p.path.segments.len() >= 2
                    && p.path.segments.last().is_some_and(|s| s.ident == "new")
                    && p.path.segments[p.path.segments.len() - 2].ident == "ServiceBuilder" =>
            {
                Some(c)
            }
            _ => None,
        },
        _ => None,
    }
}

/// A `ServiceBuilder` chain's layers, outermost (first) first.
pub(super) fn stack(frame: &Frame, e: &syn::Expr) -> Vec<Layer> {
    let syn::Expr::MethodCall(mc) = e else {
        return Vec::new();
    };
    let mut layers = stack(frame, &mc.receiver);
    let line = mc.method.span().start().line;
    let name = mc.method.to_string();
    match (name.as_str(), mc.args.first()) {
        ("layer", Some(l)) if mc.args.len() == 1 => match l {
            syn::Expr::Tuple(t) => layers.extend(t.elems.iter().map(|el| frame.layer(el, line))),
            _ if builder(l).is_some() => layers.extend(stack(frame, l)),
            _ => layers.push(frame.layer(l, line)),
        },
        ("into_inner" | "service" | "boxed" | "boxed_clone", _) => {}
        (n, _) if n.starts_with("check_") => {}
        _ => layers.extend(stack_method(frame, mc, line)),
    }
    layers
}

/// A `ServiceBuilder` shorthand (`.timeout(d)`, `.concurrency_limit(n)`,
/// `.map_request(f)`) as the layer it adds, shown as
/// `ServiceBuilder::new().timeout(d)`.
pub(super) fn stack_method(frame: &Frame, mc: &syn::ExprMethodCall, line: usize) -> Vec<Layer> {
    let mut one = mc.clone();
    one.receiver = Box::new(syn::parse_quote!(ServiceBuilder::new()));
    vec![frame.layer(&syn::Expr::MethodCall(one), line)]
}
