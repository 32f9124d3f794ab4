//! Attributes the interpreter reads: `#[typed_path("..")]` (axum-extra),
//! `#[utoipa::path(get, path = "..")]` (utoipa-axum) and `#[cfg(..)]`.

use proc_macro2::{TokenStream, TokenTree};

use super::text;

/// The path of a `#[typed_path("/users/{id}")]` attribute.
pub(super) fn typed_path(attrs: &[syn::Attribute]) -> Option<String> {
    attrs
        .iter()
        .filter(|a| {
            a.path()
                .segments
                .last()
                .is_some_and(|s| s.ident == "typed_path")
        })
        .find_map(|a| {
            let syn::Meta::List(list) = &a.meta else {
                return None;
            };
            first_str(list.tokens.clone())
        })
}

fn first_str(tokens: TokenStream) -> Option<String> {
    tokens.into_iter().find_map(|t| match t {
        TokenTree::Literal(l) => match syn::Lit::new(l) {
            syn::Lit::Str(s) => Some(s.value()),
            _ => None,
        },
        _ => None,
    })
}

/// The methods and path of a `#[utoipa::path(get, path = "/x/{id}", ..)]`
/// attribute (`method(get, head)` as well).
pub(super) fn utoipa_path(attrs: &[syn::Attribute]) -> Option<(Vec<String>, Option<String>)> {
    let attr = attrs.iter().find(|a| {
        let segs: Vec<String> = a
            .path()
            .segments
            .iter()
            .map(|s| s.ident.to_string())
            .collect();
        segs == ["utoipa", "path"] || segs == ["path"]
    })?;
    let syn::Meta::List(list) = &attr.meta else {
        return None;
    };
    let mut methods = Vec::new();
    let mut path = None;
    // Top-level `a, b = c, d(..)` items, split on commas.
    let mut items: Vec<Vec<TokenTree>> = vec![Vec::new()];
    for t in list.tokens.clone() {
        match &t {
            TokenTree::Punct(p) if p.as_char() == ',' => items.push(Vec::new()),
            _ => {
                if let Some(last) = items.last_mut() {
                    last.push(t);
                }
            }
        }
    }
    for item in items {
        match item.as_slice() {
            [TokenTree::Ident(i)] if super::METHODS.contains(&i.to_string().as_str()) => {
                methods.push(i.to_string());
            }
            [TokenTree::Ident(i), TokenTree::Punct(eq), rest @ ..]
                if i == "path" && eq.as_char() == '=' =>
            {
                path = first_str(rest.iter().cloned().collect());
            }
            [TokenTree::Ident(i), TokenTree::Group(g)] if i == "method" => {
                for t in g.stream() {
                    if let TokenTree::Ident(m) = t {
                        methods.push(m.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    Some((methods, path))
}

/// The `#[cfg(..)]` conditions of an item or statement, as written
/// (`cfg(feature = "web")`); `None` for `#[cfg(test)]`, which the loader
/// drops.
pub(super) fn cfgs(attrs: &[syn::Attribute]) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for a in attrs.iter().filter(|a| a.path().is_ident("cfg")) {
        let shown = text(&a.meta);
        if shown == "cfg(test)" {
            return None;
        }
        out.push(shown);
    }
    Some(out)
}

/// The attributes of an expression used as a statement.
pub(super) fn expr_attrs(e: &syn::Expr) -> &[syn::Attribute] {
    match e {
        syn::Expr::Assign(a) => &a.attrs,
        syn::Expr::MethodCall(m) => &m.attrs,
        syn::Expr::Call(c) => &c.attrs,
        syn::Expr::If(i) => &i.attrs,
        syn::Expr::Block(b) => &b.attrs,
        syn::Expr::Macro(m) => &m.attrs,
        syn::Expr::Await(a) => &a.attrs,
        syn::Expr::Try(t) => &t.attrs,
        _ => &[],
    }
}
