//! Reading fn bodies for the auth family: their text, the calls in them,
//! the workspace fns those calls resolve to (a few levels deep), and the
//! calls whose failure short-circuits the body.

use syn::visit::Visit;

use super::super::Ctx;
use crate::symbols::{Item, ModId};

/// A piece of code to read: a fn body or a closure body.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Code<'w> {
    /// A block.
    Block(&'w syn::Block),
    /// An expression.
    Expr(&'w syn::Expr),
}

impl<'w> Code<'w> {
    /// Walks it with a visitor.
    pub(crate) fn visit<V: Visit<'w>>(self, v: &mut V) {
        match self {
            Self::Block(b) => v.visit_block(b),
            Self::Expr(e) => v.visit_expr(e),
        }
    }

    /// Its source text.
    pub(crate) fn text(self) -> String {
        match self {
            Self::Block(b) => text(b),
            Self::Expr(e) => text(e),
        }
    }
}

/// A body with where it is written.
#[derive(Debug, Clone)]
pub(crate) struct Body<'w> {
    /// The module paths in it resolve from.
    pub(crate) module: ModId,
    /// The type `Self` means, where it is an impl fn.
    pub(crate) self_ty: Option<String>,
    /// The code.
    pub(crate) code: Code<'w>,
}

pub(crate) use crate::routes::text;

/// What in a text reads credentials: the Authorization header, a cookie, a
/// session, a bearer token, a JWT.
pub(crate) fn reads_credentials(text: &str) -> Option<&'static str> {
    let lower = text.to_ascii_lowercase();
    [
        ("authorization", "the Authorization header"),
        ("cookiejar", "a cookie"),
        ("cookie", "a cookie"),
        ("session", "a session"),
        ("bearer", "a bearer token"),
        ("jsonwebtoken", "a JWT"),
        ("jwt", "a JWT"),
        ("api_key", "an API key"),
        ("x-api-key", "an API key"),
    ]
    .into_iter()
    .find(|(w, _)| lower.contains(w))
    .map(|(_, what)| what)
}

