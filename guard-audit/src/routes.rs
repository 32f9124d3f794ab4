//! Router discovery: router roots and an abstract interpretation of router
//! method chains with axum's layer semantics.

use std::collections::{HashMap, HashSet};

use syn::spanned::Spanned as _;

use crate::symbols::{Item, ModId, Symbols};

mod attrs;
mod branches;
mod fields;
mod methods;
mod openapi;
mod reach;
mod stack;
mod strings;

use branches::{Cond, and};

/// A handler as resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handler {
    /// A workspace fn.
    Resolved(Item),
    /// A closure written inline.
    Closure,
    /// A service (`route_service`, `nest_service`, `fallback_service`).
    Service(String),
    /// Not resolved, and why.
    Unknown(String),
}

/// One endpoint a router serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Upper-case method, `ANY` for any method.
    pub method: String,
    /// The full path, parameters as written.
    pub path: String,
    /// The handler.
    pub handler: Handler,
    /// The layers that wrap the endpoint, innermost first.
    pub layers: Vec<Layer>,
    /// The module the route was registered in.
    pub module: ModId,
    /// The line of the registration.
    pub line: usize,
    /// The condition it is registered under, where there is one: the
    /// `#[cfg(..)]` on the statement, fn or module that adds it
    /// (`cfg(feature = "web")`), the `if` / `match` arm it is added in
    /// (`if !config.open`, `if level matches Level::Debug`), the loop it is
    /// added in (`for p in paths`), or a prefix only one branch nests it
    /// under (``nested under `{path}` if !(path.is_empty())``); joined by
    /// `&&`.
    pub condition: Option<String>,
}

/// A layer wrapping an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// The layer expression as source text.
    pub text: String,
    /// The layer expression (paths in it resolve in `module`).
    pub expr: syn::Expr,
    /// The module the `.layer(..)` call is written in.
    pub module: ModId,
    /// The line of the `.layer(..)` call.
    pub line: usize,
    /// Where it is added conditionally: the condition under which it is
    /// present (`cond` / `!cond` for an `if` branch, `x matches P` for a
    /// `match` arm, `cfg(..)`, `for p in e`), joined by `&&`.
    pub condition: Option<String>,
}

impl Layer {
    fn new(expr: &syn::Expr, module: ModId, line: usize) -> Self {
        Self {
            text: text(expr),
            expr: expr.clone(),
            module,
            line,
            condition: None,
        }
    }

    /// The text shown in the report: the expression, and `[only if cond]`
    /// where it is added conditionally.
    #[must_use]
    pub fn shown(&self) -> String {
        match &self.condition {
            Some(c) => format!("{} [only if {c}]", self.text),
            None => self.text.clone(),
        }
    }
}

