//! Gives each option its meaning and refuses every misuse, each error on the
//! user's token and naming the fix.

use proc_macro2::Span;
use syn::spanned::Spanned as _;
use syn::{Expr, ExprLit, FnArg, Ident, ItemFn, Lit, LitStr, Type};

use crate::errors::Errors;
use crate::parse::{RawOption, RawValue};

/// The options this version understands, for "did you mean" suggestions.
const KNOWN: &[&str] = &["auth", "public", "roles", "permission"];

/// The meaning of the attribute, every value still carrying its span.
#[derive(Default)]
pub(crate) struct Options {
    pub(crate) auth: Option<Ident>,
    pub(crate) public: Option<(Ident, LitStr)>,
    pub(crate) roles: Option<(Ident, Vec<LitStr>)>,
    pub(crate) permission: Option<(Ident, LitStr)>,
}

/// The handler's arguments, in order.
pub(crate) struct Handler {
    pub(crate) arg_types: Vec<Type>,
}

pub(crate) fn options(raw: Vec<RawOption>, errors: &mut Errors) -> Options {
    let mut opts = Options::default();
    let clean_before = errors.is_empty();
    for RawOption { key, value } in raw {
        match key.to_string().as_str() {
            "auth" => {
                flag(&key, &value, errors);
                set(&mut opts.auth, &key, key.clone(), errors);
            }
            "public" => {
                if let Some(reason) = string(
                    &key,
                    value,
                    "public = \"<why this route is public>\"",
                    errors,
                ) {
                    if reason.value().trim().is_empty() {
                        errors.spanned(
                            &reason,
                            "a public route needs a reason: say why anyone may call it, e.g. `public = \"health check\"`",
                        );
                    }
                    set(&mut opts.public, &key, (key.clone(), reason), errors);
                }
            }
            "permission" => {
                if let Some(name) = string(&key, value, "permission = \"projects:write\"", errors) {
                    non_blank(&name, "permission", errors);
                    set(&mut opts.permission, &key, (key.clone(), name), errors);
                }
            }
            "roles" => {
                if let Some(roles) = string_list(&key, value, "roles = [\"admin\"]", errors) {
                    set(&mut opts.roles, &key, (key.clone(), roles), errors);
                }
            }
            other => {
                let hint = match nearest(other) {
                    Some(known) => format!("; did you mean `{known}`?"),
                    None => format!("; the options are {}", list(KNOWN)),
                };
                errors.spanned(
                    &key,
                    format!("unknown `secure_route` option `{other}`{hint}"),
                );
            }
        }
    }
    // A misspelt or malformed `auth`/`public` already has its error; "needs
    // auth or public" on top of it would only be noise.
    combinations(&opts, clean_before && errors.is_empty(), errors);
    opts
}

fn combinations(opts: &Options, options_were_clean: bool, errors: &mut Errors) {
    match (&opts.auth, &opts.public) {
        (None, None) if options_were_clean => errors.at(
            Span::call_site(),
            "`#[secure_route]` needs `auth` or `public = \"<reason>\"`: every route says who may call it",
        ),
        (Some(_), Some((public, _))) => errors.spanned(
            public,
            "`public` and `auth` contradict each other; keep `auth` for a route that needs a session, or `public = \"<reason>\"` alone",
        ),
        _ => {}
    }
    if opts.auth.is_none() {
        let needs_auth = [
            opts.roles.as_ref().map(|(k, _)| k),
            opts.permission.as_ref().map(|(k, _)| k),
        ];
        for key in needs_auth.into_iter().flatten() {
            errors.spanned(
                key,
                format!(
                    "`{key}` needs an authenticated principal; add `auth` to this `secure_route`"
                ),
            );
        }
    }
}

/// Records an option once; a repeat is an error on the repeated key.
fn set<T>(slot: &mut Option<T>, key: &Ident, value: T, errors: &mut Errors) {
    if slot.is_some() {
        errors.spanned(
            key,
            format!("duplicate `secure_route` option `{key}`; give it once"),
        );
    } else {
        *slot = Some(value);
    }
}

