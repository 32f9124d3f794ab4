//! Router discovery: router roots and an abstract interpretation of router
//! method chains with axum's layer semantics.

use std::collections::{HashMap, HashSet};

use syn::spanned::Spanned as _;

use crate::symbols::{Item, ModId, Symbols};

mod attrs;

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
    /// `#[cfg(..)]` on the statement or fn that adds it
    /// (`cfg(feature = "web")`) or the `if` it is added in
    /// (`if !config.open`), joined by `&&`.
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
    /// Where only one branch of an `if` adds it: the condition under which
    /// it is present (`cond` or `!(cond)`).
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
    /// where one `if` branch adds it.
    #[must_use]
    pub fn shown(&self) -> String {
        match &self.condition {
            Some(c) => format!("{} [only if {c}]", self.text),
            None => self.text.clone(),
        }
    }
}

fn text(tokens: &impl quote::ToTokens) -> String {
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

fn join(prefix: &str, path: &str) -> String {
    let prefix = prefix.trim_end_matches('/');
    if path == "/" || path.is_empty() {
        if prefix.is_empty() {
            "/".to_owned()
        } else {
            prefix.to_owned()
        }
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

/// A condition a route or layer is registered under.
#[derive(Debug, Clone)]
enum Cond {
    /// `if c` (`then`) or its negation (`else`).
    If(String),
    /// `#[cfg(..)]`, as written.
    Cfg(String),
}

impl Cond {
    fn endpoint(&self) -> String {
        match self {
            Self::If(c) => format!("if {c}"),
            Self::Cfg(c) => c.clone(),
        }
    }

    fn layer(&self) -> String {
        match self {
            Self::If(c) | Self::Cfg(c) => c.clone(),
        }
    }
}

fn negate(cond: &str) -> String {
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

fn and(a: Option<&str>, b: &str) -> String {
    match a {
        Some(a) if a != b => format!("{a} && {b}"),
        _ => b.to_owned(),
    }
}

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
    /// Routers held by locals or served, in order of creation.
    served: Vec<RouterVal>,
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
        found
            .into_iter()
            .filter(|(it, _)| !self.consumed.contains(it))
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
        if let Some(v) = self.memo.get(item) {
            return v.clone();
        }
        if !self.active.insert(item.clone()) {
            return None;
        }
        let result = self.fn_parts(item).and_then(|(module, attrs, sig, block)| {
            // A `#[cfg(test)]` fn is not served; another `#[cfg]` tags
            // what the fn builds.
            let mut cfgs = attrs::cfgs(&self.syms.ws.modules[module].cfgs)?;
            cfgs.extend(attrs::cfgs(attrs)?);
            let mut frame = Frame {
                module,
                locals: HashMap::new(),
                served: Vec::new(),
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
            let mut out = match ret {
                Val::Router(r) if returns_router || frame.served.is_empty() => Some(r),
                _ => {
                    let mut all = Vec::new();
                    for (_, v) in frame.locals.drain() {
                        if let Val::Router(r) = v {
                            all.push(r);
                        }
                    }
                    all.append(&mut frame.served);
                    // Keep the largest distinct sets; a fn usually builds one.
                    all.sort_by_key(|r| std::cmp::Reverse(r.eps.len()));
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
        self.memo.insert(item.clone(), result.clone());
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
                        let v = self.expr(frame, &init.expr);
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
            syn::Expr::Closure(c) => self.expr(frame, &c.body),
            syn::Expr::Return(r) => r.expr.as_ref().map_or(Val::Other, |x| self.expr(frame, x)),
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
            syn::Expr::Path(p) => match p.path.get_ident() {
                Some(id) => frame
                    .locals
                    .get(&id.to_string())
                    .cloned()
                    .unwrap_or(Val::Other),
                None => Val::Other,
            },
            syn::Expr::Tuple(t) => {
                // A layer tuple `(a, b)`: `a` is the outermost.
                let mut layers = Vec::new();
                for el in &t.elems {
                    layers.extend(self.layers(frame, el));
                }
                Val::Stack(layers)
            }
            syn::Expr::Macro(m) if m.mac.path.is_ident("routes") => self.utoipa_routes(frame, m),
            syn::Expr::Call(c) => self.call(frame, c),
            syn::Expr::MethodCall(mc) => self.method_call(frame, mc),
            _ => Val::Other,
        }
    }

    /// Both branches of an `if` are read: an endpoint behind a condition is
    /// still an endpoint, tagged with the condition it is registered under.
    fn if_expr(&mut self, frame: &mut Frame, i: &syn::ExprIf) -> Val {
        let cond = text(&*i.cond);
        frame.cond.push(Cond::If(cond.clone()));
        let then = self.block(frame, &i.then_branch);
        frame.cond.pop();
        let els = match &i.else_branch {
            Some((_, els)) => {
                frame.cond.push(Cond::If(negate(&cond)));
                let v = self.expr(frame, els);
                frame.cond.pop();
                v
            }
            None => Val::Other,
        };
        union(then, els, &cond)
    }

    /// Every arm of a `match` is read like the branches of an `if`, each
    /// under `scrutinee matches pattern`.
    fn match_expr(&mut self, frame: &mut Frame, m: &syn::ExprMatch) -> Val {
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
            Some(item @ (Item::Fn(..) | Item::ImplFn(..))) => match self.fn_routers(&item) {
                Some(r) if self.returns_router(&item) => {
                    self.consumed.insert(item);
                    Val::Router(r)
                }
                _ => Val::Other,
            },
            _ => Val::Other,
        }
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

    /// The layers of a `.layer(..)` argument, outermost first, without
    /// interpreting locals (for handler layers, read without a frame's
    /// mutable state).
    fn layers_of(&self, frame: &Frame, l: &syn::Expr, line: usize) -> Vec<Layer> {
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
    fn layers(&mut self, frame: &mut Frame, l: &syn::Expr) -> Vec<Layer> {
        let line = l.span().start().line;
        self.layers_of(frame, l, line)
    }

    fn add(frame: &Frame, r: &mut RouterVal, mut ep: Endpoint) {
        if let Some(c) = frame.endpoint_cond()
            && !ep.condition.as_deref().is_some_and(|e| e.contains(&c))
        {
            ep.condition = Some(and(ep.condition.as_deref(), &c));
        }
        for (call, open) in &mut r.calls {
            if *open {
                call.after.push(key(&ep));
            }
        }
        r.eps.push(ep);
    }

    /// Adds a nested or merged router's endpoints and layer calls.
    fn absorb(frame: &Frame, r: &mut RouterVal, inner: RouterVal, prefix: Option<&str>) {
        let fix = |p: &str| match prefix {
            Some(prefix) if p != "(fallback)" => join(prefix, p),
            _ => p.to_owned(),
        };
        for mut ep in inner.eps {
            ep.path = fix(&ep.path);
            Self::add(frame, r, ep);
        }
        for (mut call, _) in inner.calls {
            for (_, p) in call.covered.iter_mut().chain(call.after.iter_mut()) {
                *p = fix(p);
            }
            r.calls.push((call, false));
        }
    }

    fn unknown(frame: &Frame, path: String, reason: String, line: usize) -> Endpoint {
        Endpoint {
            method: "ANY".to_owned(),
            path,
            handler: Handler::Unknown(reason),
            layers: Vec::new(),
            module: frame.module,
            line,
            condition: None,
        }
    }

    fn path_arg(&self, frame: &Frame, p: &syn::Expr) -> String {
        self.syms
            .str_value(frame.module, p, 0)
            .or_else(|| str_lit(p))
            .unwrap_or_else(|| format!("{{{}}}", text(p)))
    }

    fn method_call(&mut self, frame: &mut Frame, mc: &syn::ExprMethodCall) -> Val {
        let recv = self.expr(frame, &mc.receiver);
        let name = mc.method.to_string();
        let line = mc.method.span().start().line;
        let args: Vec<&syn::Expr> = mc.args.iter().collect();
        match recv {
            Val::Method(mut eps) => {
                if let Some((method, with)) = method_name(&name)
                    && args.len() == 1 + usize::from(with)
                {
                    eps.push(self.endpoint(frame, method, args[0], line));
                } else if matches!(name.as_str(), "on" | "on_with")
                    && let [filter, h, ..] = args.as_slice()
                {
                    eps.push(self.endpoint(frame, &method_filter(filter), h, line));
                } else if matches!(name.as_str(), "layer" | "route_layer")
                    && let [l] = args.as_slice()
                {
                    let mut new = self.layers(frame, l);
                    new.reverse();
                    for ep in &mut eps {
                        ep.layers.extend(new.iter().cloned());
                    }
                }
                Val::Method(eps)
            }
            Val::Stack(mut layers) => {
                match (name.as_str(), args.as_slice()) {
                    ("layer", [l]) => layers.extend(self.layers(frame, l)),
                    ("into_inner" | "service" | "check_clone" | "boxed" | "boxed_clone", _) => {}
                    (n, _) if n.starts_with("check_") => {}
                    _ => layers.extend(stack_method(frame, mc, line)),
                }
                Val::Stack(layers)
            }
            Val::Router(mut r) => {
                self.router_method(frame, &mut r, &name, &args, line);
                Val::Router(r)
            }
            Val::Other => {
                for a in args {
                    if let Val::Router(r) = self.expr(frame, a) {
                        frame.served.push(r);
                    }
                }
                Val::Other
            }
        }
    }

    fn router_method(
        &mut self,
        frame: &mut Frame,
        r: &mut RouterVal,
        name: &str,
        args: &[&syn::Expr],
        line: usize,
    ) {
        match (name, args) {
            ("route" | "api_route", [p, m]) | ("api_route_with", [p, m, _]) => {
                let path = self.path_arg(frame, p);
                if let Val::Method(new) = self.expr(frame, m) {
                    for mut ep in new {
                        ep.path.clone_from(&path);
                        ep.line = line;
                        Self::add(frame, r, ep);
                    }
                } else {
                    let reason = match m {
                        syn::Expr::Macro(mac) => {
                            format!("router built by macro `{}!`", text(&mac.mac.path))
                        }
                        _ => format!("method router `{}` not understood", text(*m)),
                    };
                    Self::add(frame, r, Self::unknown(frame, path, reason, line));
                }
            }
            // utoipa-axum: `routes!(a, b)` carries its own paths.
            ("routes", [m]) => match self.expr(frame, m) {
                Val::Method(new) => {
                    for ep in new {
                        Self::add(frame, r, ep);
                    }
                }
                _ => Self::add(
                    frame,
                    r,
                    Self::unknown(
                        frame,
                        "(routes)".to_owned(),
                        format!("`routes` argument `{}` not understood", text(*m)),
                        line,
                    ),
                ),
            },
            ("route_service" | "nest_service", [p, s]) => {
                let path = self.path_arg(frame, p);
                let mut ep = Self::unknown(frame, path, String::new(), line);
                ep.handler = Handler::Service(text(*s));
                Self::add(frame, r, ep);
            }
            ("fallback" | "fallback_service", [h]) => {
                let handler = if name == "fallback" {
                    self.handler(frame, h)
                } else {
                    Handler::Service(text(*h))
                };
                let mut ep = Self::unknown(frame, "(fallback)".to_owned(), String::new(), line);
                ep.handler = handler;
                Self::add(frame, r, ep);
            }
            ("nest" | "nest_api_service", [p, inner]) => {
                let prefix = self.path_arg(frame, p);
                match self.expr(frame, inner) {
                    Val::Router(i) => Self::absorb(frame, r, i, Some(&prefix)),
                    _ => {
                        let reason = match inner {
                            syn::Expr::Macro(m) => {
                                format!("router built by macro `{}!`", text(&m.mac.path))
                            }
                            _ => format!("nested router `{}` not understood", text(*inner)),
                        };
                        Self::add(frame, r, Self::unknown(frame, prefix, reason, line));
                    }
                }
            }
            ("merge", [inner]) => match self.expr(frame, inner) {
                Val::Router(i) => Self::absorb(frame, r, i, None),
                _ => {
                    let reason = match inner {
                        syn::Expr::Macro(m) => {
                            format!("router built by macro `{}!`", text(&m.mac.path))
                        }
                        _ => format!("merged router `{}` not understood", text(*inner)),
                    };
                    Self::add(
                        frame,
                        r,
                        Self::unknown(frame, "(merged)".to_owned(), reason, line),
                    );
                }
            },
            // axum: `layer` wraps every route (and fallback) added so far;
            // `route_layer` the routes only. Later routes are not wrapped.
            ("layer" | "route_layer", [l]) => {
                let route_layer = name == "route_layer";
                let mut new = self.layers(frame, l);
                new.reverse();
                let mut covered = Vec::new();
                for ep in r
                    .eps
                    .iter_mut()
                    .filter(|e| !route_layer || e.path != "(fallback)")
                {
                    ep.layers.extend(new.iter().cloned());
                    covered.push(key(ep));
                }
                r.calls.push((
                    LayerCall {
                        layer: frame.layer(l, line),
                        route_layer,
                        covered,
                        after: Vec::new(),
                    },
                    true,
                ));
            }
            (typed, [h]) if typed.starts_with("typed_") => {
                if let Some((method, false)) = method_name(&typed["typed_".len()..]) {
                    let mut ep = self.endpoint(frame, method, h, line);
                    ep.path = self
                        .typed_path(frame, h)
                        .unwrap_or_else(|| format!("{{typed path of {}}}", text(*h)));
                    Self::add(frame, r, ep);
                }
            }
            (n, _) if PASS_THROUGH.contains(&n) => {}
            _ => self.extension(frame, r, name, line),
        }
    }

    /// A method on a router that is not axum's: an extension trait. Where
    /// its impl for a router type is in the workspace, its body is read
    /// with `self` the router; otherwise it may add routes or layers this
    /// reader cannot see, and says so with one unknown endpoint.
    fn extension(&mut self, frame: &Frame, r: &mut RouterVal, name: &str, line: usize) {
        let found = self
            .syms
            .ws
            .modules
            .iter()
            .enumerate()
            .find_map(|(m, module)| {
                module.items.iter().find_map(|it| match it {
                    syn::Item::Impl(i) if i.trait_.is_some() && is_router_type(&i.self_ty) => {
                        i.items.iter().find_map(|ii| match ii {
                            syn::ImplItem::Fn(f)
                                if f.sig.ident == name && f.sig.receiver().is_some() =>
                            {
                                Some((m, f))
                            }
                            _ => None,
                        })
                    }
                    _ => None,
                })
            });
        let Some((m, f)) = found else {
            if let Some(ty) = &r.custom {
                // The builder's own method (`GuardedRouter::build`): the
                // router it makes from this value is this value, not a
                // root of its own.
                for m in 0..self.syms.ws.modules.len() {
                    if self.syms.impl_fn(m, ty, name).is_some() {
                        self.consumed
                            .insert(Item::ImplFn(m, ty.clone(), name.to_owned()));
                    }
                }
                return;
            }
            let ep = Self::unknown(
                frame,
                format!("(.{name})"),
                format!(
                    "router method `{name}` is not axum's and its impl is not in the workspace: \
                     it may add routes or layers"
                ),
                line,
            );
            Self::add(frame, r, ep);
            return;
        };
        let key = Item::ImplFn(m, "Router".to_owned(), name.to_owned());
        if !self.active.insert(key.clone()) {
            return;
        }
        let mut inner = Frame {
            module: m,
            locals: HashMap::from([("self".to_owned(), Val::Router(r.clone()))]),
            served: Vec::new(),
            cond: frame.cond.clone(),
            self_ty: None,
        };
        if let Val::Router(new) = self.block(&mut inner, &f.block) {
            *r = new;
        }
        self.active.remove(&key);
    }

    /// axum-extra `RouterExt::typed_*`: the path of the `#[typed_path]`
    /// struct the handler takes first (or names in its turbofish).
    fn typed_path(&self, frame: &Frame, h: &syn::Expr) -> Option<String> {
        let module = frame.module;
        let syn::Expr::Path(p) = h else {
            return None;
        };
        // `get_file::<RepoPath>`: the turbofish type, resolved here.
        let turbofish = p.path.segments.last().and_then(|s| match &s.arguments {
            syn::PathArguments::AngleBracketed(a) => a.args.iter().find_map(|g| match g {
                syn::GenericArgument::Type(syn::Type::Path(t)) => Some(t.path.clone()),
                _ => None,
            }),
            _ => None,
        });
        if let Some(ty) = turbofish
            && let Some(path) = self.type_typed_path(module, &ty)
        {
            return Some(path);
        }
        // Else the type of the handler's first argument, resolved where
        // the handler is defined.
        let item = self.resolve(frame, &p.path)?;
        let (hm, _, sig, _) = self.fn_parts(&item)?;
        let first = sig.inputs.iter().find_map(|i| match i {
            syn::FnArg::Typed(t) => Some(&*t.ty),
            syn::FnArg::Receiver(_) => None,
        })?;
        let syn::Type::Path(tp) = first else {
            return None;
        };
        self.type_typed_path(hm, &tp.path)
    }

    fn type_typed_path(&self, module: ModId, ty: &syn::Path) -> Option<String> {
        let Some(Item::Type(m, name)) = self.syms.resolve(module, ty) else {
            return None;
        };
        self.syms.ws.modules[m]
            .items
            .iter()
            .find_map(|it| match it {
                syn::Item::Struct(s) if s.ident == name => attrs::typed_path(&s.attrs),
                syn::Item::Enum(e) if e.ident == name => attrs::typed_path(&e.attrs),
                _ => None,
            })
    }

    /// utoipa-axum `routes!(a, b)`: each handler's method(s) and path from
    /// its `#[utoipa::path(..)]`.
    fn utoipa_routes(&self, frame: &Frame, m: &syn::ExprMacro) -> Val {
        let line = m.mac.path.span().start().line;
        let Ok(handlers) = m.mac.parse_body_with(
            syn::punctuated::Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated,
        ) else {
            return Val::Method(vec![Self::unknown(
                frame,
                "(routes!)".to_owned(),
                "router built by macro `routes!`".to_owned(),
                line,
            )]);
        };
        let mut eps = Vec::new();
        for h in &handlers {
            let handler = self.handler(frame, h);
            let spec = match &handler {
                Handler::Resolved(item) => self
                    .fn_parts(item)
                    .and_then(|(_, attrs, _, _)| attrs::utoipa_path(attrs)),
                _ => None,
            };
            match spec {
                Some((methods, Some(path))) if !methods.is_empty() => {
                    for method in methods {
                        eps.push(Endpoint {
                            method: method.to_ascii_uppercase(),
                            path: path.clone(),
                            handler: handler.clone(),
                            layers: Vec::new(),
                            module: frame.module,
                            line,
                            condition: None,
                        });
                    }
                }
                _ => eps.push(Self::unknown(
                    frame,
                    format!("{{path of {}}}", text(h)),
                    match handler {
                        Handler::Unknown(reason) => reason,
                        _ => format!("no `#[utoipa::path(method, path = ..)]` on `{}`", text(h)),
                    },
                    line,
                )),
            }
        }
        Val::Method(eps)
    }
}

/// The union of two branches' values: the routes both hold once, a layer
/// only one side adds marked with a condition, never plain; the same
/// registration under a prefix only one side adds is one endpoint.
fn union(then: Val, els: Val, cond: &str) -> Val {
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

fn t_layers(t: &RouterVal, o: &Endpoint) -> Vec<Layer> {
    t.eps
        .iter()
        .find(|x| key(x) == key(o) && x.line == o.line)
        .map(|x| x.layers.clone())
        .unwrap_or_default()
}

/// Whether a method chain starts at `ServiceBuilder::new()`.
fn builder(e: &syn::Expr) -> Option<&syn::ExprCall> {
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
fn stack(frame: &Frame, e: &syn::Expr) -> Vec<Layer> {
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
fn stack_method(frame: &Frame, mc: &syn::ExprMethodCall, line: usize) -> Vec<Layer> {
    let mut one = mc.clone();
    one.receiver = Box::new(syn::parse_quote!(ServiceBuilder::new()));
    vec![frame.layer(&syn::Expr::MethodCall(one), line)]
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
