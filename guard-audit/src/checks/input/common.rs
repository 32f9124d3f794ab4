//! What the input-family checks share: token text, handler arguments,
//! the fn around a line, `let` bindings and layer expressions expanded
//! through them, and a small forward taint pass over a fn body.

use std::collections::HashSet;

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use syn::visit::Visit;

use crate::checks::{Ctx, HandlerFn};
use crate::routes::{Handler, Layer};
use crate::symbols::{Item, ModId};

/// Token text with every space removed (`a::b(c).d(e)`).
pub(crate) fn text(t: &impl ToTokens) -> String {
    t.to_token_stream().to_string().split_whitespace().collect()
}

/// Every identifier in a token stream, macro arguments included.
pub(crate) fn idents(tokens: TokenStream, out: &mut HashSet<String>) {
    for tt in tokens {
        match tt {
            TokenTree::Ident(i) => {
                out.insert(i.to_string());
            }
            TokenTree::Group(g) => idents(g.stream(), out),
            TokenTree::Literal(l) => inline_args(&l.to_string(), out),
            TokenTree::Punct(_) => {}
        }
    }
}

/// The names a format string captures inline (`"{url}/x"`, `"{e:?}"`).
fn inline_args(lit: &str, out: &mut HashSet<String>) {
    if !lit.starts_with('"') && !lit.starts_with('r') {
        return;
    }
    for part in lit.split('{').skip(1) {
        let name: String = part
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let next = part[name.len()..].chars().next();
        if !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && matches!(next, Some('}' | ':'))
        {
            out.insert(name);
        }
    }
}

/// Whether `e` mentions one of `names`.
pub(crate) fn mentions(e: &impl ToTokens, names: &HashSet<String>) -> bool {
    let mut found = HashSet::new();
    idents(e.to_token_stream(), &mut found);
    found.iter().any(|n| names.contains(n))
}

/// The last segment of a type path and its type arguments.
pub(crate) fn type_parts(ty: &syn::Type) -> Option<(String, Vec<&syn::Type>)> {
    match ty {
        syn::Type::Path(p) => {
            let seg = p.path.segments.last()?;
            let args = match &seg.arguments {
                syn::PathArguments::AngleBracketed(a) => a
                    .args
                    .iter()
                    .filter_map(|a| match a {
                        syn::GenericArgument::Type(t) => Some(t),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            Some((seg.ident.to_string(), args))
        }
        syn::Type::Reference(r) => type_parts(&r.elem),
        syn::Type::Paren(p) => type_parts(&p.elem),
        _ => None,
    }
}

/// A handler argument: its pattern and type.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Arg<'w> {
    pub(crate) pat: &'w syn::Pat,
    pub(crate) ty: &'w syn::Type,
}

/// The typed arguments of a fn.
pub(crate) fn args<'w>(sig: &'w syn::Signature) -> Vec<Arg<'w>> {
    sig.inputs
        .iter()
        .filter_map(|i| match i {
            syn::FnArg::Typed(t) => Some(Arg {
                pat: &t.pat,
                ty: &t.ty,
            }),
            syn::FnArg::Receiver(_) => None,
        })
        .collect()
}

/// Names of the extractors that read the request body.
pub(crate) const BODY_EXTRACTORS: &[&str] = &[
    "Json",
    "Form",
    "Bytes",
    "String",
    "Body",
    "Multipart",
    "TypedMultipart",
    "Request",
    "BodyStream",
    "RawForm",
    "ValidatedJson",
    "ValidatedForm",
    "WithRejection",
    "Valid",
    "Garde",
];

/// Whether a handler argument type reads the body (peeling `Option`,
/// `Valid<..>` and `WithRejection<..>`).
pub(crate) fn reads_body(ty: &syn::Type) -> Option<String> {
    let (name, inner) = type_parts(ty)?;
    match name.as_str() {
        "Option" | "Valid" | "Garde" | "WithRejection" | "Result" => {
            inner.first().and_then(|t| reads_body(t))
        }
        "Request" if inner.is_empty() || text(inner[0]).contains("Body") => Some(name),
        n if BODY_EXTRACTORS.contains(&n) && n != "Request" => Some(name),
        _ => None,
    }
}