/// Token text of a node with the usual gaps closed (`a::b(c)`,
/// `Option<User>`): what the report shows and what the checks match on.
pub(crate) fn text(tokens: &impl quote::ToTokens) -> String {
    let s = tokens.to_token_stream().to_string();
    let mut s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    // Tokens print spaced (`a :: b (c)`); close the usual gaps.
    for (from, to) in [
        (" :: ", "::"),
        (":: ", "::"),
        (" (", "("),
        ("( ", "("),
        (" )", ")"),
        (" . ", "."),
        (" ,", ","),
        (" !", "!"),
        ("! ", "!"),
        (" ?", "?"),
        ("& ", "&"),
        ("::< ", "::<"),
        (" >::", ">::"),
        (" >(", ">("),
        (" >)", ">)"),
        (" >,", ">,"),
        (" >]", ">]"),
    ] {
        s = s.replace(from, to);
    }
    // The close of generic args: `Api >` (end, or before `>`).
    while let Some(i) = s
        .find(" >>")
        .or_else(|| s.ends_with(" >").then(|| s.len() - 2))
    {
        s.remove(i);
    }
    s
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

/// A nested route's full path, as axum's `path_for_nested_route` makes
/// it: under a prefix ending in `/` the path's leading `/` is dropped (so
/// `nest("/web/", ..)`'s `/` is `/web/`, not `/web`); otherwise a nested
/// `/` is the prefix itself.
fn join(prefix: &str, path: &str) -> String {
    if prefix.is_empty() {
        return if path.is_empty() { "/" } else { path }.to_owned();
    }
    if prefix.ends_with('/') {
        format!("{prefix}{}", path.trim_start_matches('/'))
    } else if path == "/" || path.is_empty() {
        prefix.to_owned()
    } else {
        format!("{prefix}{path}")
    }
}

fn is_router_type(ty: &syn::Type) -> bool {
    match ty {
        syn::Type::Path(p) => p.path.segments.last().is_some_and(|s| {
            let n = s.ident.to_string();
            if n.ends_with("Router") {
                return true;
            }
            // Result<Router, E> / Option<Router>
            if let syn::PathArguments::AngleBracketed(a) = &s.arguments
                && (n == "Result" || n == "Option")
                && let Some(syn::GenericArgument::Type(t)) = a.args.first()
            {
                return is_router_type(t);
            }
            false
        }),
        // `(Router, State)`: a builder returning its router beside a handle.
        syn::Type::Tuple(t) => t.elems.iter().any(is_router_type),
        _ => false,
    }
}

/// One `.layer(..)` / `.route_layer(..)` call on a router value: what it
/// wraps and what was registered on the same router after it (and so is
/// not wrapped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerCall {
    /// The call's argument as one layer (a `ServiceBuilder` or tuple whole).
    pub layer: Layer,
    /// `route_layer` (routes only, panics on a router with no route) rather
    /// than `layer`.
    pub route_layer: bool,
    /// `(METHOD, path)` of the endpoints it wraps, full paths.
    pub covered: Vec<(String, String)>,
    /// `(METHOD, path)` of the endpoints added to the same router value
    /// after it, which it does not wrap.
    pub after: Vec<(String, String)>,
}

/// A router value while it is built: its endpoints and the layer calls on
/// it (`open` while routes added to this value count as `after`).
#[derive(Debug, Clone, Default)]
struct RouterVal {
    eps: Vec<Endpoint>,
    calls: Vec<(LayerCall, bool)>,
    /// Built by a router type that is not axum's, aide's or utoipa-axum's
    /// (a builder such as `GuardedRouter`): its own methods are its API,
    /// not extension traits that may add routes.
    custom: Option<String>,
}

#[derive(Debug, Clone)]
enum Val {
    Router(RouterVal),
    Method(Vec<Endpoint>),
    /// A `ServiceBuilder` (or layer tuple): its layers, outermost first.
    Stack(Vec<Layer>),
    /// A string known statically (a path prefix held by a local or a
    /// parameter).
    Str(String),
    /// A workspace fn passed as a value: a parameter bound to a handler
    /// at the call site (`register(router, "/x", handler)` whose body does
    /// `router.route(path, get(func))`).
    Fn(Item),
    Other,
}

/// Router methods that return the same routes (state, conversions, the
/// OpenAPI halves of aide and utoipa-axum).
const PASS_THROUGH: [&str; 17] = [
    "with_state",
    "into_make_service",
    "into_make_service_with_connect_info",
    "into_service",
    "clone",
    "boxed",
    "finish_api",
    "finish_api_with",
    "split_for_parts",
    "with_openapi",
    "method_not_allowed_fallback",
    "reset_fallback",
    "without_v07_checks",
    "unwrap",
    "expect",
    "into",
    "to_owned",
];

const METHODS: [&str; 10] = [
    "get", "post", "put", "patch", "delete", "head", "options", "trace", "connect", "any",
];

fn key(ep: &Endpoint) -> (String, String) {
    (ep.method.clone(), ep.path.clone())
}

