//! Which fns of loaded dependency crates (path dependencies, published
//! siblings) the workspace's own code can reach. A router fn of a sibling
//! that nothing of the scanned crates calls (fedimint-gateway-ui loads
//! fedimint-metrics, whose metrics server only the daemon spawns) is not a
//! route of the scanned service; one the service calls is.

use syn::visit::Visit;

use super::*;

/// What the member crates' code reaches: resolved fns, and the names of
/// the fns and methods it calls (matched by name where a path or a method
/// receiver is not resolved, so that reach errs on the side of keeping).
pub(super) struct Reach {
    items: HashSet<Item>,
    names: HashSet<String>,
}

impl Reach {
    /// Whether a router root's fn is reached.
    pub(super) fn contains(&self, item: &Item) -> bool {
        let name = match item {
            Item::Fn(_, n) | Item::ImplFn(_, _, n) => n,
            _ => return false,
        };
        self.items.contains(item) || self.names.contains(name)
    }
}

struct Calls<'w> {
    paths: Vec<&'w syn::Path>,
    names: Vec<String>,
}

impl<'w> Visit<'w> for Calls<'w> {
    fn visit_expr_path(&mut self, p: &'w syn::ExprPath) {
        // A call's callee, and a fn passed as a value (`spawn(run)`).
        self.paths.push(&p.path);
        if let Some(last) = p.path.segments.last() {
            self.names.push(last.ident.to_string());
        }
        syn::visit::visit_expr_path(self, p);
    }
    fn visit_expr_method_call(&mut self, m: &'w syn::ExprMethodCall) {
        self.names.push(m.method.to_string());
        syn::visit::visit_expr_method_call(self, m);
    }
}

/// Every fn body of a module, with the item it is.
fn bodies(module: ModId, items: &[syn::Item]) -> Vec<(Item, &syn::Block)> {
    let mut out = Vec::new();
    for item in items {
        match item {
            syn::Item::Fn(f) => out.push((Item::Fn(module, f.sig.ident.to_string()), &*f.block)),
            syn::Item::Impl(i) => {
                let syn::Type::Path(tp) = &*i.self_ty else {
                    continue;
                };
                let Some(ty) = tp.path.segments.last() else {
                    continue;
                };
                for ii in &i.items {
                    if let syn::ImplItem::Fn(f) = ii {
                        out.push((
                            Item::ImplFn(module, ty.ident.to_string(), f.sig.ident.to_string()),
                            &f.block,
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

impl Discovery<'_, '_> {
    /// What the member crates' fns reach, through calls, to a fixpoint.
    pub(super) fn reach(&self) -> Reach {
        let ws = self.syms.ws;
        let all: Vec<(Item, &syn::Block)> = ws
            .modules
            .iter()
            .enumerate()
            .flat_map(|(m, module)| bodies(m, &module.items))
            .collect();
        let index: HashMap<&Item, usize> =
            all.iter().enumerate().map(|(i, (it, _))| (it, i)).collect();
        let mut reach = Reach {
            items: HashSet::new(),
            names: HashSet::new(),
        };
        let module_of = |it: &Item| match it {
            Item::Fn(m, _) | Item::ImplFn(m, _, _) => *m,
            _ => 0,
        };
        let mut todo: Vec<usize> = (0..all.len())
            .filter(|&i| ws.members.contains(&ws.modules[module_of(&all[i].0)].krate))
            .collect();
        let mut done = vec![false; all.len()];
        loop {
            while let Some(i) = todo.pop() {
                if std::mem::replace(&mut done[i], true) {
                    continue;
                }
                let (item, block) = &all[i];
                reach.items.insert(item.clone());
                let mut calls = Calls {
                    paths: Vec::new(),
                    names: Vec::new(),
                };
                calls.visit_block(block);
                let m = module_of(item);
                for p in calls.paths {
                    if let Some(target @ (Item::Fn(..) | Item::ImplFn(..))) =
                        self.syms.resolve(m, p)
                        && let Some(&j) = index.get(&target)
                    {
                        todo.push(j);
                    }
                }
                reach.names.extend(calls.names);
            }
            // Fns reached only by name (a method on an unresolved receiver).
            todo = (0..all.len())
                .filter(|&i| !done[i] && reach.contains(&all[i].0))
                .collect();
            if todo.is_empty() {
                return reach;
            }
        }
    }
}