/// Whether an endpoint changes state for severity: `POST`, `PUT`,
/// `PATCH`, `DELETE`; `ANY` (`any(h)`, every method) only when its handler
/// reads a body (`Json`, `Form`, `Bytes`, ...): a body means clients send
/// it with a mutating verb, while a bare `any` is usually a websocket
/// upgrade, a proxy or a catch-all read, whose severity comes from its
/// path like a `GET`'s.
pub(crate) fn mutating(ctx: &Ctx<'_, '_>, endpoint: usize) -> bool {
    match ctx.endpoints[endpoint].method.as_str() {
        "POST" | "PUT" | "PATCH" | "DELETE" => true,
        "ANY" => ctx
            .handler(endpoint)
            .is_some_and(|h| args(h.sig).iter().any(|a| reads_body(a.ty).is_some())),
        _ => false,
    }
}

/// The handler fn of an endpoint, or why it has none to read.
pub(crate) fn handler_or_reason<'w>(
    ctx: &Ctx<'_, 'w>,
    endpoint: usize,
) -> Result<HandlerFn<'w>, String> {
    if let Some(h) = ctx.handler(endpoint) {
        return Ok(h);
    }
    Err(match &ctx.endpoints[endpoint].handler {
        Handler::Closure => "closure handler: its body is not read".to_owned(),
        Handler::Service(s) => format!("service `{s}`: not read"),
        Handler::Unknown(r) => format!("handler not resolved ({r})"),
        Handler::Resolved(i) => format!("`{}` is not a fn body", ctx.syms.display(i)),
    })
}

/// `METHOD path` of an endpoint.
pub(crate) fn route(ctx: &Ctx<'_, '_>, endpoint: usize) -> String {
    let ep = ctx.endpoints[endpoint];
    format!("{} {}", ep.method, ep.path)
}

/// Whether an attribute list has `#[secure_route(..)]` mentioning `key`.
pub(crate) fn secure_route_has(attrs: &[syn::Attribute], key: &str) -> bool {
    attrs.iter().any(|a| {
        a.path()
            .segments
            .last()
            .is_some_and(|s| s.ident == "secure_route")
            && {
                let mut names = HashSet::new();
                idents(a.meta.to_token_stream(), &mut names);
                names.contains(key)
            }
    })
}

/// The lines an item spans, from its first attribute (or its first
/// token) to its closing brace, read from those tokens' spans:
/// `Spanned::span` of a whole item prints and re-joins every token of it,
/// which made this lookup the scan's hot spot.
fn item_lines(
    attrs: &[syn::Attribute],
    first: proc_macro2::Span,
    close: proc_macro2::Span,
) -> (usize, usize) {
    let start = attrs
        .iter()
        .map(|a| a.pound_token.span.start().line)
        .chain(std::iter::once(first.start().line))
        .min()
        .unwrap_or(0);
    (start, close.end().line)
}

fn fn_lines(attrs: &[syn::Attribute], sig: &syn::Signature, block: &syn::Block) -> (usize, usize) {
    let first = sig
        .constness
        .map(|t| t.span)
        .or(sig.asyncness.map(|t| t.span))
        .or(sig.unsafety.map(|t| t.span))
        .unwrap_or(sig.fn_token.span);
    item_lines(attrs, first, block.brace_token.span.close())
}

fn lines_fn(f: &syn::ItemFn) -> (usize, usize) {
    let (a, b) = fn_lines(&f.attrs, &f.sig, &f.block);
    let vis = match &f.vis {
        syn::Visibility::Public(p) => p.span.start().line,
        syn::Visibility::Restricted(r) => r.pub_token.span.start().line,
        syn::Visibility::Inherited => a,
    };
    (a.min(vis), b)
}

fn lines_impl_fn(f: &syn::ImplItemFn) -> (usize, usize) {
    let (a, b) = fn_lines(&f.attrs, &f.sig, &f.block);
    let vis = match &f.vis {
        syn::Visibility::Public(p) => p.span.start().line,
        syn::Visibility::Restricted(r) => r.pub_token.span.start().line,
        syn::Visibility::Inherited => a,
    };
    (a.min(vis), b)
}

fn lines_impl(i: &syn::ItemImpl) -> (usize, usize) {
    let first = i
        .defaultness
        .map(|t| t.span)
        .or(i.unsafety.map(|t| t.span))
        .unwrap_or(i.impl_token.span);
    item_lines(&i.attrs, first, i.brace_token.span.close())
}

