//! The symbol table: per module its fns, impl fns, structs, child modules
//! and `use` entries, and a resolver that follows paths through them (never
//! by a bare name looked up across modules).

use std::collections::HashMap;

use crate::load::Workspace;

/// A module's index in [`Workspace::modules`].
pub type ModId = usize;

/// What a path resolves to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Item {
    /// A free fn of a module.
    Fn(ModId, String),
    /// An associated fn: module, type, fn.
    ImplFn(ModId, String, String),
    /// A struct or enum.
    Type(ModId, String),
    /// A module.
    Module(ModId),
}

#[derive(Debug, Clone)]
struct UseEntry {
    /// The segments as written (`crate`, `self`, `super`, a crate or a name).
    target: Vec<String>,
    /// Whether the path began with `::`.
    global: bool,
}

/// One module's names.
#[derive(Debug, Default)]
pub struct Scope {
    fns: HashMap<String, usize>,
    /// `const` and `static` items, by item index.
    consts: HashMap<String, usize>,
    impl_fns: HashMap<(String, String), ()>,
    types: HashMap<String, ()>,
    children: HashMap<String, ModId>,
    uses: HashMap<String, UseEntry>,
    globs: Vec<UseEntry>,
}

/// The symbol table of a workspace.
#[derive(Debug)]
pub struct Symbols<'w> {
    /// The workspace.
    pub ws: &'w Workspace,
    scopes: Vec<Scope>,
    by_path: HashMap<(String, Vec<String>), ModId>,
    /// Each crate's root module, by crate name (`resolve` asks for it on
    /// every path that starts outside the module: kept allocation-free).
    roots: HashMap<String, ModId>,
    /// Each module's parent (`None` for a crate root).
    parents: Vec<Option<ModId>>,
    /// `lookup` results that did not depend on a cut (a cycle or the
    /// depth limit), by module and name: a failing name (`get`, `Json`)
    /// otherwise walks every glob import again on every path.
    memo: std::cell::RefCell<HashMap<(ModId, String), Option<Item>>>,
    /// Lookups under way (a glob cycle is cut there).
    active: std::cell::RefCell<std::collections::HashSet<(ModId, String)>>,
    /// How many cuts happened so far; a lookup during which it grew is not
    /// memoised.
    cuts: std::cell::Cell<usize>,
}

fn flatten_use(tree: &syn::UseTree, prefix: &mut Vec<String>, global: bool, scope: &mut Scope) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            flatten_use(&p.tree, prefix, global, scope);
            prefix.pop();
        }
        syn::UseTree::Name(n) => {
            let name = n.ident.to_string();
            if name == "self" {
                if let Some(last) = prefix.last().cloned() {
                    scope.uses.insert(
                        last,
                        UseEntry {
                            target: prefix.clone(),
                            global,
                        },
                    );
                }
            } else {
                let mut target = prefix.clone();
                target.push(name.clone());
                scope.uses.insert(name, UseEntry { target, global });
            }
        }
        syn::UseTree::Rename(r) => {
            let mut target = prefix.clone();
            if r.ident != "self" {
                target.push(r.ident.to_string());
            }
            let alias = r.rename.to_string();
            if alias != "_" {
                scope.uses.insert(alias, UseEntry { target, global });
            }
        }
        syn::UseTree::Glob(_) => scope.globs.push(UseEntry {
            target: prefix.clone(),
            global,
        }),
        syn::UseTree::Group(g) => {
            for t in &g.items {
                flatten_use(t, prefix, global, scope);
            }
        }
    }
}