/// A fn's text with what is not its code's own reading taken out, for
/// an in-body callee: string literals (a config key table's
/// `"runpod.api_key"`, a message), except one a header, cookie or query
/// is read by (`headers.get("x-api-key")`); a status matched in an
/// upstream's answer (`Upstream { status: 401 | 403, .. }`), which the
/// service receives, not answers; and a token read from the environment
/// (`std::env::var("HF_TOKEN")`), the service's own credential for the
/// services it calls.
pub(crate) fn without_prose(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('"') {
        let (before, after) = rest.split_at(at);
        out.push_str(before);
        // The literal's end (a `\"` inside is escaped).
        let mut end = None;
        let mut escaped = false;
        for (i, c) in after.char_indices().skip(1) {
            match c {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => {
                    end = Some(i);
                    break;
                }
                _ => escaped = false,
            }
        }
        let Some(end) = end else {
            out.push_str(after);
            return out;
        };
        let lit = &after[..=end];
        let head = out.trim_end();
        let read_by = [
            "get(",
            "header(",
            "get_all(",
            "cookie(",
            "contains_key(",
            "strip_prefix(",
            "starts_with(",
        ]
        .iter()
        .any(|w| head.ends_with(w));
        let env = head.ends_with("var(") || head.ends_with("var_os(");
        if read_by && !env {
            out.push_str(lit);
        } else {
            out.push_str("\"\"");
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    // `status: 401 | 403` in a pattern: a status received. A client
    // request given a credential (`req.bearer_auth(t)`) calls out with
    // the service's own.
    let out = out
        .replace("status : ", "status: ")
        .replace(".bearer_auth(", ".outbound_credential(")
        .replace(".basic_auth(", ".outbound_credential(");
    let mut cleaned = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(at) = rest.find("status: ") {
        cleaned.push_str(&rest[..at]);
        let tail = &rest[at + "status: ".len()..];
        let skip = tail
            .find(|c: char| !(c.is_ascii_digit() || c == ' ' || c == '|'))
            .unwrap_or(tail.len());
        if tail[..skip].trim().is_empty() {
            cleaned.push_str("status: ");
        }
        rest = &tail[skip..];
    }
    cleaned.push_str(rest);
    cleaned
}

/// Whether a text reads an access token by another name than those of
/// [`reads_credentials`] (a `?token=` query parameter, an `access_token`
/// field). Too broad alone; a middleware that does so and answers 401/403
/// authenticates. A CSRF token is no credential.
pub(crate) fn reads_token(text: &str) -> bool {
    let mut lower = text.to_ascii_lowercase();
    for csrf in [
        "csrf_token",
        "csrf-token",
        "csrftoken",
        "xsrf_token",
        "xsrf-token",
    ] {
        lower = lower.replace(csrf, "");
    }
    lower.contains("token")
}

/// Whether a text refuses an unauthenticated caller: a 401 or a redirect
/// to login. A 403 alone is a refusal for any reason (a feature switched
/// off, a CSRF check), not authentication.
pub(crate) fn rejects_unauthenticated(text: &str) -> bool {
    matches!(rejects(text), Some("401" | "a redirect to login"))
}

/// Whether a fn body has an exit (`return` or tail) `Ok(..)` whose
/// argument holds a bare `None` or a no-caller variant: an extractor that
/// yields `Ok(Self { auth: None })` or `Ok(Caller::Anonymous)` when no
/// credentials came lets an anonymous caller through, even if it rejects
/// bad ones.
pub(crate) fn ok_none_exit(block: &syn::Block) -> bool {
    struct OkNone(bool);
    impl<'w> Visit<'w> for OkNone {
        fn visit_expr_call(&mut self, c: &'w syn::ExprCall) {
            if matches!(&*c.func, syn::Expr::Path(p) if p.path.is_ident("Ok"))
                && c.args.iter().any(holds_none)
            {
                self.0 = true;
            }
            syn::visit::visit_expr_call(self, c);
        }
        fn visit_expr_closure(&mut self, _: &'w syn::ExprClosure) {}
        fn visit_item_fn(&mut self, _: &'w syn::ItemFn) {}
    }
    fn holds_none(e: &syn::Expr) -> bool {
        match e {
            // `None`, or a variant that means "no caller": `Self::None`,
            // `AuthHeader::None`, `Caller::Anonymous`, `Identity::Guest`.
            syn::Expr::Path(p) => p.path.segments.last().is_some_and(|s| {
                matches!(
                    s.ident.to_string().as_str(),
                    "None"
                        | "Anonymous"
                        | "Anon"
                        | "Anyone"
                        | "Nobody"
                        | "Guest"
                        | "Unauthenticated"
                )
            }),
            syn::Expr::Struct(s) => s.fields.iter().any(|f| holds_none(&f.expr)),
            syn::Expr::Call(c) => c.args.iter().any(holds_none),
            syn::Expr::Paren(p) => holds_none(&p.expr),
            _ => false,
        }
    }
    let mut v = OkNone(false);
    v.visit_block(block);
    v.0
}

/// Whether a text answers 401/403 or redirects to a login page.
pub(crate) fn rejects(text: &str) -> Option<&'static str> {
    let lower = text.to_ascii_lowercase();
    if text.contains("UNAUTHORIZED") || lower.contains("unauthorized") || text.contains("401") {
        Some("401")
    } else if text.contains("FORBIDDEN") || lower.contains("forbidden") || text.contains("403") {
        Some("403")
    } else if lower.contains("redirect") && lower.contains("login") {
        Some("a redirect to login")
    } else {
        None
    }
}

/// Whether a text returns early (`return`, `?`, `Err(..)`).
pub(crate) fn short_circuits(text: &str) -> bool {
    text.contains("return") || text.contains('?') || text.contains("Err(")
}

/// A call found in a body.
#[derive(Debug, Clone)]
pub(crate) struct Call<'w> {
    /// The called path (`require_user`, `Self::check`); `None` for a method call.
    pub(crate) path: Option<&'w syn::Path>,
    /// The name called (last segment or method name).
    pub(crate) name: String,
    /// The arguments.
    pub(crate) args: Vec<&'w syn::Expr>,
    /// The whole call's text.
    pub(crate) text: String,
}

#[derive(Default)]
struct Calls<'w> {
    calls: Vec<Call<'w>>,
}

impl<'w> Visit<'w> for Calls<'w> {
    fn visit_expr_call(&mut self, c: &'w syn::ExprCall) {
        if let syn::Expr::Path(p) = &*c.func {
            self.calls.push(Call {
                path: Some(&p.path),
                name: p
                    .path
                    .segments
                    .last()
                    .map(|s| s.ident.to_string())
                    .unwrap_or_default(),
                args: c.args.iter().collect(),
                text: text(c),
            });
        }
        syn::visit::visit_expr_call(self, c);
    }

    fn visit_expr_method_call(&mut self, c: &'w syn::ExprMethodCall) {
        self.calls.push(Call {
            path: None,
            name: c.method.to_string(),
            args: c.args.iter().collect(),
            text: text(c),
        });
        syn::visit::visit_expr_method_call(self, c);
    }
}