/// The fn (free or associated) of a module whose span holds `line`.
pub(crate) fn fn_at<'w>(ctx: &Ctx<'_, 'w>, module: ModId, line: usize) -> Option<HandlerFn<'w>> {
    let inside = |n: &dyn Fn() -> (usize, usize)| {
        let (a, b) = n();
        a <= line && line <= b
    };
    for item in &ctx.ws.modules[module].items {
        match item {
            syn::Item::Fn(f) if inside(&|| lines_fn(f)) => {
                return Some(HandlerFn {
                    module,
                    attrs: &f.attrs,
                    sig: &f.sig,
                    block: &f.block,
                });
            }
            syn::Item::Impl(i) if inside(&|| lines_impl(i)) => {
                for it in &i.items {
                    if let syn::ImplItem::Fn(f) = it
                        && inside(&|| lines_impl_fn(f))
                    {
                        return Some(HandlerFn {
                            module,
                            attrs: &f.attrs,
                            sig: &f.sig,
                            block: &f.block,
                        });
                    }
                }
            }
            _ => {}
        }
    }
    None
}

/// The `let name = init;` bindings of a block (nested blocks included),
/// with their line, in source order.
pub(crate) fn lets(block: &syn::Block) -> Vec<(String, syn::Expr, usize)> {
    struct V(Vec<(String, syn::Expr, usize)>);
    impl<'a> Visit<'a> for V {
        fn visit_local(&mut self, l: &'a syn::Local) {
            if let Some(init) = &l.init {
                let mut names = Vec::new();
                pat_idents(&l.pat, &mut names);
                if let [name] = names.as_slice() {
                    // The `let` token's line (or its first attribute's),
                    // not `l.span()`: that prints the whole statement.
                    let line = l
                        .attrs
                        .iter()
                        .map(|a| a.pound_token.span.start().line)
                        .chain(std::iter::once(l.let_token.span.start().line))
                        .min()
                        .unwrap_or(0);
                    self.0.push((name.clone(), (*init.expr).clone(), line));
                }
            }
            syn::visit::visit_local(self, l);
        }
    }
    let mut v = V(Vec::new());
    v.visit_block(block);
    v.0
}

/// The identifiers a pattern binds.
pub(crate) fn pat_idents(p: &syn::Pat, out: &mut Vec<String>) {
    match p {
        syn::Pat::Ident(i) => {
            out.push(i.ident.to_string());
            if let Some((_, sub)) = &i.subpat {
                pat_idents(sub, out);
            }
        }
        syn::Pat::Type(t) => pat_idents(&t.pat, out),
        syn::Pat::Reference(r) => pat_idents(&r.pat, out),
        syn::Pat::Paren(r) => pat_idents(&r.pat, out),
        syn::Pat::Tuple(t) => t.elems.iter().for_each(|e| pat_idents(e, out)),
        syn::Pat::TupleStruct(t) => t.elems.iter().for_each(|e| pat_idents(e, out)),
        syn::Pat::Struct(s) => s.fields.iter().for_each(|f| pat_idents(&f.pat, out)),
        syn::Pat::Slice(s) => s.elems.iter().for_each(|e| pat_idents(e, out)),
        syn::Pat::Or(o) => o.cases.iter().for_each(|e| pat_idents(e, out)),
        _ => {}
    }
}

/// The value a fn returns: its tail expression, else its last `return`.
fn tail(block: &syn::Block) -> Option<&syn::Expr> {
    match block.stmts.last()? {
        syn::Stmt::Expr(e, None) => Some(e),
        syn::Stmt::Expr(syn::Expr::Return(r), _) => r.expr.as_deref(),
        _ => None,
    }
}

/// An expression's tokens with local variables replaced by what they were
/// bound to, followed by what the workspace fns it calls return and the
/// bodies of workspace fns it names (a few levels), so a check can read
/// `app.layer(cors)` as the `CorsLayer` chain it is.
pub(crate) fn expand(
    ctx: &Ctx<'_, '_>,
    module: ModId,
    scope: Option<HandlerFn<'_>>,
    e: &syn::Expr,
    line: usize,
) -> TokenStream {
    let bindings = scope.map(|s| lets(s.block)).unwrap_or_default();
    expand_in(ctx, module, &bindings, e, line, 0)
}

