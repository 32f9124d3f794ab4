//! Router discovery: router roots and an abstract interpretation of router
//! method chains with axum's layer semantics.

use std::collections::{HashMap, HashSet};

use syn::spanned::Spanned as _;

use crate::symbols::{Item, ModId, Symbols};

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

#[derive(Debug, Clone)]
enum Val {
    Router(Vec<Endpoint>),
    Method(Vec<Endpoint>),
    Other,
}

const METHODS: [&str; 9] = [
    "get", "post", "put", "patch", "delete", "head", "options", "trace", "any",
];

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

/// The interpreter's state over a workspace.
#[derive(Debug)]
pub struct Discovery<'s, 'w> {
    syms: &'s Symbols<'w>,
    memo: HashMap<Item, Option<Vec<Endpoint>>>,
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
}

struct Frame {
    module: ModId,
    locals: HashMap<String, Val>,
    /// Routers held by locals or served, in order of creation.
    served: Vec<Vec<Endpoint>>,
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
        let mut found: Vec<(Item, Vec<Endpoint>)> = Vec::new();
        for (m, module) in self.syms.ws.modules.iter().enumerate() {
            for item in &module.items {
                match item {
                    syn::Item::Fn(f) => {
                        let it = Item::Fn(m, f.sig.ident.to_string());
                        if let Some(eps) = self.fn_routers(&it) {
                            found.push((it, eps));
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
                                if let Some(eps) = self.fn_routers(&it) {
                                    found.push((it, eps));
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
            .map(|(it, endpoints)| Root {
                function: self.syms.display(&it),
                endpoints,
            })
            .collect()
    }

    fn fn_parts(&self, item: &Item) -> Option<(ModId, &'w syn::Signature, &'w syn::Block)> {
        match item {
            Item::Fn(m, n) => self.syms.fn_item(*m, n).map(|f| (*m, &f.sig, &*f.block)),
            Item::ImplFn(m, t, n) => self.syms.impl_fn(*m, t, n).map(|f| (*m, &f.sig, &f.block)),
            _ => None,
        }
    }

    /// The routers a fn builds: its returned router, or the routers it
    /// holds in locals / serves.
    fn fn_routers(&mut self, item: &Item) -> Option<Vec<Endpoint>> {
        if let Some(v) = self.memo.get(item) {
            return v.clone();
        }
        if !self.active.insert(item.clone()) {
            return None;
        }
        let result = self.fn_parts(item).and_then(|(module, sig, block)| {
            let mut frame = Frame {
                module,
                locals: HashMap::new(),
                served: Vec::new(),
            };
            let ret = self.block(&mut frame, block);
            let returns_router = match &sig.output {
                syn::ReturnType::Type(_, t) => is_router_type(t),
                syn::ReturnType::Default => false,
            };
            match ret {
                Val::Router(eps) if returns_router || frame.served.is_empty() => Some(eps),
                _ => {
                    let mut all = Vec::new();
                    for (_, v) in frame.locals.drain() {
                        if let Val::Router(eps) = v {
                            all.push(eps);
                        }
                    }
                    all.append(&mut frame.served);
                    // Keep the largest distinct sets; a fn usually builds one.
                    all.sort_by_key(|e| std::cmp::Reverse(e.len()));
                    all.into_iter().next().filter(|e| !e.is_empty())
                }
            }
        });
        self.active.remove(item);
        self.memo.insert(item.clone(), result.clone());
        result
    }

    fn block(&mut self, frame: &mut Frame, block: &syn::Block) -> Val {
        let mut last = Val::Other;
        for stmt in &block.stmts {
            last = Val::Other;
            match stmt {
                syn::Stmt::Local(local) => {
                    if let Some(init) = &local.init {
                        let v = self.expr(frame, &init.expr);
                        if let Some(name) = pat_name(&local.pat) {
                            frame.locals.insert(name, v);
                        }
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
        }
        last
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
            syn::Expr::If(i) => {
                // Both branches are taken: an endpoint behind a condition is
                // still an endpoint.
                // As a value (`let r = if c { r.layer(l) } else { r };`).
                let then = self.block(frame, &i.then_branch);
                let els = match &i.else_branch {
                    Some((_, els)) => self.expr(frame, els),
                    None => Val::Other,
                };
                match (then, els) {
                    (Val::Router(t), Val::Router(e))
                        if t.len() == e.len()
                            && t.iter()
                                .zip(&e)
                                .all(|(a, b)| (&a.method, &a.path) == (&b.method, &b.path)) =>
                    {
                        // The same routes on both sides: a layer only one
                        // branch adds is marked conditional, never plain.
                        let cond = text(&*i.cond);
                        let mut out = e.clone();
                        for ((o, t), e) in out.iter_mut().zip(&t).zip(&e) {
                            let has =
                                |list: &[Layer], l: &Layer| list.iter().any(|x| x.text == l.text);
                            o.layers.retain(|l| has(&t.layers, l));
                            for l in t.layers.iter().filter(|l| !has(&e.layers, l)) {
                                let mut l = l.clone();
                                l.condition = Some(cond.clone());
                                o.layers.push(l);
                            }
                            for l in e.layers.iter().filter(|l| !has(&t.layers, l)) {
                                let mut l = l.clone();
                                l.condition = Some(format!("!({cond})"));
                                o.layers.push(l);
                            }
                        }
                        Val::Router(out)
                    }
                    (Val::Router(eps), _) | (_, Val::Router(eps)) => Val::Router(eps),
                    _ => Val::Other,
                }
            }
            syn::Expr::Path(p) => match p.path.get_ident() {
                Some(id) => frame
                    .locals
                    .get(&id.to_string())
                    .cloned()
                    .unwrap_or(Val::Other),
                None => Val::Other,
            },
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
        if last == "new" && prev.is_some_and(|p| p.ends_with("Router")) {
            return Val::Router(Vec::new());
        }
        if last == "serve" && c.args.len() == 2 {
            if let Some(arg) = c.args.iter().nth(1)
                && let Val::Router(eps) = self.expr(frame, arg)
            {
                frame.served.push(eps);
            }
            return Val::Other;
        }
        let line = c.span().start().line;
        // Method-router constructors are known by name (`get(h)`,
        // `routing::get(h)`, a re-export of them).
        if METHODS.contains(&last)
            && let [h] = c.args.iter().collect::<Vec<_>>().as_slice()
        {
            return Val::Method(vec![self.endpoint(frame, last, h, line)]);
        }
        if last == "on" && c.args.len() == 2 {
            let mut args = c.args.iter();
            if let (Some(filter), Some(h)) = (args.next(), args.next()) {
                let method = method_filter(filter);
                return Val::Method(vec![self.endpoint(frame, &method, h, line)]);
            }
        }
        match self.syms.resolve(frame.module, &fp.path) {
            Some(item @ (Item::Fn(..) | Item::ImplFn(..))) => match self.fn_routers(&item) {
                Some(eps) if self.returns_router(&item) => {
                    self.consumed.insert(item);
                    Val::Router(eps)
                }
                _ => Val::Other,
            },
            _ => Val::Other,
        }
    }

    fn returns_router(&self, item: &Item) -> bool {
        self.fn_parts(item)
            .is_some_and(|(_, sig, _)| match &sig.output {
                syn::ReturnType::Type(_, t) => is_router_type(t),
                syn::ReturnType::Default => false,
            })
    }

    fn endpoint(&self, frame: &Frame, method: &str, h: &syn::Expr, line: usize) -> Endpoint {
        Endpoint {
            method: method.to_ascii_uppercase(),
            path: String::new(),
            handler: self.handler(frame.module, h),
            layers: Vec::new(),
            module: frame.module,
            line,
        }
    }

    fn handler(&self, module: ModId, h: &syn::Expr) -> Handler {
        match h {
            syn::Expr::Closure(_) => Handler::Closure,
            syn::Expr::Path(p) => match self.syms.resolve(module, &p.path) {
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

    fn method_call(&mut self, frame: &mut Frame, mc: &syn::ExprMethodCall) -> Val {
        let recv = self.expr(frame, &mc.receiver);
        let name = mc.method.to_string();
        let line = mc.method.span().start().line;
        let args: Vec<&syn::Expr> = mc.args.iter().collect();
        match recv {
            Val::Method(mut eps) => {
                if METHODS.contains(&name.as_str())
                    && let [h] = args.as_slice()
                {
                    eps.push(self.endpoint(frame, &name, h, line));
                } else if name == "on"
                    && let [filter, h] = args.as_slice()
                {
                    eps.push(self.endpoint(frame, &method_filter(filter), h, line));
                } else if name == "layer"
                    && let [l] = args.as_slice()
                {
                    for ep in &mut eps {
                        ep.layers.push(Layer::new(l, frame.module, line));
                    }
                }
                Val::Method(eps)
            }
            Val::Router(mut eps) => {
                match (name.as_str(), args.as_slice()) {
                    ("route", [p, m]) => {
                        let path = str_lit(p).unwrap_or_else(|| format!("{{{}}}", text(*p)));
                        if let Val::Method(new) = self.expr(frame, m) {
                            for mut ep in new {
                                ep.path.clone_from(&path);
                                ep.line = line;
                                eps.push(ep);
                            }
                        } else {
                            eps.push(Endpoint {
                                method: "ANY".to_owned(),
                                path,
                                handler: Handler::Unknown(format!(
                                    "method router `{}` not understood",
                                    text(*m)
                                )),
                                layers: Vec::new(),
                                module: frame.module,
                                line,
                            });
                        }
                    }
                    ("route_service" | "nest_service", [p, s]) => {
                        let path = str_lit(p).unwrap_or_else(|| format!("{{{}}}", text(*p)));
                        eps.push(Endpoint {
                            method: "ANY".to_owned(),
                            path,
                            handler: Handler::Service(text(*s)),
                            layers: Vec::new(),
                            module: frame.module,
                            line,
                        });
                    }
                    ("fallback" | "fallback_service", [h]) => {
                        let handler = if name == "fallback" {
                            self.handler(frame.module, h)
                        } else {
                            Handler::Service(text(*h))
                        };
                        eps.push(Endpoint {
                            method: "ANY".to_owned(),
                            path: "(fallback)".to_owned(),
                            handler,
                            layers: Vec::new(),
                            module: frame.module,
                            line,
                        });
                    }
                    ("nest", [p, r]) => {
                        let prefix = str_lit(p).unwrap_or_else(|| format!("{{{}}}", text(*p)));
                        match self.expr(frame, r) {
                            Val::Router(inner) => {
                                for mut ep in inner {
                                    if ep.path != "(fallback)" {
                                        ep.path = join(&prefix, &ep.path);
                                    }
                                    eps.push(ep);
                                }
                            }
                            _ => eps.push(Endpoint {
                                method: "ANY".to_owned(),
                                path: prefix,
                                handler: Handler::Unknown(format!(
                                    "nested router `{}` not understood",
                                    text(*r)
                                )),
                                layers: Vec::new(),
                                module: frame.module,
                                line,
                            }),
                        }
                    }
                    ("merge", [r]) => match self.expr(frame, r) {
                        Val::Router(inner) => eps.extend(inner),
                        _ => eps.push(Endpoint {
                            method: "ANY".to_owned(),
                            path: "(merged)".to_owned(),
                            handler: Handler::Unknown(format!(
                                "merged router `{}` not understood",
                                text(*r)
                            )),
                            layers: Vec::new(),
                            module: frame.module,
                            line,
                        }),
                    },
                    // axum: `layer` wraps every route (and fallback) added
                    // so far; `route_layer` the routes only. Later routes
                    // are not wrapped.
                    ("layer", [l]) => {
                        for ep in &mut eps {
                            ep.layers.push(Layer::new(l, frame.module, line));
                        }
                    }
                    ("route_layer", [l]) => {
                        for ep in eps.iter_mut().filter(|e| e.path != "(fallback)") {
                            ep.layers.push(Layer::new(l, frame.module, line));
                        }
                    }
                    _ => {}
                }
                Val::Router(eps)
            }
            Val::Other => {
                for a in args {
                    if let Val::Router(eps) = self.expr(frame, a) {
                        frame.served.push(eps);
                    }
                }
                Val::Other
            }
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

fn pat_name(p: &syn::Pat) -> Option<String> {
    match p {
        syn::Pat::Ident(i) => Some(i.ident.to_string()),
        syn::Pat::Type(t) => pat_name(&t.pat),
        _ => None,
    }
}
