//! Routes whose path is not a `.route` argument: axum-extra typed paths
//! (`#[typed_path]`) and utoipa-axum `routes!` (`#[utoipa::path]`).

use super::*;

impl Discovery<'_, '_> {
    /// axum-extra `RouterExt::typed_*`: the path of the `#[typed_path]`
    /// struct the handler takes first (or names in its turbofish).
    pub(super) fn typed_path(&self, frame: &Frame, h: &syn::Expr) -> Option<String> {
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

    pub(super) fn type_typed_path(&self, module: ModId, ty: &syn::Path) -> Option<String> {
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
    pub(super) fn utoipa_routes(&self, frame: &Frame, m: &syn::ExprMacro) -> Val {
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
