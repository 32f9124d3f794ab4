//! `#[cfg(..)]` predicates on the target, judged for the usual deploy
//! target of an axum service: a 64-bit Linux host with glibc. Used only to
//! choose between same-named alternatives (`#[cfg(unix)] mod imp;` beside
//! `#[cfg(windows)] mod imp;`), which would otherwise share one module path.

/// The value of a cfg predicate on a Linux host, `None` where it depends on
/// something else (a feature, a custom cfg).
#[must_use]
pub fn on_linux(meta: &syn::Meta) -> Option<bool> {
    match meta {
        syn::Meta::Path(p) => {
            let id = p.get_ident()?.to_string();
            match id.as_str() {
                "unix" => Some(true),
                "windows" => Some(false),
                _ => None,
            }
        }
        syn::Meta::NameValue(nv) => {
            let key = nv.path.get_ident()?.to_string();
            let syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(v),
                ..
            }) = &nv.value
            else {
                return None;
            };
            let v = v.value();
            match key.as_str() {
                "target_os" => Some(v == "linux"),
                "target_family" => Some(v == "unix"),
                "target_env" => Some(v == "gnu"),
                "target_pointer_width" => Some(v == "64"),
                _ => None,
            }
        }
        syn::Meta::List(l) => {
            let id = l.path.get_ident()?.to_string();
            let args = l
                .parse_args_with(
                    syn::punctuated::Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated,
                )
                .ok()?;
            let vals: Vec<Option<bool>> = args.iter().map(on_linux).collect();
            match id.as_str() {
                "not" if vals.len() == 1 => vals[0].map(|v| !v),
                "all" => {
                    if vals.contains(&Some(false)) {
                        Some(false)
                    } else if vals.iter().all(Option::is_some) {
                        Some(true)
                    } else {
                        None
                    }
                }
                "any" => {
                    if vals.contains(&Some(true)) {
                        Some(true)
                    } else if vals.iter().all(Option::is_some) {
                        Some(false)
                    } else {
                        None
                    }
                }
                _ => None,
            }
        }
    }
}

/// The value of an item's `#[cfg]`s together on a Linux host: `Some(false)`
/// if one is false there, `Some(true)` if all are true, else `None`.
#[must_use]
pub fn attrs_on_linux(attrs: &[syn::Attribute]) -> Option<bool> {
    let mut all = Some(true);
    for a in attrs.iter().filter(|a| a.path().is_ident("cfg")) {
        let Ok(meta) = a.parse_args::<syn::Meta>() else {
            all = None;
            continue;
        };
        match on_linux(&meta) {
            Some(false) => return Some(false),
            Some(true) => {}
            None => all = None,
        }
    }
    all
}
