//! Reading a handler's `#[secure_route(...)]` attribute.

use guard_core::report::{RateEntry, RouteEntry, UploadEntry};
use syn::punctuated::Punctuated;

use crate::symbols::{Item, Symbols};

fn attrs<'w>(syms: &Symbols<'w>, item: &Item) -> Option<&'w [syn::Attribute]> {
    match item {
        Item::Fn(m, n) => syms.fn_item(*m, n).map(|f| f.attrs.as_slice()),
        Item::ImplFn(m, t, n) => syms.impl_fn(*m, t, n).map(|f| f.attrs.as_slice()),
        _ => None,
    }
}

fn strings(e: &syn::Expr) -> Vec<String> {
    match e {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        }) => vec![s.value()],
        syn::Expr::Array(a) => a.elems.iter().flat_map(strings).collect(),
        syn::Expr::Path(p) => vec![
            quote::ToTokens::to_token_stream(&p.path)
                .to_string()
                .replace(' ', ""),
        ],
        _ => Vec::new(),
    }
}

/// The guards a handler declares in `#[secure_route(...)]`, or `None`
/// where it has no such attribute.
#[must_use]
pub fn declared(syms: &Symbols<'_>, item: &Item) -> Option<RouteEntry> {
    let attr = attrs(syms, item)?.iter().find(|a| {
        a.path()
            .segments
            .last()
            .is_some_and(|s| s.ident == "secure_route")
    })?;
    let mut entry = RouteEntry {
        access: "unknown",
        ..crate::blank()
    };
    let metas =
        match attr.parse_args_with(Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated) {
            Ok(m) => m,
            Err(e) => {
                entry.unknown = Some(format!("#[secure_route] not understood: {e}"));
                return Some(entry);
            }
        };
    for meta in metas {
        let key = meta
            .path()
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        match meta {
            syn::Meta::Path(_) => match key.as_str() {
                "auth" => entry.access = "auth",
                "fetch" => entry.fetch = true,
                _ => {}
            },
            syn::Meta::NameValue(nv) => {
                let values = strings(&nv.value);
                let first = values.first().cloned();
                match key.as_str() {
                    "public" => {
                        entry.access = "public";
                        entry.public_reason = first;
                    }
                    "roles" | "role" => {
                        entry.access = "auth";
                        entry.roles = values;
                    }
                    "permission" => {
                        entry.access = "auth";
                        entry.permission = first;
                    }
                    "owner" => entry.owner = values,
                    "body" => entry.body = first,
                    "query" => entry.query = first,
                    "rate" | "rate_ip" | "rate_account" | "rate_identifier" | "quota" => {
                        if let Some(spec) = first {
                            entry.rates.push(RateEntry {
                                kind: key.clone(),
                                spec,
                                source: "attribute".to_owned(),
                            });
                        }
                    }
                    _ => {}
                }
            }
            syn::Meta::List(list) if key == "upload" => {
                let inner = list
                    .parse_args_with(
                        Punctuated::<syn::MetaNameValue, syn::Token![,]>::parse_terminated,
                    )
                    .ok();
                let mut types = Vec::new();
                let mut max = None;
                for nv in inner.iter().flatten() {
                    if nv.path.is_ident("types") {
                        types = strings(&nv.value);
                    } else if nv.path.is_ident("max") {
                        max = strings(&nv.value).first().cloned();
                    }
                }
                // The cap parsed by the framework's own size grammar; a
                // missing or bad `max` leaves the upload unreported and
                // says so.
                match max.as_deref().map(guard_grammar::size::ByteSize::parse) {
                    Some(Ok(size)) => {
                        entry.upload = Some(UploadEntry {
                            max_bytes: size.get(),
                            types,
                        });
                    }
                    _ => entry.unknown = Some("upload(...) without a readable max".to_owned()),
                }
            }
            syn::Meta::List(_) => {}
        }
    }
    Some(entry)
}
