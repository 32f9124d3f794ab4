//! Method calls on router values: axum's `Router` API, aide's and
//! utoipa-axum's additions, and extension traits.

use super::stack::stack_method;
use super::*;

impl Discovery<'_, '_> {
    pub(super) fn method_call(&mut self, frame: &mut Frame, mc: &syn::ExprMethodCall) -> Val {
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
            Val::Other | Val::Str(_) | Val::Fn(_) => {
                if let Some(v) = self.typed_method_router(frame, mc) {
                    return v;
                }
                for a in args {
                    if let Val::Router(r) = self.expr(frame, a) {
                        frame.served.push(r);
                    }
                }
                Val::Other
            }
        }
    }

    pub(super) fn router_method(
        &mut self,
        frame: &mut Frame,
        r: &mut RouterVal,
        name: &str,
        args: &[&syn::Expr],
        line: usize,
    ) {
        match (name, args) {
            ("route" | "api_route", [p, m]) | ("api_route_with", [p, m, _]) => {
                let (path, cond) = self.path_arg_cond(frame, p);
                if let Val::Method(new) = self.expr(frame, m) {
                    for mut ep in new {
                        ep.path.clone_from(&path);
                        ep.line = line;
                        if let Some(c) = &cond {
                            ep.condition = Some(and(ep.condition.as_deref(), c));
                        }
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
                // `get_service(svc)` answers one method (and `HEAD` with
                // `GET`): the service is registered for it alone.
                if let Some(method) = service_method(s) {
                    ep.method = method;
                }
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
                let (mut prefix, mut cond) = self.path_arg_cond(frame, p);
                let shown = prefix.clone();
                // A prefix read wholly at run time (`.nest(&prefix, r)`):
                // the nested routes keep their paths, under that prefix.
                if cond.is_none()
                    && prefix.starts_with('{')
                    && let Some(value) = self.runtime_value(frame, p)
                {
                    prefix = String::new();
                    cond = Some(format!("under the run-time prefix `{value}`"));
                }
                match self.expr(frame, inner) {
                    Val::Router(mut i) => {
                        if let Some(c) = &cond {
                            for ep in i.eps.iter_mut().filter(|e| !e.path.starts_with('(')) {
                                ep.condition = Some(and(ep.condition.as_deref(), c));
                            }
                        }
                        Self::absorb(frame, r, i, Some(&prefix));
                    }
                    _ => {
                        let reason = match inner {
                            syn::Expr::Macro(m) => {
                                format!("router built by macro `{}!`", text(&m.mac.path))
                            }
                            _ => format!("nested router `{}` not understood", text(*inner)),
                        };
                        Self::add(frame, r, Self::unknown(frame, shown, reason, line));
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
    pub(super) fn extension(&mut self, frame: &Frame, r: &mut RouterVal, name: &str, line: usize) {
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
            types: HashMap::new(),
            served: Vec::new(),
            returned: Vec::new(),
            cond: frame.cond.clone(),
            self_ty: None,
        };
        if let Val::Router(new) = self.block(&mut inner, &f.block) {
            *r = new;
        }
        self.active.remove(&key);
    }

    pub(super) fn path_arg(&self, frame: &Frame, p: &syn::Expr) -> String {
        self.path_arg_cond(frame, p).0
    }

    /// The path, and the condition a run-time prefix puts on it
    /// (``under the run-time prefix `cfg.base_path` ``): the known rest is
    /// the route the service answers under that prefix.
    pub(super) fn path_arg_cond(&self, frame: &Frame, p: &syn::Expr) -> (String, Option<String>) {
        if let Some(s) = self.str_expr(frame, p).or_else(|| str_lit(p)) {
            return (s, None);
        }
        match self.runtime_prefixed(frame, p) {
            Some((path, prefix)) => (path, Some(format!("under the run-time prefix `{prefix}`"))),
            None => (format!("{{{}}}", text(p)), None),
        }
    }

    pub(super) fn add(frame: &Frame, r: &mut RouterVal, mut ep: Endpoint) {
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
    pub(super) fn absorb(frame: &Frame, r: &mut RouterVal, inner: RouterVal, prefix: Option<&str>) {
        // Markers (`(fallback)`, `(merged)`, `(.ext)`, `(name!)`) are no
        // paths: a prefix would make `/v1(merged)` look like an endpoint.
        let fix = |p: &str| match prefix {
            Some(prefix) if !p.starts_with('(') => join(prefix, p),
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

    pub(super) fn unknown(frame: &Frame, path: String, reason: String, line: usize) -> Endpoint {
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
}

/// The method a `get_service(..)`-style constructor restricts a service to
/// (`routing::post_service(svc).layer(..)` too); `None` for a bare service.
fn service_method(e: &syn::Expr) -> Option<String> {
    match e {
        syn::Expr::MethodCall(m) if m.method == "layer" || m.method == "route_layer" => {
            service_method(&m.receiver)
        }
        syn::Expr::Paren(p) => service_method(&p.expr),
        syn::Expr::Call(c) => {
            let syn::Expr::Path(f) = &*c.func else {
                return None;
            };
            let name = f.path.segments.last()?.ident.to_string();
            let method = name.strip_suffix("_service")?;
            matches!(
                method,
                "get" | "post" | "put" | "delete" | "patch" | "head" | "options" | "trace"
            )
            .then(|| method.to_ascii_uppercase())
        }
        _ => None,
    }
}