/// The name of a method-router constructor (`get`, `get_with`) and whether
/// it is aide's `_with` form (a second, docs argument).
fn method_name(name: &str) -> Option<(&str, bool)> {
    if METHODS.contains(&name) {
        return Some((name, false));
    }
    let base = name.strip_suffix("_with")?;
    METHODS.iter().find(|m| **m == base).map(|m| (*m, true))
}

/// The interpreter's state over a workspace.
#[derive(Debug)]
pub struct Discovery<'s, 'w> {
    syms: &'s Symbols<'w>,
    memo: HashMap<Item, Option<RouterVal>>,
    active: HashSet<Item>,
    /// Router fns used inside another router (not roots).
    consumed: HashSet<Item>,
}

/// A router root: the fn it is built in and its endpoints.
#[derive(Debug, Clone)]
pub struct Root {
    /// The fn the router is built in.
    pub function: String,
    /// Its endpoints, in registration order.
    pub endpoints: Vec<Endpoint>,
    /// Every `.layer` / `.route_layer` call on the routers it is built
    /// from, in order.
    pub layer_calls: Vec<LayerCall>,
}

struct Frame {
    module: ModId,
    locals: HashMap<String, Val>,
    /// The declared type names of the fn's parameters (`DatabaseRoutes`).
    types: HashMap<String, String>,
    /// Routers held by locals or served, in order of creation.
    served: Vec<RouterVal>,
    /// Routers a `return` hands back before the fn's tail
    /// (`if let Some(dir) = cfg.dir { return router.nest_service(..); }`).
    returned: Vec<RouterVal>,
    /// The conditions the code being read runs under.
    cond: Vec<Cond>,
    /// The type of the `impl` the fn being read is in, for `Self::x`.
    self_ty: Option<String>,
}

impl Frame {
    fn endpoint_cond(&self) -> Option<String> {
        (!self.cond.is_empty()).then(|| {
            self.cond
                .iter()
                .map(Cond::endpoint)
                .collect::<Vec<_>>()
                .join(" && ")
        })
    }

    fn layer_cond(&self) -> Option<String> {
        (!self.cond.is_empty()).then(|| {
            self.cond
                .iter()
                .map(Cond::layer)
                .collect::<Vec<_>>()
                .join(" && ")
        })
    }

    fn layer(&self, expr: &syn::Expr, line: usize) -> Layer {
        let mut l = Layer::new(expr, self.module, line);
        l.condition = self.layer_cond();
        l
    }
}

impl<'s, 'w> Discovery<'s, 'w> {
    /// A new discovery over a symbol table.
    #[must_use]
    pub fn new(syms: &'s Symbols<'w>) -> Self {
        Self {
            syms,
            memo: HashMap::new(),
            active: HashSet::new(),
            consumed: HashSet::new(),
        }
    }