/// Every call in a piece of code.
pub(crate) fn calls(code: Code<'_>) -> Vec<Call<'_>> {
    let mut v = Calls::default();
    code.visit(&mut v);
    v.calls
}

/// Resolves a called path from a body (`Self::x` through its impl type).
pub(crate) fn resolve_call(ctx: &Ctx<'_, '_>, body: &Body<'_>, path: &syn::Path) -> Option<Item> {
    let segs: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    if let [first, name] = segs.as_slice()
        && first == "Self"
    {
        if let Some(ty) = body.self_ty.as_deref() {
            return ctx
                .syms
                .impl_fn(body.module, ty, name)
                .map(|_| Item::ImplFn(body.module, ty.to_owned(), name.clone()));
        }
        // `Self::f` outside a known impl (a layer in an impl fn): the one
        // impl of the module that has `f`.
        return ctx.ws.modules[body.module]
            .items
            .iter()
            .find_map(|it| match it {
                syn::Item::Impl(i) if i.trait_.is_none() => {
                    let (_, ty, _) = type_head(&i.self_ty)?;
                    ctx.syms
                        .impl_fn(body.module, &ty, name)
                        .map(|_| Item::ImplFn(body.module, ty, name.clone()))
                }
                _ => None,
            });
    }
    match ctx.syms.resolve(body.module, path)? {
        item @ (Item::Fn(..) | Item::ImplFn(..)) => Some(item),
        _ => None,
    }
}

/// The body of a resolved fn item.
pub(crate) fn body_of<'w>(ctx: &Ctx<'_, 'w>, item: &Item) -> Option<Body<'w>> {
    let f = ctx.function(item)?;
    Some(Body {
        module: f.module,
        self_ty: match item {
            Item::ImplFn(_, t, _) => Some(t.clone()),
            _ => None,
        },
        code: Code::Block(f.block),
    })
}

/// A body and the workspace fns it calls, up to `depth` levels, each with
/// the chain of call names that led to it.
pub(crate) fn reach<'w>(
    ctx: &Ctx<'_, 'w>,
    start: Body<'w>,
    depth: usize,
) -> Vec<(Body<'w>, Vec<String>)> {
    let mut out = vec![(start.clone(), Vec::new())];
    let mut seen: Vec<Item> = Vec::new();
    let mut frontier = vec![(start, Vec::<String>::new())];
    for _ in 0..depth {
        let mut next = Vec::new();
        for (body, chain) in frontier {
            for call in calls(body.code) {
                let Some(path) = call.path else { continue };
                let Some(item) = resolve_call(ctx, &body, path) else {
                    continue;
                };
                if seen.contains(&item) {
                    continue;
                }
                seen.push(item.clone());
                let Some(callee) = body_of(ctx, &item) else {
                    continue;
                };
                let mut chain = chain.clone();
                chain.push(call.name.clone());
                out.push((callee.clone(), chain.clone()));
                next.push((callee, chain));
            }
        }
        frontier = next;
    }
    out
}

/// The closure an endpoint registered inline at `line` of `module`.
pub(crate) fn closure_at<'w>(
    ctx: &Ctx<'_, 'w>,
    module: ModId,
    line: usize,
) -> Option<&'w syn::ExprClosure> {
    struct Find<'w> {
        line: usize,
        found: Option<&'w syn::ExprClosure>,
    }
    impl<'w> Visit<'w> for Find<'w> {
        fn visit_expr_closure(&mut self, c: &'w syn::ExprClosure) {
            let l = syn::spanned::Spanned::span(c).start().line;
            // A few lines down: the closure a handler block ends in
            // (`get({ let spec = ..; move || .. })`) too.
            if self.found.is_none() && (self.line..=self.line + 8).contains(&l) {
                self.found = Some(c);
            }
            syn::visit::visit_expr_closure(self, c);
        }
    }
    let mut f = Find { line, found: None };
    for item in &ctx.ws.modules[module].items {
        f.visit_item(item);
    }
    f.found
}