fn flag(key: &Ident, value: &RawValue, errors: &mut Errors) {
    if !matches!(value, RawValue::Flag) {
        errors.spanned(key, format!("`{key}` takes no value; write `{key}` alone"));
    }
}

fn string(key: &Ident, value: RawValue, example: &str, errors: &mut Errors) -> Option<LitStr> {
    match value {
        RawValue::Lit(Lit::Str(s)) => Some(s),
        RawValue::Lit(other) => {
            errors.spanned(other, format!("`{key}` takes a string, e.g. `{example}`"));
            None
        }
        RawValue::Flag => {
            errors.spanned(key, format!("`{key}` needs a value, e.g. `{example}`"));
            None
        }
        RawValue::List { span, .. } | RawValue::Nested { span, .. } => {
            errors.at(span, format!("`{key}` takes a string, e.g. `{example}`"));
            None
        }
        RawValue::Type(ty) => {
            errors.spanned(ty, format!("`{key}` takes a string, e.g. `{example}`"));
            None
        }
    }
}

fn string_list(
    key: &Ident,
    value: RawValue,
    example: &str,
    errors: &mut Errors,
) -> Option<Vec<LitStr>> {
    let RawValue::List { span, items } = value else {
        errors.spanned(
            key,
            format!("`{key}` takes a list of strings, e.g. `{example}`"),
        );
        return None;
    };
    if items.is_empty() {
        errors.at(
            span,
            format!("`{key}` lists no names; name at least one, e.g. `{example}`, or remove it"),
        );
        return None;
    }
    let mut names = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => {
                non_blank(&s, key.to_string().trim_end_matches('s'), errors);
                names.push(s);
            }
            other => errors.spanned(
                other,
                format!("`{key}` takes string literals, e.g. `{example}`"),
            ),
        }
    }
    Some(names)
}

fn non_blank(lit: &LitStr, what: &str, errors: &mut Errors) {
    if lit.value().trim().is_empty() {
        errors.spanned(
            lit,
            format!("an empty {what} name matches nothing; write the name"),
        );
    }
}

/// Checks the function the attribute is on.
pub(crate) fn handler(item: &ItemFn, errors: &mut Errors) -> Handler {
    let sig = &item.sig;
    if sig.asyncness.is_none() {
        errors.spanned(
            sig.fn_token,
            "a `#[secure_route]` handler must be an `async fn`; add `async` before `fn`",
        );
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.spanned(
            &sig.generics,
            "a `#[secure_route]` handler cannot be generic; use concrete extractor types",
        );
    }
    if let Some(variadic) = &sig.variadic {
        errors.spanned(variadic, "a `#[secure_route]` handler cannot be variadic");
    }
    let mut arg_types = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(recv) => errors.spanned(
                recv,
                "a `#[secure_route]` handler is a free `async fn`, not a method; remove `self`",
            ),
            FnArg::Typed(pat) => {
                if let Type::ImplTrait(_) = &*pat.ty {
                    errors.spanned(
                        &pat.ty,
                        "handler arguments need concrete extractor types, not `impl Trait`",
                    );
                }
                arg_types.push((*pat.ty).clone());
            }
        }
    }
    if arg_types.len() > 16 {
        errors.at(sig.inputs.span(), "a handler takes at most 16 extractors");
    }
    Handler { arg_types }
}

fn nearest(unknown: &str) -> Option<&'static str> {
    KNOWN
        .iter()
        .map(|k| (distance(unknown, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance; hand-written because it is ten lines and the
/// proc-macro crate should not pull a dependency for suggestions.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_nearest_option() {
        assert_eq!(nearest("ath"), Some("auth"));
        assert_eq!(nearest("role"), Some("roles"));
        assert_eq!(nearest("publc"), Some("public"));
        assert_eq!(nearest("permissions"), Some("permission"));
        assert_eq!(nearest("xyzzy"), None);
    }
}