    /// Every router root of the workspace.
    #[must_use]
    pub fn roots(mut self) -> Vec<Root> {
        let mut found: Vec<(Item, RouterVal)> = Vec::new();
        for (m, module) in self.syms.ws.modules.iter().enumerate() {
            for item in &module.items {
                match item {
                    syn::Item::Fn(f) => {
                        let it = Item::Fn(m, f.sig.ident.to_string());
                        if let Some(r) = self.fn_routers(&it) {
                            found.push((it, r));
                        }
                    }
                    syn::Item::Impl(i) => {
                        let syn::Type::Path(tp) = &*i.self_ty else {
                            continue;
                        };
                        let Some(ty) = tp.path.segments.last() else {
                            continue;
                        };
                        for ii in &i.items {
                            if let syn::ImplItem::Fn(f) = ii {
                                let it =
                                    Item::ImplFn(m, ty.ident.to_string(), f.sig.ident.to_string());
                                if let Some(r) = self.fn_routers(&it) {
                                    found.push((it, r));
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        let reach = self.reach();
        let ws = self.syms.ws;
        found
            .into_iter()
            .filter(|(it, _)| !self.consumed.contains(it))
            .filter(|(it, _)| {
                let m = match it {
                    Item::Fn(m, _) | Item::ImplFn(m, _, _) => *m,
                    _ => return true,
                };
                ws.members.is_empty()
                    || ws.members.contains(&ws.modules[m].krate)
                    || reach.contains(it)
            })
            .map(|(it, r)| Root {
                function: self.syms.display(&it),
                endpoints: r.eps,
                layer_calls: r.calls.into_iter().map(|(c, _)| c).collect(),
            })
            .collect()
    }

    fn fn_parts(
        &self,
        item: &Item,
    ) -> Option<(
        ModId,
        &'w [syn::Attribute],
        &'w syn::Signature,
        &'w syn::Block,
    )> {
        match item {
            Item::Fn(m, n) => self
                .syms
                .fn_item(*m, n)
                .map(|f| (*m, &f.attrs[..], &f.sig, &*f.block)),
            Item::ImplFn(m, t, n) => self
                .syms
                .impl_fn(*m, t, n)
                .map(|f| (*m, &f.attrs[..], &f.sig, &f.block)),
            _ => None,
        }
    }

    /// The routers a fn builds: its returned router, or the routers it
    /// holds in locals / serves.
    fn fn_routers(&mut self, item: &Item) -> Option<RouterVal> {
        self.fn_routers_with(item, Vec::new())
    }

    /// The router a fn builds, its parameters bound to the router values
    /// of the call's arguments (`fn limits(mut r: Router) -> Router`);
    /// memoised only without bound parameters.
    fn fn_routers_with(&mut self, item: &Item, bound: Vec<(String, Val)>) -> Option<RouterVal> {
        if bound.is_empty()
            && let Some(v) = self.memo.get(item)
        {
            return v.clone();
        }
        if !self.active.insert(item.clone()) {
            return None;
        }
        let memoise = bound.is_empty();
        let result = self.fn_parts(item).and_then(|(module, attrs, sig, block)| {
            // A `#[cfg(test)]` fn is not served; another `#[cfg]` tags
            // what the fn builds.
            let mut cfgs = attrs::cfgs(&self.syms.ws.modules[module].cfgs)?;
            cfgs.extend(attrs::cfgs(attrs)?);
            let types = sig
                .inputs
                .iter()
                .filter_map(|input| match input {
                    syn::FnArg::Typed(t) => match &*t.pat {
                        syn::Pat::Ident(id) => {
                            Some((id.ident.to_string(), fields::type_name(&t.ty)?))
                        }
                        _ => None,
                    },
                    syn::FnArg::Receiver(_) => None,
                })
                .collect();
            let mut frame = Frame {
                module,
                locals: bound.into_iter().collect(),
                types,
                served: Vec::new(),
                returned: Vec::new(),
                cond: cfgs.into_iter().map(Cond::Cfg).collect(),
                self_ty: match item {
                    Item::ImplFn(_, t, _) => Some(t.clone()),
                    _ => None,
                },
            };
            let returns_router = match &sig.output {
                syn::ReturnType::Type(_, t) => is_router_type(t),
                syn::ReturnType::Default => false,
            };
            let ret = self.block(&mut frame, block);
            let ret = match (ret, block.stmts.last()) {
                (Val::Other, Some(syn::Stmt::Expr(syn::Expr::Macro(m), None)))
                    if returns_router =>
                {
                    self.macro_router(&frame, &m.mac)
                }
                (ret, _) => ret,
            };
            // An early `return` of another router: its routes are served
            // too, under the condition they were added with.
            let ret = std::mem::take(&mut frame.returned)
                .into_iter()
                .fold(ret, |acc, early| match acc {
                    Val::Router(r) => Val::Router(branches::with_early(r, early)),
                    _ if returns_router => Val::Router(early),
                    other => other,
                });
            let mut out = match ret {
                Val::Router(r) if returns_router || frame.served.is_empty() => Some(r),
                _ => {
                    // The served routers first, then the locals by name:
                    // `locals` is a hash map, and its order must not pick
                    // the result (librqbit's `main_router` and
                    // `app = main_router.layer(..)` tie on routes).
                    let mut locals: Vec<(String, RouterVal)> = frame
                        .locals
                        .drain()
                        .filter_map(|(name, v)| match v {
                            Val::Router(r) => Some((name, r)),
                            _ => None,
                        })
                        .collect();
                    locals.sort_by(|a, b| a.0.cmp(&b.0));
                    let mut all = std::mem::take(&mut frame.served);
                    all.extend(locals.into_iter().map(|(_, r)| r));
                    // Keep the largest set; a fn usually builds one. Of
                    // two with the same routes, the one with more layers
                    // is the other wrapped, so the one that is served.
                    let layers =
                        |r: &RouterVal| r.eps.iter().map(|e| e.layers.len()).sum::<usize>();
                    all.sort_by_key(|r| std::cmp::Reverse((r.eps.len(), layers(r))));
                    all.into_iter().next().filter(|r| !r.eps.is_empty())
                }
            };
            // Conditions of the fn itself: the endpoints were tagged when
            // they were added; ones from callees' returned routers too.
            if let Some(r) = &mut out
                && let Some(c) = frame.endpoint_cond()
            {
                for ep in &mut r.eps {
                    if !ep.condition.as_deref().is_some_and(|e| e.contains(&c)) {
                        ep.condition = Some(and(ep.condition.as_deref(), &c));
                    }
                }
            }
            out
        });
        self.active.remove(item);
        if memoise {
            self.memo.insert(item.clone(), result.clone());
        }
        result
    }

    /// A router produced by a macro this reader cannot expand.
    fn macro_router(&self, frame: &Frame, mac: &syn::Macro) -> Val {
        let name = text(&mac.path);
        let line = mac.path.span().start().line;
        Val::Router(RouterVal {
            eps: vec![Endpoint {
                method: "ANY".to_owned(),
                path: format!("({name}!)"),
                handler: Handler::Unknown(format!("router built by macro `{name}!`")),
                layers: Vec::new(),
                module: frame.module,
                line,
                condition: frame.endpoint_cond(),
            }],
            calls: Vec::new(),
            custom: None,
        })
    }

    fn block(&mut self, frame: &mut Frame, block: &syn::Block) -> Val {
        let mut last = Val::Other;
        for stmt in &block.stmts {
            last = Val::Other;
            let attrs: &[syn::Attribute] = match stmt {
                syn::Stmt::Local(l) => &l.attrs,
                syn::Stmt::Expr(e, _) => attrs::expr_attrs(e),
                syn::Stmt::Macro(m) => &m.attrs,
                syn::Stmt::Item(_) => &[],
            };
            let Some(cfgs) = attrs::cfgs(attrs) else {
                continue;
            };
            let pushed = cfgs.len();
            frame.cond.extend(cfgs.into_iter().map(Cond::Cfg));
            match stmt {
                syn::Stmt::Local(local) => {
                    if let Some(init) = &local.init {
                        let v = match self.expr(frame, &init.expr) {
                            Val::Other => self
                                .str_expr(frame, &init.expr)
                                .map_or(Val::Other, Val::Str),
                            v => v,
                        };
                        self.bind(frame, &local.pat, v);
                    }
                }
                syn::Stmt::Expr(e, semi) => {
                    let v = self.expr(frame, e);
                    if semi.is_none() {
                        last = v;
                    }
                }
                _ => {}
            }
            frame.cond.truncate(frame.cond.len() - pushed);
        }
        last
    }

    /// Binds a value to a `let` pattern: a name, or the first name of a
    /// tuple (`let (router, api) = ..split_for_parts();`).
    fn bind(&self, frame: &mut Frame, pat: &syn::Pat, v: Val) {
        match pat {
            syn::Pat::Ident(i) => {
                // `let app = app.route(..)` under a `#[cfg]`: the
                // un-cfg'd value is gone only when the cfg holds, so keep
                // the routes either way (they are tagged).
                frame.locals.insert(i.ident.to_string(), v);
            }
            syn::Pat::Type(t) => self.bind(frame, &t.pat, v),
            syn::Pat::Tuple(t) => {
                if let Some(first) = t.elems.first() {
                    self.bind(frame, first, v);
                }
            }
            _ => {}
        }
    }

    fn expr(&mut self, frame: &mut Frame, e: &syn::Expr) -> Val {
        match e {
            syn::Expr::Paren(p) => self.expr(frame, &p.expr),
            syn::Expr::Group(g) => self.expr(frame, &g.expr),
            syn::Expr::Try(t) => self.expr(frame, &t.expr),
            syn::Expr::Await(a) => self.expr(frame, &a.base),
            syn::Expr::Block(b) => self.block(frame, &b.block),
            // A router built inside `block_on(async { .. })` or a closure
            // is still built: interpret the body in the same frame.
            syn::Expr::Async(a) => self.block(frame, &a.block),
            // A `return` in a closure leaves the closure, not the fn.
            syn::Expr::Closure(c) => {
                let n = frame.returned.len();
                let v = self.expr(frame, &c.body);
                frame.returned.truncate(n);
                v
            }
            syn::Expr::Return(r) => {
                let v = r.expr.as_ref().map_or(Val::Other, |x| self.expr(frame, x));
                if let Val::Router(router) = &v {
                    frame.returned.push(router.clone());
                }
                v
            }
            syn::Expr::Assign(a) => {
                let v = self.expr(frame, &a.right);
                if let syn::Expr::Path(p) = &*a.left
                    && let Some(id) = p.path.get_ident()
                {
                    frame.locals.insert(id.to_string(), v);
                }
                Val::Other
            }
            syn::Expr::If(i) => self.if_expr(frame, i),
            syn::Expr::Match(m) => self.match_expr(frame, m),
            syn::Expr::ForLoop(f) => self.for_expr(frame, f),
            syn::Expr::Path(p) => match p.path.get_ident() {
                Some(id) => frame
                    .locals
                    .get(&id.to_string())
                    .cloned()
                    .unwrap_or(Val::Other),
                None => Val::Other,
            },
            syn::Expr::Tuple(t) => {
                // A fn returning `(router, state)`: the router is what it
                // builds (`let (app, keeper) = builder.build()` binds it).
                if let Some(r) = t.elems.iter().find_map(|el| match self.expr(frame, el) {
                    Val::Router(r) => Some(r),
                    _ => None,
                }) {
                    return Val::Router(r);
                }
                // A layer tuple `(a, b)`: `a` is the outermost.
                let mut layers = Vec::new();
                for el in &t.elems {
                    layers.extend(self.layers(frame, el));
                }
                Val::Stack(layers)
            }
            syn::Expr::Macro(m) if m.mac.path.is_ident("routes") => self.utoipa_routes(frame, m),
            syn::Expr::Field(f) => self.default_field(frame, f).unwrap_or(Val::Other),
            syn::Expr::Call(c) => self.call(frame, c),
            syn::Expr::MethodCall(mc) => self.method_call(frame, mc),
            _ => Val::Other,
        }
    }

    fn call(&mut self, frame: &mut Frame, c: &syn::ExprCall) -> Val {
        let syn::Expr::Path(fp) = &*c.func else {
            return Val::Other;
        };
        let segs: Vec<String> = fp
            .path
            .segments
            .iter()
            .map(|s| s.ident.to_string())
            .collect();
        let last = segs.last().map(String::as_str).unwrap_or_default();
        let prev = segs.len().checked_sub(2).map(|i| segs[i].as_str());
        if matches!(last, "new" | "default" | "with_openapi")
            && prev.is_some_and(|p| p.ends_with("Router"))
        {
            return Val::Router(RouterVal {
                custom: prev
                    .filter(|p| !matches!(*p, "Router" | "ApiRouter" | "OpenApiRouter"))
                    .map(str::to_owned),
                ..RouterVal::default()
            });
        }
        if last == "new" && prev == Some("ServiceBuilder") {
            return Val::Stack(Vec::new());
        }
        if last == "serve" && c.args.len() == 2 {
            if let Some(arg) = c.args.iter().nth(1)
                && let Val::Router(r) = self.expr(frame, arg)
            {
                frame.served.push(r);
            }
            return Val::Other;
        }
        let line = c.span().start().line;
        let args: Vec<&syn::Expr> = c.args.iter().collect();
        // `Ok(router)` / `Some(router)`: a fn returning `Result<Router, E>`
        // builds its router inside the variant.
        if let [inner] = args.as_slice()
            && matches!(last, "Ok" | "Some")
            && (segs.len() == 1 || matches!(prev, Some("Result" | "Option")))
        {
            return self.expr(frame, inner);
        }
        // Method-router constructors are known by name (`get(h)`,
        // `routing::get(h)`, a re-export of them, aide's `get_with(h, docs)`).
        if let Some((method, with)) = method_name(last)
            && args.len() == 1 + usize::from(with)
        {
            return Val::Method(vec![self.endpoint(frame, method, args[0], line)]);
        }
        if matches!(last, "on" | "on_with")
            && let [filter, h, ..] = args.as_slice()
        {
            let method = method_filter(filter);
            return Val::Method(vec![self.endpoint(frame, &method, h, line)]);
        }
        match self.resolve(frame, &fp.path) {
            Some(item @ (Item::Fn(..) | Item::ImplFn(..))) => {
                let bound = self.bound_params(frame, &item, &args);
                match self.fn_routers_with(&item, bound) {
                    Some(r) if self.returns_router(&item) => {
                        self.consumed.insert(item);
                        Val::Router(r)
                    }
                    _ => Val::Other,
                }
            }
            _ => {
                // A router built and served inside a task or callback
                // (`tokio::spawn(async move { .. axum::serve(l, app) })`)
                // is read in the same frame; what the call returns is not
                // known.
                for arg in &args {
                    if matches!(arg, syn::Expr::Async(_) | syn::Expr::Closure(_)) {
                        let _ = self.expr(frame, arg);
                    }
                }
                Val::Other
            }
        }
    }

    /// The fn's parameters whose call arguments are router values or
    /// known strings (a path prefix passed down).
    fn bound_params(
        &mut self,
        frame: &mut Frame,
        item: &Item,
        args: &[&syn::Expr],
    ) -> Vec<(String, Val)> {
        let Some((_, _, sig, _)) = self.fn_parts(item) else {
            return Vec::new();
        };
        let params: Vec<Option<String>> = sig
            .inputs
            .iter()
            .filter_map(|input| match input {
                syn::FnArg::Typed(t) => Some(match &*t.pat {
                    syn::Pat::Ident(id) => Some(id.ident.to_string()),
                    _ => None,
                }),
                syn::FnArg::Receiver(_) => None,
            })
            .collect();
        let mut bound = Vec::new();
        for (param, arg) in params.into_iter().zip(args) {
            let Some(name) = param else { continue };
            if let Some(v) = self.str_expr(frame, arg) {
                bound.push((name, Val::Str(v)));
                continue;
            }
            if let syn::Expr::Path(p) = arg {
                // A fn handed over as a value: the handler a helper
                // registers. A local holding one is passed on as is.
                let held = p
                    .path
                    .get_ident()
                    .and_then(|id| frame.locals.get(&id.to_string()));
                if let Some(v @ Val::Fn(_)) = held {
                    bound.push((name, v.clone()));
                    continue;
                }
                if held.is_none()
                    && let Some(item @ (Item::Fn(..) | Item::ImplFn(..))) =
                        self.resolve(frame, &p.path)
                {
                    bound.push((name, Val::Fn(item)));
                    continue;
                }
            }
            if !matches!(
                arg,
                syn::Expr::Path(_) | syn::Expr::MethodCall(_) | syn::Expr::Call(_)
            ) {
                continue;
            }
            if let v @ Val::Router(_) = self.expr(frame, arg) {
                bound.push((name, v));
            }
        }
        bound
    }

    fn returns_router(&self, item: &Item) -> bool {
        self.fn_parts(item)
            .is_some_and(|(_, _, sig, _)| match &sig.output {
                syn::ReturnType::Type(_, t) => is_router_type(t),
                syn::ReturnType::Default => false,
            })
    }

    fn endpoint(&self, frame: &Frame, method: &str, h: &syn::Expr, line: usize) -> Endpoint {
        let (handler, layers) = self.handler_layers(frame, h);
        Endpoint {
            method: method.to_ascii_uppercase(),
            path: String::new(),
            handler,
            layers,
            module: frame.module,
            line,
            condition: None,
        }
    }

    /// A handler and the layers put on it alone (`h.layer(l)`, innermost
    /// first); `h.with_state(s)` is `h`.
    fn handler_layers(&self, frame: &Frame, h: &syn::Expr) -> (Handler, Vec<Layer>) {
        match h {
            syn::Expr::MethodCall(mc) if mc.method == "layer" && mc.args.len() == 1 => {
                let (handler, mut layers) = self.handler_layers(frame, &mc.receiver);
                let line = mc.method.span().start().line;
                let mut new = self.layers_of(frame, &mc.args[0], line);
                new.reverse();
                layers.extend(new);
                (handler, layers)
            }
            syn::Expr::MethodCall(mc) if mc.method == "with_state" => {
                self.handler_layers(frame, &mc.receiver)
            }
            syn::Expr::Paren(p) => self.handler_layers(frame, &p.expr),
            _ => (self.handler(frame, h), Vec::new()),
        }
    }

    /// Resolves a path written in the frame's fn: `Self::x` through the
    /// type of its `impl`.
    fn resolve(&self, frame: &Frame, path: &syn::Path) -> Option<Item> {
        let mut segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        if segments.first().is_some_and(|s| s == "Self") {
            segments[0].clone_from(frame.self_ty.as_ref()?);
        }
        self.syms
            .resolve_segments(frame.module, &segments, path.leading_colon.is_some(), 0)
    }

    fn handler(&self, frame: &Frame, h: &syn::Expr) -> Handler {
        match h {
            syn::Expr::Closure(_) => Handler::Closure,
            // `get({ let spec = Arc::clone(&spec); move || .. })`: a block
            // that clones what the closure it ends in captures.
            syn::Expr::Block(b)
                if matches!(
                    b.block.stmts.last(),
                    Some(syn::Stmt::Expr(syn::Expr::Closure(_), None))
                ) =>
            {
                Handler::Closure
            }
            // A parameter bound to the fn its caller passed.
            syn::Expr::Path(p)
                if let Some(id) = p.path.get_ident()
                    && let Some(Val::Fn(item)) = frame.locals.get(&id.to_string()) =>
            {
                Handler::Resolved(item.clone())
            }
            syn::Expr::Path(p) => match self.resolve(frame, &p.path) {
                Some(item @ (Item::Fn(..) | Item::ImplFn(..))) => Handler::Resolved(item),
                Some(_) => Handler::Unknown(format!("`{}` is not a fn", text(&p.path))),
                None => Handler::Unknown(format!(
                    "`{}` does not resolve to a workspace fn",
                    text(&p.path)
                )),
            },
            other => Handler::Unknown(format!("handler expression `{}`", text(other))),
        }
    }
}

fn method_filter(e: &syn::Expr) -> String {
    match e {
        syn::Expr::Path(p) => p
            .path
            .segments
            .last()
            .map_or_else(|| text(p), |s| s.ident.to_string()),
        other => text(other),
    }
}
