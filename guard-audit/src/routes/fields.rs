//! Routers and method routers held by a workspace struct: a method called
//! on a parameter of that struct's type (`database_routes.into_router(ctx)`
//! with `database_routes: DatabaseRoutes<S>`), and `self.field` read inside
//! it, valued as the struct's `Default` impl sets it
//! (`Self { db_put: put(publish::<S>), .. }`).

use super::*;

/// The last segment of a type's path with `&`, `Arc`/`Box` peeled off.
pub(super) fn type_name(ty: &syn::Type) -> Option<String> {
    match ty {
        syn::Type::Reference(r) => type_name(&r.elem),
        syn::Type::Paren(p) => type_name(&p.elem),
        syn::Type::Path(p) if p.qself.is_none() => {
            let last = p.path.segments.last()?;
            let name = last.ident.to_string();
            if matches!(name.as_str(), "Arc" | "Box" | "Rc")
                && let syn::PathArguments::AngleBracketed(a) = &last.arguments
                && let Some(syn::GenericArgument::Type(inner)) = a.args.first()
            {
                return type_name(inner);
            }
            Some(name)
        }
        _ => None,
    }
}

impl Discovery<'_, '_> {
    /// The impl fn `ty::name` wherever in the workspace it is.
    fn impl_fn_anywhere(&self, ty: &str, name: &str) -> Option<Item> {
        (0..self.syms.ws.modules.len())
            .find(|&m| self.syms.impl_fn(m, ty, name).is_some())
            .map(|m| Item::ImplFn(m, ty.to_owned(), name.to_owned()))
    }

    /// `recv.method(..)` where `recv` is a parameter whose declared type is
    /// a workspace type with that method returning a router.
    pub(super) fn typed_method_router(
        &mut self,
        frame: &Frame,
        mc: &syn::ExprMethodCall,
    ) -> Option<Val> {
        let syn::Expr::Path(p) = &*mc.receiver else {
            return None;
        };
        let id = p.path.get_ident()?.to_string();
        let ty = frame.types.get(&id)?;
        let item = self.impl_fn_anywhere(ty, &mc.method.to_string())?;
        if !self.returns_router(&item) {
            return None;
        }
        let r = self.fn_routers_with(&item, Vec::new())?;
        self.consumed.insert(item);
        Some(Val::Router(r))
    }

    /// `self.field` in an impl fn of a workspace struct: the field's value
    /// in the struct literal of its `impl Default`.
    pub(super) fn default_field(&mut self, frame: &Frame, f: &syn::ExprField) -> Option<Val> {
        let syn::Expr::Path(base) = &*f.base else {
            return None;
        };
        if !base.path.is_ident("self") {
            return None;
        }
        let syn::Member::Named(field) = &f.member else {
            return None;
        };
        let ty = frame.self_ty.as_deref()?;
        let Some(Item::ImplFn(m, ..)) = self.impl_fn_anywhere(ty, "default") else {
            return None;
        };
        let body = self.syms.impl_fn(m, ty, "default")?;
        let Some(syn::Stmt::Expr(syn::Expr::Struct(lit), None)) = body.block.stmts.last() else {
            return None;
        };
        let value = lit.fields.iter().find_map(|fv| match &fv.member {
            syn::Member::Named(n) if n == field => Some(&fv.expr),
            _ => None,
        })?;
        let mut inner = Frame {
            module: m,
            locals: HashMap::new(),
            types: HashMap::new(),
            served: Vec::new(),
            returned: Vec::new(),
            cond: frame.cond.clone(),
            self_ty: Some(ty.to_owned()),
        };
        match self.expr(&mut inner, value) {
            Val::Other => None,
            v => Some(v),
        }
    }
}