fn expand_in(
    ctx: &Ctx<'_, '_>,
    module: ModId,
    bindings: &[(String, syn::Expr, usize)],
    e: &syn::Expr,
    line: usize,
    depth: usize,
) -> TokenStream {
    if depth > 6 {
        return e.to_token_stream();
    }
    let mut out = substitute(ctx, module, bindings, e.to_token_stream(), line, depth);
    struct V<'c, 'a, 'w> {
        ctx: &'c Ctx<'a, 'w>,
        module: ModId,
        found: Vec<Item>,
    }
    impl<'x> Visit<'x> for V<'_, '_, '_> {
        fn visit_expr_path(&mut self, p: &'x syn::ExprPath) {
            if let Some(item @ (Item::Fn(..) | Item::ImplFn(..))) =
                self.ctx.syms.resolve(self.module, &p.path)
                && !self.found.contains(&item)
            {
                self.found.push(item);
            }
        }
    }
    let mut v = V {
        ctx,
        module,
        found: Vec::new(),
    };
    v.visit_expr(e);
    for item in v.found {
        let Some(h) = ctx.function(&item) else {
            continue;
        };
        let inner = lets(h.block);
        out.extend(quote::quote!(;));
        out.extend(expand_in(
            ctx,
            h.module,
            &inner,
            &block_expr(h.block),
            usize::MAX,
            depth + 1,
        ));
    }
    out
}

fn substitute(
    ctx: &Ctx<'_, '_>,
    module: ModId,
    bindings: &[(String, syn::Expr, usize)],
    tokens: TokenStream,
    line: usize,
    depth: usize,
) -> TokenStream {
    let mut out = TokenStream::new();
    let mut prev_punct: Option<char> = None;
    for tt in tokens {
        match &tt {
            TokenTree::Ident(i) if !matches!(prev_punct, Some('.' | ':')) => {
                let name = i.to_string();
                let found = bindings
                    .iter()
                    .rev()
                    .find(|(n, _, l)| *n == name && *l < line);
                if let Some((_, init, l)) = found {
                    let inner = expand_in(ctx, module, bindings, init, *l, depth + 1);
                    out.extend([TokenTree::Group(proc_macro2::Group::new(
                        proc_macro2::Delimiter::Parenthesis,
                        inner,
                    ))]);
                } else {
                    out.extend([tt.clone()]);
                }
                prev_punct = None;
            }
            TokenTree::Group(g) => {
                let inner = substitute(ctx, module, bindings, g.stream(), line, depth);
                out.extend([TokenTree::Group(proc_macro2::Group::new(
                    g.delimiter(),
                    inner,
                ))]);
                prev_punct = None;
            }
            TokenTree::Punct(p) => {
                prev_punct = Some(p.as_char());
                out.extend([tt.clone()]);
            }
            _ => {
                prev_punct = None;
                out.extend([tt.clone()]);
            }
        }
    }
    out
}

/// The expression a bare local name was bound to before `line`, or the
/// value a called workspace fn returns, with the module and fn to read
/// it in.
pub(crate) fn definition<'w>(
    ctx: &Ctx<'_, 'w>,
    module: ModId,
    scope: Option<HandlerFn<'w>>,
    e: &syn::Expr,
    line: usize,
) -> Option<(syn::Expr, ModId, Option<HandlerFn<'w>>, usize)> {
    match e {
        syn::Expr::Path(p) => {
            let id = p.path.get_ident()?.to_string();
            let s = scope?;
            lets(s.block)
                .into_iter()
                .rev()
                .find(|(n, _, l)| *n == id && *l < line)
                .map(|(_, init, l)| (init, module, scope, l))
        }
        syn::Expr::Call(c) => {
            let syn::Expr::Path(f) = &*c.func else {
                return None;
            };
            let item = ctx.syms.resolve(module, &f.path)?;
            let h = ctx.function(&item)?;
            tail(h.block).map(|t| (t.clone(), h.module, Some(h), usize::MAX))
        }
        syn::Expr::Paren(p) => definition(ctx, module, scope, &p.expr, line),
        syn::Expr::Reference(p) => definition(ctx, module, scope, &p.expr, line),
        _ => None,
    }
}

/// A layer's expression expanded in the fn that adds it.
pub(crate) fn layer_tokens(ctx: &Ctx<'_, '_>, layer: &Layer) -> TokenStream {
    let key = (layer.module, layer.line, layer.text.clone());
    if let Some(t) = ctx.layer_memo.borrow().get(&key) {
        return t.clone();
    }
    let scope = fn_at(ctx, layer.module, layer.line);
    let tokens = expand(ctx, layer.module, scope, &layer.expr, layer.line);
    ctx.layer_memo.borrow_mut().insert(key, tokens.clone());
    tokens
}