fn type_name(ty: &syn::Type) -> Option<String> {
    match ty {
        syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

impl<'w> Symbols<'w> {
    /// Builds the table of every module of `ws`.
    #[must_use]
    pub fn build(ws: &'w Workspace) -> Self {
        let mut by_path = HashMap::new();
        for (id, m) in ws.modules.iter().enumerate() {
            by_path.insert((m.krate.clone(), m.path.clone()), id);
        }
        let mut scopes = Vec::with_capacity(ws.modules.len());
        for m in &ws.modules {
            let mut scope = Scope::default();
            for (index, item) in m.items.iter().enumerate() {
                match item {
                    syn::Item::Fn(f) => {
                        scope.fns.insert(f.sig.ident.to_string(), index);
                    }
                    syn::Item::Const(c) => {
                        scope.consts.insert(c.ident.to_string(), index);
                    }
                    syn::Item::Static(s) => {
                        scope.consts.insert(s.ident.to_string(), index);
                    }
                    syn::Item::Struct(s) => {
                        scope.types.insert(s.ident.to_string(), ());
                    }
                    syn::Item::Enum(e) => {
                        scope.types.insert(e.ident.to_string(), ());
                    }
                    syn::Item::Impl(i) => {
                        let Some(ty) = type_name(&i.self_ty) else {
                            continue;
                        };
                        for it in &i.items {
                            if let syn::ImplItem::Fn(f) = it {
                                scope
                                    .impl_fns
                                    .insert((ty.clone(), f.sig.ident.to_string()), ());
                            }
                        }
                    }
                    syn::Item::Mod(md) => {
                        let mut child = m.path.clone();
                        child.push(md.ident.to_string());
                        if let Some(id) = by_path.get(&(m.krate.clone(), child)) {
                            scope.children.insert(md.ident.to_string(), *id);
                        }
                    }
                    syn::Item::Use(u) => {
                        flatten_use(
                            &u.tree,
                            &mut Vec::new(),
                            u.leading_colon.is_some(),
                            &mut scope,
                        );
                    }
                    _ => {}
                }
            }
            scopes.push(scope);
        }
        let roots = by_path
            .iter()
            .filter(|((_, path), _)| path.is_empty())
            .map(|((krate, _), id)| (krate.clone(), *id))
            .collect();
        let parents = ws
            .modules
            .iter()
            .map(|m| {
                let (_, parent) = m.path.split_last()?;
                by_path.get(&(m.krate.clone(), parent.to_vec())).copied()
            })
            .collect();
        Self {
            ws,
            scopes,
            by_path,
            roots,
            parents,
            memo: std::cell::RefCell::default(),
            active: std::cell::RefCell::default(),
            cuts: std::cell::Cell::new(0),
        }
    }

    /// The module of a crate at a path.
    #[must_use]
    pub fn module(&self, krate: &str, path: &[String]) -> Option<ModId> {
        self.by_path
            .get(&(krate.to_owned(), path.to_vec()))
            .copied()
    }

    /// The item index of a free fn of a module.
    #[must_use]
    pub fn fn_item(&self, module: ModId, name: &str) -> Option<&'w syn::ItemFn> {
        let index = *self.scopes.get(module)?.fns.get(name)?;
        match self.ws.modules[module].items.get(index) {
            Some(syn::Item::Fn(f)) => Some(f),
            _ => None,
        }
    }

    /// An associated fn `ty::name` of a module.
    #[must_use]
    pub fn impl_fn(&self, module: ModId, ty: &str, name: &str) -> Option<&'w syn::ImplItemFn> {
        self.ws.modules[module].items.iter().find_map(|item| {
            let syn::Item::Impl(i) = item else {
                return None;
            };
            if type_name(&i.self_ty).as_deref() != Some(ty) {
                return None;
            }
            i.items.iter().find_map(|it| match it {
                syn::ImplItem::Fn(f) if f.sig.ident == name => Some(f),
                _ => None,
            })
        })
    }

    /// The display path of an item: `crate_name::module::fn`.
    #[must_use]
    pub fn display(&self, item: &Item) -> String {
        let modpath = |m: ModId| {
            let md = &self.ws.modules[m];
            let mut parts = vec![md.krate.clone()];
            parts.extend(md.path.iter().cloned());
            parts.join("::")
        };
        match item {
            Item::Fn(m, n) | Item::Type(m, n) => format!("{}::{n}", modpath(*m)),
            Item::ImplFn(m, t, n) => format!("{}::{t}::{n}", modpath(*m)),
            Item::Module(m) => modpath(*m),
        }
    }

    fn parent(&self, module: ModId) -> Option<ModId> {
        self.parents.get(module).copied().flatten()
    }

    fn crate_root(&self, krate: &str) -> Option<ModId> {
        self.roots.get(krate).copied()
    }

    /// Resolves a path written in `module`.
    #[must_use]
    pub fn resolve(&self, module: ModId, path: &syn::Path) -> Option<Item> {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        self.resolve_segments(module, &segments, path.leading_colon.is_some(), 0)
    }

    /// Resolves segments written in `module`.
    #[must_use]
    pub fn resolve_segments(
        &self,
        module: ModId,
        segments: &[String],
        global: bool,
        depth: usize,
    ) -> Option<Item> {
        if depth > 16 {
            self.cuts.set(self.cuts.get() + 1);
            return None;
        }
        let (first, rest) = segments.split_first()?;
        let start = if global {
            Item::Module(self.crate_root(first)?)
        } else {
            match first.as_str() {
                "crate" => Item::Module(self.crate_root(&self.ws.modules[module].krate)?),
                "self" => Item::Module(module),
                "super" => Item::Module(self.parent(module)?),
                _ => match self.lookup(module, first, depth) {
                    Some(item) => item,
                    None => Item::Module(self.crate_root(first)?),
                },
            }
        };
        let mut current = start;
        for (i, seg) in rest.iter().enumerate() {
            current = match current {
                Item::Module(m) => {
                    if seg == "super" {
                        Item::Module(self.parent(m)?)
                    } else if seg == "self" {
                        Item::Module(m)
                    } else {
                        self.lookup(m, seg, depth)?
                    }
                }
                Item::Type(m, ty) => {
                    if i + 1 != rest.len() {
                        return None;
                    }
                    self.scopes[m].impl_fns.get(&(ty.clone(), seg.clone()))?;
                    Item::ImplFn(m, ty, seg.clone())
                }
                Item::Fn(..) | Item::ImplFn(..) => return None,
            };
        }
        Some(current)
    }

    /// A name as seen inside `module`: its own items, its `use`s, then
    /// globs. Memoised unless a cut (a cycle, the depth limit) happened
    /// while it was computed, so the result is the same as without memo.
    fn lookup(&self, module: ModId, name: &str, depth: usize) -> Option<Item> {
        let key = (module, name.to_owned());
        if let Some(hit) = self.memo.borrow().get(&key) {
            return hit.clone();
        }
        if !self.active.borrow_mut().insert(key.clone()) {
            self.cuts.set(self.cuts.get() + 1);
            return None;
        }
        let before = self.cuts.get();
        let out = self.lookup_uncached(module, name, depth);
        self.active.borrow_mut().remove(&key);
        if self.cuts.get() == before {
            self.memo.borrow_mut().insert(key, out.clone());
        }
        out
    }

    fn lookup_uncached(&self, module: ModId, name: &str, depth: usize) -> Option<Item> {
        let scope = self.scopes.get(module)?;
        if scope.fns.contains_key(name) {
            return Some(Item::Fn(module, name.to_owned()));
        }
        if scope.types.contains_key(name) {
            return Some(Item::Type(module, name.to_owned()));
        }
        if let Some(child) = scope.children.get(name) {
            return Some(Item::Module(*child));
        }
        if let Some(entry) = scope.uses.get(name) {
            return self.resolve_segments(module, &entry.target, entry.global, depth + 1);
        }
        for glob in &scope.globs {
            if let Some(Item::Module(m)) =
                self.resolve_segments(module, &glob.target, glob.global, depth + 1)
                && m != module
                && let Some(item) = self.lookup(m, name, depth + 1)
            {
                return Some(item);
            }
        }
        None
    }

    /// The string value of a `const` or `static` named by a path written in
    /// `module` (`ROUTE`, `routes::ROUTE`, one brought in by `use`), where
    /// it is a string literal or another such const.
    #[must_use]
    pub fn const_str(&self, module: ModId, path: &syn::Path) -> Option<String> {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        self.const_segments(module, &segments, path.leading_colon.is_some(), 0)
    }

    /// The string values of a `const` or `static` array or slice of
    /// strings named in `module` (`const EXEMPT: &[&str] = &["/health",
    /// "/docs"];`), each a literal or a string const.
    #[must_use]
    pub fn const_str_list(&self, module: ModId, name: &str) -> Option<Vec<String>> {
        let scope = self.scopes.get(module)?;
        let &index = scope.consts.get(name)?;
        let mut expr = match self.ws.modules[module].items.get(index)? {
            syn::Item::Const(c) => &*c.expr,
            syn::Item::Static(s) => &*s.expr,
            _ => return None,
        };
        while let syn::Expr::Reference(r) = expr {
            expr = &r.expr;
        }
        let syn::Expr::Array(a) = expr else {
            return None;
        };
        a.elems
            .iter()
            .map(|e| self.str_value(module, e, 0))
            .collect()
    }

    /// The string value of an expression: a literal, `&lit`, or a const path.
    #[must_use]
    pub fn str_value(&self, module: ModId, expr: &syn::Expr, depth: usize) -> Option<String> {
        match expr {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => Some(s.value()),
            syn::Expr::Reference(r) => self.str_value(module, &r.expr, depth),
            syn::Expr::Paren(p) => self.str_value(module, &p.expr, depth),
            syn::Expr::Group(g) => self.str_value(module, &g.expr, depth),
            syn::Expr::Path(p) if p.qself.is_none() => {
                let segments: Vec<String> = p
                    .path
                    .segments
                    .iter()
                    .map(|s| s.ident.to_string())
                    .collect();
                self.const_segments(module, &segments, p.path.leading_colon.is_some(), depth)
            }
            _ => None,
        }
    }

    fn const_segments(
        &self,
        module: ModId,
        segments: &[String],
        global: bool,
        depth: usize,
    ) -> Option<String> {
        if depth > 16 {
            return None;
        }
        let (name, prefix) = segments.split_last()?;
        let m = if prefix.is_empty() {
            if global {
                return None;
            }
            module
        } else {
            match self.resolve_segments(module, prefix, global, depth + 1)? {
                Item::Module(m) => m,
                _ => return None,
            }
        };
        self.const_in(m, name, depth + 1)
    }

    fn const_in(&self, module: ModId, name: &str, depth: usize) -> Option<String> {
        if depth > 16 {
            return None;
        }
        let scope = self.scopes.get(module)?;
        if let Some(&index) = scope.consts.get(name) {
            let expr = match self.ws.modules[module].items.get(index)? {
                syn::Item::Const(c) => &*c.expr,
                syn::Item::Static(s) => &*s.expr,
                _ => return None,
            };
            return self.str_value(module, expr, depth + 1);
        }
        if let Some(entry) = scope.uses.get(name) {
            return self.const_segments(module, &entry.target, entry.global, depth + 1);
        }
        scope.globs.iter().find_map(|glob| {
            match self.resolve_segments(module, &glob.target, glob.global, depth + 1) {
                Some(Item::Module(m)) if m != module => self.const_in(m, name, depth + 1),
                _ => None,
            }
        })
    }
}