/// The names a pattern binds.
pub(crate) fn bindings(pat: &syn::Pat, out: &mut Vec<String>) {
    match pat {
        syn::Pat::Ident(i) => {
            out.push(i.ident.to_string());
            if let Some((_, sub)) = &i.subpat {
                bindings(sub, out);
            }
        }
        syn::Pat::Tuple(t) => t.elems.iter().for_each(|p| bindings(p, out)),
        syn::Pat::TupleStruct(t) => t.elems.iter().for_each(|p| bindings(p, out)),
        syn::Pat::Struct(s) => s.fields.iter().for_each(|f| bindings(&f.pat, out)),
        syn::Pat::Type(t) => bindings(&t.pat, out),
        syn::Pat::Reference(r) => bindings(&r.pat, out),
        syn::Pat::Paren(p) => bindings(&p.pat, out),
        syn::Pat::Slice(s) => s.elems.iter().for_each(|p| bindings(p, out)),
        _ => {}
    }
}

/// The last path segment of a type and its generic type arguments.
pub(crate) fn type_head(ty: &syn::Type) -> Option<(&syn::Path, String, Vec<&syn::Type>)> {
    match ty {
        syn::Type::Path(p) => {
            let last = p.path.segments.last()?;
            let args = match &last.arguments {
                syn::PathArguments::AngleBracketed(a) => a
                    .args
                    .iter()
                    .filter_map(|g| match g {
                        syn::GenericArgument::Type(t) => Some(t),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            Some((&p.path, last.ident.to_string(), args))
        }
        syn::Type::Reference(r) => type_head(&r.elem),
        syn::Type::Paren(p) => type_head(&p.elem),
        _ => None,
    }
}

/// Whether a fn body can only succeed: it has no `?` and every value it
/// can return (each `return` and each tail, through `if`/`match`/blocks)
/// is an `Ok(..)` call. An extractor whose `from_request_parts` is such a
/// body never rejects, whatever its `Rejection` type says (an optional
/// user extractor that yields `Ok(Self(None))` without credentials).
///
/// A `?` on extracting a cookie jar (`parts.extract::<Cookies>().await?`)
/// is no refusal of the caller: a jar fails only when its layer is not
/// mounted (a 500), never for what the request carries.
pub(crate) fn never_errs(block: &syn::Block) -> bool {
    every_exit(
        block,
        &|e| {
            matches!(e, syn::Expr::Call(c)
            if matches!(&*c.func, syn::Expr::Path(p) if p.path.is_ident("Ok")))
        },
        &jar_extraction,
    )
}

/// Cookie jars: they read cookies without judging any, and fail only
/// without their layer.
const JARS: &[&str] = &[
    "Cookies",
    "CookieJar",
    "SignedCookieJar",
    "PrivateCookieJar",
];

/// Whether a `?` is applied to `<x>.extract::<Jar>().await` (or
/// `Jar::from_request_parts(..).await`), with a jar of `JARS`.
fn jar_extraction(t: &syn::ExprTry) -> bool {
    let mut e = &*t.expr;
    if let syn::Expr::Await(a) = e {
        e = &a.base;
    }
    let jar = |p: &syn::Path| {
        p.segments
            .last()
            .is_some_and(|s| JARS.iter().any(|j| s.ident == j))
    };
    match e {
        syn::Expr::MethodCall(m) if m.method == "extract" => {
            m.turbofish.as_ref().is_some_and(|tf| {
                tf.args.len() == 1
                    && matches!(tf.args.first(), Some(syn::GenericArgument::Type(syn::Type::Path(tp))) if jar(&tp.path))
            })
        }
        syn::Expr::Call(c) => matches!(&*c.func, syn::Expr::Path(p)
            if p.path.segments.len() >= 2
                && p.path.segments.last().is_some_and(|s| s.ident == "from_request_parts")
                && jar(&syn::Path {
                    leading_colon: None,
                    segments: p.path.segments.iter().take(p.path.segments.len() - 1).cloned().collect(),
                })),
        _ => false,
    }
}

/// Whether a middleware body passes every request on: it has no `?` and
/// every value it can return is `next.run(..)` (awaited, or in `Ok(..)`).
/// Such a middleware refuses nobody, whatever it reads on the way (a
/// metrics layer that looks at which session kind the request carries
/// and `return next.run(request).await`s early when it has no tenant).
pub(crate) fn always_passes(block: &syn::Block) -> bool {
    every_exit(block, &runs_next, &|_| false)
}

/// Whether an exit value is `next.run(..)` (awaited, or in `Ok(..)`).
fn runs_next(e: &syn::Expr) -> bool {
    match e {
        syn::Expr::Await(a) => runs_next(&a.base),
        syn::Expr::Paren(p) => runs_next(&p.expr),
        syn::Expr::Call(c) if matches!(&*c.func, syn::Expr::Path(p) if p.path.is_ident("Ok")) => {
            c.args.len() == 1 && c.args.first().is_some_and(runs_next)
        }
        syn::Expr::MethodCall(m) => {
            m.method == "run"
                && matches!(&*m.receiver, syn::Expr::Path(p) if p.path.get_ident().is_some())
        }
        _ => false,
    }
}

/// Statuses that refuse a request for its shape or the server's load,
/// never for who sent it.
const NOT_WHO: &[&str] = &[
    "PAYLOAD_TOO_LARGE",
    "TOO_MANY_REQUESTS",
    "REQUEST_TIMEOUT",
    "LENGTH_REQUIRED",
    "UNSUPPORTED_MEDIA_TYPE",
    "URI_TOO_LONG",
    "REQUEST_HEADER_FIELDS_TOO_LARGE",
    "SERVICE_UNAVAILABLE",
    "METHOD_NOT_ALLOWED",
];

/// Whether a middleware body refuses only for reasons other than who the
/// caller is: it has no `?`, and every value it can return is either
/// `next.run(..)` or an answer with one of the [`NOT_WHO`] statuses (a
/// body over a ceiling answered `PAYLOAD_TOO_LARGE`, a
/// `TOO_MANY_REQUESTS`). Whatever credential-like words the code it calls
/// holds (an audit record with a `session_id` field), it lets every caller
/// with a small enough body through: no authentication.
pub(crate) fn refuses_for_other_reasons(block: &syn::Block) -> bool {
    fn leaf(e: &syn::Expr) -> bool {
        if runs_next(e) {
            return true;
        }
        let t = text(e);
        rejects(&t).is_none()
            && NOT_WHO
                .iter()
                .any(|s| t.contains(&format!("StatusCode::{s}")))
    }
    every_exit(block, &leaf, &|_| false)
}

/// Whether a middleware body runs the inner service before anything that
/// could refuse: a top-level `let response = next.run(request).await;`
/// (or such a statement) with no `return` and no `?` before it. Whatever
/// it does with the response afterwards (an audit log that reads the
/// `Authorization` header and looks for a 401 in the response), the
/// handler has already run for every caller: it keeps nobody out.
pub(crate) fn runs_first(block: &syn::Block) -> bool {
    fn run_call(e: &syn::Expr) -> bool {
        match e {
            syn::Expr::Await(a) => run_call(&a.base),
            syn::Expr::Paren(p) => run_call(&p.expr),
            syn::Expr::MethodCall(m) => {
                m.method == "run"
                    && matches!(&*m.receiver, syn::Expr::Path(p) if p.path.get_ident().is_some())
            }
            _ => false,
        }
    }
    #[derive(Default)]
    struct Exits {
        found: bool,
    }
    impl<'w> Visit<'w> for Exits {
        fn visit_expr_try(&mut self, _: &'w syn::ExprTry) {
            self.found = true;
        }
        fn visit_expr_return(&mut self, _: &'w syn::ExprReturn) {
            self.found = true;
        }
        fn visit_expr_method_call(&mut self, m: &'w syn::ExprMethodCall) {
            // A `run` inside a branch: not every request reaches it first.
            self.found |= m.method == "run";
            syn::visit::visit_expr_method_call(self, m);
        }
        fn visit_expr_closure(&mut self, _: &'w syn::ExprClosure) {}
        fn visit_item_fn(&mut self, _: &'w syn::ItemFn) {}
    }
    for stmt in &block.stmts {
        let first = match stmt {
            syn::Stmt::Local(l) => l.init.as_ref().is_some_and(|i| run_call(&i.expr)),
            syn::Stmt::Expr(e, _) => run_call(e),
            _ => false,
        };
        if first {
            return true;
        }
        let mut v = Exits::default();
        v.visit_stmt(stmt);
        if v.found {
            return false;
        }
    }
    false
}

/// Whether a fn body has no `?` (but those `allowed_try` accepts) and every value it can return (each
/// `return` and each tail, through `if`/`match`/blocks) is a `leaf`.
fn every_exit(
    block: &syn::Block,
    leaf: &dyn Fn(&syn::Expr) -> bool,
    allowed_try: &dyn Fn(&syn::ExprTry) -> bool,
) -> bool {
    struct Exits<'w, 'a> {
        tried: bool,
        returns: Vec<&'w syn::Expr>,
        allowed_try: &'a dyn Fn(&syn::ExprTry) -> bool,
    }
    impl<'w> Visit<'w> for Exits<'w, '_> {
        fn visit_expr_try(&mut self, t: &'w syn::ExprTry) {
            if !(self.allowed_try)(t) {
                self.tried = true;
            }
            syn::visit::visit_expr_try(self, t);
        }
        fn visit_expr_return(&mut self, r: &'w syn::ExprReturn) {
            match &r.expr {
                Some(e) => self.returns.push(e),
                None => self.tried = true, // `return;` is no exit value: not judged
            }
            syn::visit::visit_expr_return(self, r);
        }
        // A closure's or nested fn's `?` and `return` are its own.
        fn visit_expr_closure(&mut self, _: &'w syn::ExprClosure) {}
        fn visit_item_fn(&mut self, _: &'w syn::ItemFn) {}
    }
    fn tail_ok(e: &syn::Expr, leaf: &dyn Fn(&syn::Expr) -> bool) -> bool {
        match e {
            syn::Expr::Paren(p) => tail_ok(&p.expr, leaf),
            syn::Expr::Block(b) => block_ok(&b.block, leaf),
            syn::Expr::Unsafe(b) => block_ok(&b.block, leaf),
            syn::Expr::If(i) => {
                block_ok(&i.then_branch, leaf)
                    && i.else_branch
                        .as_ref()
                        .is_some_and(|(_, e)| tail_ok(e, leaf))
            }
            syn::Expr::Match(m) => {
                !m.arms.is_empty() && m.arms.iter().all(|a| tail_ok(&a.body, leaf))
            }
            // `return x` as a tail is judged with the other returns; a
            // diverging tail (`panic!`, `unreachable!`) returns nothing.
            syn::Expr::Return(_) => true,
            syn::Expr::Macro(m) => ["panic", "unreachable", "todo", "unimplemented"]
                .iter()
                .any(|n| m.mac.path.is_ident(n)),
            _ => leaf(e),
        }
    }
    fn block_ok(b: &syn::Block, leaf: &dyn Fn(&syn::Expr) -> bool) -> bool {
        match b.stmts.last() {
            Some(syn::Stmt::Expr(e, None)) => tail_ok(e, leaf),
            Some(syn::Stmt::Expr(syn::Expr::Return(_), Some(_))) => true,
            _ => false,
        }
    }
    let mut exits = Exits {
        tried: false,
        returns: Vec::new(),
        allowed_try,
    };
    exits.visit_block(block);
    !exits.tried && block_ok(block, leaf) && exits.returns.iter().all(|e| tail_ok(e, leaf))
}

/// Every method call under the node it visits, an outer call before the
/// calls inside it.
pub(crate) struct MethodCalls<'a>(pub(crate) Vec<&'a syn::ExprMethodCall>);

impl<'a> Visit<'a> for MethodCalls<'a> {
    fn visit_expr_method_call(&mut self, m: &'a syn::ExprMethodCall) {
        self.0.push(m);
        syn::visit::visit_expr_method_call(self, m);
    }
}