/// Evaluates an integer expression of literals, `*`, `+`, `<<` and consts
/// of the workspace.
pub(crate) fn eval_int(
    ctx: &Ctx<'_, '_>,
    module: ModId,
    e: &syn::Expr,
    depth: usize,
) -> Option<u128> {
    if depth > 8 {
        return None;
    }
    match e {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(i),
            ..
        }) => i.base10_parse().ok(),
        syn::Expr::Paren(p) => eval_int(ctx, module, &p.expr, depth + 1),
        syn::Expr::Group(p) => eval_int(ctx, module, &p.expr, depth + 1),
        syn::Expr::Cast(c) => eval_int(ctx, module, &c.expr, depth + 1),
        syn::Expr::Binary(b) => {
            let l = eval_int(ctx, module, &b.left, depth + 1)?;
            let r = eval_int(ctx, module, &b.right, depth + 1)?;
            match b.op {
                syn::BinOp::Mul(_) => l.checked_mul(r),
                syn::BinOp::Add(_) => l.checked_add(r),
                syn::BinOp::Sub(_) => l.checked_sub(r),
                syn::BinOp::Shl(_) => u32::try_from(r).ok().and_then(|r| l.checked_shl(r)),
                syn::BinOp::Div(_) => l.checked_div(r),
                _ => None,
            }
        }
        syn::Expr::Path(p) => {
            let segs: Vec<String> = p
                .path
                .segments
                .iter()
                .map(|s| s.ident.to_string())
                .collect();
            if segs == ["usize", "MAX"] || segs == ["u64", "MAX"] {
                return Some(u128::from(u64::MAX));
            }
            let (name, prefix) = segs.split_last()?;
            let m = if prefix.is_empty() {
                module
            } else {
                match ctx.syms.resolve_segments(module, prefix, false, 0)? {
                    Item::Module(m) => m,
                    _ => return None,
                }
            };
            ctx.ws.modules[m].items.iter().find_map(|it| match it {
                syn::Item::Const(c) if c.ident == name => eval_int(ctx, m, &c.expr, depth + 1),
                syn::Item::Static(c) if c.ident == name => eval_int(ctx, m, &c.expr, depth + 1),
                _ => None,
            })
        }
        _ => None,
    }
}

/// A byte count for a message: `2 MiB`, `512 KiB`, `100 B`.
pub(crate) fn size(n: u128) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} B")
    }
}

