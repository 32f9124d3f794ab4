//! The GA-* checks. Each check module has `pub(crate) fn run(ctx, out)`,
//! which records a verdict for every endpoint it applies to (guarded,
//! unguarded or unknown, with the reason) and a finding for every problem.
//!
//! Ownership while the checks are built in parallel:
//! auth, authz, rate: the auth family; input, cors, ssrf, err, body, upload,
//! hdr: the input family; layer: the router interpreter's owner.

use std::path::Path;

use crate::findings::{Finding, Location, Results, Severity};
use crate::load::Workspace;
use crate::routes::{Endpoint, Handler, Root};
use crate::symbols::{Item, ModId, Symbols};

mod auth;
mod authz;
mod body;
mod cors;
mod err;
mod hdr;
mod input;
mod layer;
mod rate;
mod ssrf;
mod upload;

/// What every check reads.
#[derive(Debug)]
pub struct Ctx<'a, 'w> {
    /// The loaded workspace.
    pub ws: &'w Workspace,
    /// Its symbol table.
    pub syms: &'a Symbols<'w>,
    /// The router roots.
    pub roots: &'a [Root],
    /// Every endpoint of every root, flattened in root order.
    pub endpoints: Vec<&'a Endpoint>,
    /// The root index of each endpoint.
    pub endpoint_root: Vec<usize>,
    /// Expanded layer tokens by (module, line, layer text): the same layer
    /// wraps many endpoints and several checks read it
    /// (`input::common::layer_tokens`).
    pub(crate) layer_memo: std::cell::RefCell<
        std::collections::HashMap<(ModId, usize, String), proc_macro2::TokenStream>,
    >,
}

/// A handler fn's parts.
#[derive(Debug, Clone, Copy)]
pub struct HandlerFn<'w> {
    /// The module it is defined in (paths in it resolve from here).
    pub module: ModId,
    /// Its attributes.
    pub attrs: &'w [syn::Attribute],
    /// Its signature.
    pub sig: &'w syn::Signature,
    /// Its body.
    pub block: &'w syn::Block,
}

impl<'a, 'w> Ctx<'a, 'w> {
    /// The context over these roots.
    #[must_use]
    pub fn new(ws: &'w Workspace, syms: &'a Symbols<'w>, roots: &'a [Root]) -> Self {
        let mut endpoints = Vec::new();
        let mut endpoint_root = Vec::new();
        for (i, root) in roots.iter().enumerate() {
            for ep in &root.endpoints {
                endpoints.push(ep);
                endpoint_root.push(i);
            }
        }
        Self {
            ws,
            syms,
            roots,
            endpoints,
            endpoint_root,
            layer_memo: std::cell::RefCell::default(),
        }
    }

    /// The fn behind a resolved item.
    #[must_use]
    pub fn function(&self, item: &Item) -> Option<HandlerFn<'w>> {
        match item {
            Item::Fn(m, n) => self.syms.fn_item(*m, n).map(|f| HandlerFn {
                module: *m,
                attrs: &f.attrs,
                sig: &f.sig,
                block: &f.block,
            }),
            Item::ImplFn(m, t, n) => self.syms.impl_fn(*m, t, n).map(|f| HandlerFn {
                module: *m,
                attrs: &f.attrs,
                sig: &f.sig,
                block: &f.block,
            }),
            _ => None,
        }
    }

    /// The handler fn of an endpoint, where it resolved to a workspace fn.
    #[must_use]
    pub fn handler(&self, endpoint: usize) -> Option<HandlerFn<'w>> {
        match &self.endpoints.get(endpoint)?.handler {
            Handler::Resolved(item) => self.function(item),
            _ => None,
        }
    }

    /// The struct or enum definition of a type item.
    #[must_use]
    pub fn type_def(&self, item: &Item) -> Option<&'w syn::Item> {
        let Item::Type(m, name) = item else {
            return None;
        };
        self.ws.modules[*m].items.iter().find(|it| match it {
            syn::Item::Struct(s) => s.ident == name,
            syn::Item::Enum(e) => e.ident == name,
            _ => false,
        })
    }

    /// Every `impl Trait for Type` in the workspace whose trait path ends in
    /// `trait_name`, with the module it is in.
    pub fn impls_of(&self, trait_name: &str) -> impl Iterator<Item = (ModId, &'w syn::ItemImpl)> {
        let trait_name = trait_name.to_owned();
        self.ws
            .modules
            .iter()
            .enumerate()
            .flat_map(|(m, module)| module.items.iter().map(move |it| (m, it)))
            .filter_map(move |(m, it)| match it {
                syn::Item::Impl(i)
                    if i.trait_
                        .as_ref()
                        .and_then(|(_, p, _)| p.segments.last())
                        .is_some_and(|s| s.ident == trait_name) =>
                {
                    Some((m, i))
                }
                _ => None,
            })
    }

    /// The file of a module, relative to the workspace root.
    #[must_use]
    pub fn file(&self, module: ModId) -> &'w Path {
        let file = &self.ws.modules[module].file;
        if let Ok(rel) = file.strip_prefix(&self.ws.root) {
            return rel;
        }
        // A published sibling in the registry cache: from its
        // `name-version/` directory on.
        let parts: Vec<_> = file.components().collect();
        match parts
            .windows(2)
            .position(|w| w[0].as_os_str() == "registry" && w[1].as_os_str() == "src")
        {
            Some(i) if parts.len() > i + 3 => {
                let skip: std::path::PathBuf = parts[..i + 3].iter().collect();
                file.strip_prefix(skip).unwrap_or(file)
            }
            _ => file,
        }
    }

    /// The location of a syntax node in a module's file.
    #[must_use]
    pub fn location(&self, module: ModId, node: &impl syn::spanned::Spanned) -> Location {
        let start = node.span().start();
        Location {
            file: self.file(module).to_path_buf(),
            line: start.line,
            column: start.column + 1,
        }
    }

    /// The location an endpoint was registered at.
    #[must_use]
    pub fn endpoint_location(&self, endpoint: usize) -> Location {
        let ep = self.endpoints[endpoint];
        Location {
            file: self.file(ep.module).to_path_buf(),
            line: ep.line,
            column: 1,
        }
    }

    /// A finding about an endpoint, at its handler fn where it resolved and
    /// at its registration otherwise.
    #[must_use]
    pub fn endpoint_finding(
        &self,
        endpoint: usize,
        rule: &'static str,
        severity: Severity,
        message: String,
    ) -> Finding {
        let ep = self.endpoints[endpoint];
        let location = match self.handler(endpoint) {
            Some(h) => self.location(h.module, &h.sig.ident),
            None => self.endpoint_location(endpoint),
        };
        Finding {
            rule,
            severity,
            message,
            location,
            endpoint: Some((ep.method.clone(), ep.path.clone())),
            suppressed: None,
        }
    }
}

/// Runs every check.
pub fn run(ctx: &Ctx<'_, '_>, out: &mut Results) {
    auth::run(ctx, out);
    authz::run(ctx, out);
    input::run(ctx, out);
    cors::run(ctx, out);
    ssrf::run(ctx, out);
    err::run(ctx, out);
    body::run(ctx, out);
    upload::run(ctx, out);
    rate::run(ctx, out);
    hdr::run(ctx, out);
    layer::run(ctx, out);
}