/// Calls `f` on every call and method call of an expression tree, with its
/// function or method name and its arguments.
pub(crate) fn calls<'a>(
    e: &'a syn::Expr,
    f: &mut dyn FnMut(&'a syn::Expr, &str, Vec<&'a syn::Expr>),
) {
    struct V<'f, 'a>(&'f mut dyn FnMut(&'a syn::Expr, &str, Vec<&'a syn::Expr>));
    impl<'a> Visit<'a> for V<'_, 'a> {
        fn visit_expr(&mut self, e: &'a syn::Expr) {
            match e {
                syn::Expr::Call(c) => {
                    let name = match &*c.func {
                        syn::Expr::Path(p) => text(&p.path),
                        other => text(other),
                    };
                    (self.0)(e, &name, c.args.iter().collect());
                }
                syn::Expr::MethodCall(m) => {
                    (self.0)(e, &m.method.to_string(), m.args.iter().collect());
                }
                _ => {}
            }
            syn::visit::visit_expr(self, e);
        }
    }
    V(f).visit_expr(e);
}

/// Wraps a block as an expression for [`calls`].
pub(crate) fn block_expr(b: &syn::Block) -> syn::Expr {
    syn::Expr::Block(syn::ExprBlock {
        attrs: Vec::new(),
        label: None,
        block: b.clone(),
    })
}

/// A forward taint pass: seeds are tainted names; `let`, `if let`,
/// `while let`, `for` and `match` bindings whose value mentions a tainted
/// name (or satisfies `extra`) become tainted, in source order.
pub(crate) fn taint(
    block: &syn::Block,
    seeds: HashSet<String>,
    extra: &dyn Fn(&syn::Expr) -> bool,
) -> HashSet<String> {
    struct V<'x> {
        tainted: HashSet<String>,
        extra: &'x dyn Fn(&syn::Expr) -> bool,
    }
    impl V<'_> {
        fn bind(&mut self, pat: &syn::Pat, value: &syn::Expr) {
            if mentions(value, &self.tainted) || (self.extra)(value) {
                let mut names = Vec::new();
                pat_idents(pat, &mut names);
                self.tainted.extend(names);
            }
        }
    }
    impl<'a> Visit<'a> for V<'_> {
        fn visit_local(&mut self, l: &'a syn::Local) {
            syn::visit::visit_local(self, l);
            if let Some(init) = &l.init {
                self.bind(&l.pat, &init.expr);
            }
        }
        fn visit_expr_let(&mut self, l: &'a syn::ExprLet) {
            self.bind(&l.pat, &l.expr);
            syn::visit::visit_expr_let(self, l);
        }
        fn visit_expr_for_loop(&mut self, f: &'a syn::ExprForLoop) {
            self.bind(&f.pat, &f.expr);
            syn::visit::visit_expr_for_loop(self, f);
        }
        fn visit_expr_match(&mut self, m: &'a syn::ExprMatch) {
            for arm in &m.arms {
                self.bind(&arm.pat, &m.expr);
            }
            syn::visit::visit_expr_match(self, m);
        }
        fn visit_expr_assign(&mut self, a: &'a syn::ExprAssign) {
            if (mentions(&*a.right, &self.tainted) || (self.extra)(&a.right))
                && let syn::Expr::Path(p) = &*a.left
                && let Some(id) = p.path.get_ident()
            {
                self.tainted.insert(id.to_string());
            }
            syn::visit::visit_expr_assign(self, a);
        }
    }
    let mut v = V {
        tainted: seeds,
        extra,
    };
    // Two passes so a binding tainted late in a loop reaches earlier uses.
    v.visit_block(block);
    v.visit_block(block);
    v.tainted
}

/// The names a handler argument binds from request data (`Path(id)`,
/// `Query(q)`, `Json(Body { url, .. })`), with the extractor's name.
pub(crate) fn request_names(arg: &Arg<'_>) -> Option<(String, Vec<String>)> {
    let (name, _) = type_parts(arg.ty)?;
    let data = [
        "Path",
        "Query",
        "Json",
        "Form",
        "Valid",
        "ValidatedJson",
        "ValidatedForm",
        "ValidatedQuery",
        "Garde",
        "WithRejection",
        "RawQuery",
        "TypedPath",
        "String",
        "Bytes",
    ];
    if !data.contains(&name.as_str()) {
        return None;
    }
    let mut names = Vec::new();
    pat_idents(arg.pat, &mut names);
    Some((name, names))
}

/// Logging macros: an error formatted inside one is logged, not returned.
pub(crate) const LOG_MACROS: &[&str] = &[
    "error", "warn", "info", "debug", "trace", "event", "eprintln", "println", "log",
];

/// A layer's expanded tokens as a block of statements (for [`calls`]).
pub(crate) fn layer_block(ctx: &Ctx<'_, '_>, layer: &Layer) -> Option<syn::Block> {
    let tokens = layer_tokens(ctx, layer);
    syn::parse2::<syn::Block>(quote::quote!({ #tokens })).ok()
}

/// The receiver of a method call expression.
pub(crate) fn receiver(e: &syn::Expr) -> Option<&syn::Expr> {
    match e {
        syn::Expr::MethodCall(m) => Some(&m.receiver),
        _ => None,
    }
}

/// Whether a block has a `<`/`>` comparison one side of which mentions a
/// length or size.
pub(crate) fn compares_len(block: &syn::Block) -> bool {
    struct V(bool);
    impl<'a> Visit<'a> for V {
        fn visit_expr_binary(&mut self, b: &'a syn::ExprBinary) {
            if matches!(
                b.op,
                syn::BinOp::Gt(_) | syn::BinOp::Ge(_) | syn::BinOp::Lt(_) | syn::BinOp::Le(_)
            ) {
                let t = format!("{}{}", text(&b.left), text(&b.right)).to_ascii_lowercase();
                if ["len", "size", "max", "limit"]
                    .iter()
                    .any(|w| t.contains(w))
                {
                    self.0 = true;
                }
            }
            syn::visit::visit_expr_binary(self, b);
        }
    }
    let mut v = V(false);
    v.visit_block(block);
    v.0
}
