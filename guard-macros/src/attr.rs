//! The typed options and how each key is read: a value of the wrong shape,
//! an unknown or repeated key, each is an error on the user's token that
//! names the fix. What options mean together is `valid`'s business.

use syn::{Expr, ExprLit, Ident, Lit, LitStr, Type};

use crate::errors::Errors;
use crate::grammar;
use crate::parse::{RawOption, RawValue};
use crate::valid;

/// The options this version understands, for "did you mean" suggestions and
/// the list an unknown option's error gives.
const KNOWN: &[&str] = &[
    "auth",
    "public",
    "roles",
    "permission",
    "owner",
    "body",
    "query",
    "body_limit",
    "allow_identity",
    "rate",
    "rate_ip",
    "rate_account",
    "rate_identifier",
    "quota",
    "upload",
    "fetch",
    "csrf",
];

/// A rate or quota option: its key and literal, already parsed once by the
/// runtime's grammar; the expansion parses the literal again in the
/// route's `SPEC` constant.
pub(crate) struct RateOption {
    pub(crate) key: Ident,
    pub(crate) lit: LitStr,
}

/// `upload(max = "5MiB", types = ["png"])`.
pub(crate) struct UploadOption {
    pub(crate) max_bytes: u64,
    pub(crate) types: Vec<LitStr>,
}

/// The meaning of the attribute, each option with its key (and, where the
/// value is a token, the value) kept for its span.
#[derive(Default)]
pub(crate) struct Options {
    pub(crate) auth: Option<Ident>,
    pub(crate) public: Option<(Ident, LitStr)>,
    pub(crate) roles: Option<(Ident, Vec<LitStr>)>,
    pub(crate) permission: Option<(Ident, LitStr)>,
    pub(crate) owner: Option<(Ident, Vec<LitStr>)>,
    pub(crate) body: Option<(Ident, Type)>,
    pub(crate) query: Option<(Ident, Type)>,
    pub(crate) body_limit: Option<(Ident, u64)>,
    pub(crate) allow_identity: Option<(Ident, Vec<(Ident, LitStr)>)>,
    pub(crate) rate: Option<RateOption>,
    pub(crate) rate_ip: Option<RateOption>,
    pub(crate) rate_account: Option<RateOption>,
    pub(crate) rate_identifier: Option<RateOption>,
    pub(crate) quota: Option<RateOption>,
    pub(crate) upload: Option<UploadOption>,
    pub(crate) fetch: Option<Ident>,
    /// `csrf = "none: <reason>"`: the key and the reason after `none:`.
    pub(crate) csrf_none: Option<(Ident, String)>,
}

/// Reads each option into its typed slot; then checks their combinations.
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
            "owner" => {
                let example = "owner = \"project\"";
                let params = match value {
                    RawValue::Lit(Lit::Str(s)) => Some(vec![s]),
                    other => string_list(&key, other, example, errors),
                };
                if let Some(params) = params {
                    for param in &params {
                        let name = param.value();
                        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                            errors.spanned(param, "`owner` names a path parameter, e.g. `owner = \"project\"` for `/projects/{project}`");
                        }
                    }
                    set(&mut opts.owner, &key, (key.clone(), params), errors);
                }
            }
            "body" | "query" => {
                if let RawValue::Type(ty) = value {
                    let slot = if key == "body" { &mut opts.body } else { &mut opts.query };
                    set(slot, &key, (key.clone(), *ty), errors);
                } else {
                    errors.spanned(&key, format!("`{key}` names a type, e.g. `{key} = CreateProject`"));
                }
            }
            "body_limit" => {
                if let Some(lit) = string(&key, value, "body_limit = \"1MiB\"", errors) {
                    match grammar::size::ByteSize::parse(&lit.value()) {
                        Ok(size) => set(&mut opts.body_limit, &key, (key.clone(), size.get()), errors),
                        Err(err) => errors.spanned(&lit, err),
                    }
                }
            }
            "allow_identity" => match value {
                RawValue::Nested { options, .. } if !options.is_empty() => {
                    let mut fields = Vec::new();
                    for RawOption { key: field, value } in options {
                        let example = format!("allow_identity({field} = \"<why this route may set it>\")");
                        if let Some(reason) = string(&field, value, &example, errors) {
                            if reason.value().trim().is_empty() {
                                errors.spanned(&reason, "allowing an identity field needs a reason: say why this route may set it");
                            }
                            fields.push((field, reason));
                        }
                    }
                    set(&mut opts.allow_identity, &key, (key.clone(), fields), errors);
                }
                _ => errors.spanned(&key, "`allow_identity` lists fields with reasons, e.g. `allow_identity(owner_id = \"admins reassign projects\")`"),
            },
            "rate" | "rate_ip" | "rate_account" | "rate_identifier" | "quota" => {
                let example = if key == "quota" { "quota = \"1000/day\"" } else { "rate = \"10/min\"" };
                if let Some(lit) = string(&key, value, example, errors) {
                    let parsed = if key == "quota" {
                        grammar::rate::QuotaSpec::parse(&lit.value()).map(|_| ())
                    } else {
                        grammar::rate::RateSpec::parse(&lit.value()).map(|_| ())
                    };
                    if let Err(err) = parsed {
                        errors.spanned(&lit, format!("invalid `{key}` \"{}\": {err}", lit.value()));
                    }
                    let slot = match key.to_string().as_str() {
                        "rate" => &mut opts.rate,
                        "rate_ip" => &mut opts.rate_ip,
                        "rate_account" => &mut opts.rate_account,
                        "rate_identifier" => &mut opts.rate_identifier,
                        _ => &mut opts.quota,
                    };
                    set(slot, &key, RateOption { key: key.clone(), lit }, errors);
                }
            }
            "upload" => {
                if let Some(upload) = upload(&key, value, errors) {
                    set(&mut opts.upload, &key, upload, errors);
                }
            }
            "fetch" => {
                flag(&key, &value, errors);
                set(&mut opts.fetch, &key, key.clone(), errors);
            }
            "csrf" => {
                let example = "csrf = \"none: <why other sites may send this request>\"";
                if let Some(lit) = string(&key, value, example, errors) {
                    let text = lit.value();
                    match text.strip_prefix("none:").map(str::trim) {
                        Some(reason) if !reason.is_empty() => {
                            set(&mut opts.csrf_none, &key, (key.clone(), reason.to_owned()), errors);
                        }
                        Some(_) => errors.spanned(
                            &lit,
                            format!("turning the cross-site request check off needs a reason: `{example}`"),
                        ),
                        None => errors.spanned(
                            &lit,
                            format!("the cross-site request check is on by default for cookie sessions; the only setting is `{example}` (to let a front end on another origin in, trust its origin with `GuardedRouter::csrf_trusted_origins`)"),
                        ),
                    }
                }
            }
            other => {
                let hint = match nearest(other) {
                    Some(known) => format!("; did you mean `{known}`?"),
                    None => format!("; the options are {}", list(KNOWN)),
                };
                let attribute = errors.attribute();
                errors.spanned(
                    &key,
                    format!("unknown `{attribute}` option `{other}`{hint}"),
                );
            }
        }
    }
    // A misspelt or malformed `auth`/`public` already has its error; "needs
    // auth or public" on top of it would only be noise.
    valid::combinations(&opts, clean_before && errors.is_empty(), errors);
    opts
}

fn upload(key: &Ident, value: RawValue, errors: &mut Errors) -> Option<UploadOption> {
    let example = "upload(max = \"5MiB\", types = [\"png\", \"pdf\"])";
    let RawValue::Nested { span, options } = value else {
        errors.spanned(
            key,
            format!("`upload` takes its cap and types, e.g. `{example}`"),
        );
        return None;
    };
    let (mut max, mut types) = (None, None);
    // A `max` or `types` that was given but malformed has its own error.
    let (mut max_given, mut types_given) = (false, false);
    for RawOption { key: inner, value } in options {
        match inner.to_string().as_str() {
            "max" => {
                max_given = true;
                if let Some(lit) = string(&inner, value, "max = \"5MiB\"", errors) {
                    match grammar::size::ByteSize::parse(&lit.value()) {
                        Ok(size) => set_within(&mut max, &inner, size.get(), errors, "upload"),
                        Err(err) => errors.spanned(&lit, err),
                    }
                }
            }
            "types" => {
                types_given = true;
                if let Some(names) =
                    string_list(&inner, value, "types = [\"png\", \"pdf\"]", errors)
                {
                    for name in &names {
                        if !grammar::FILE_KINDS.contains(&name.value().as_str()) {
                            errors.spanned(
                                name,
                                format!(
                                    "unknown upload type \"{}\"; the types are {}",
                                    name.value(),
                                    list(grammar::FILE_KINDS)
                                ),
                            );
                        }
                    }
                    set_within(&mut types, &inner, names, errors, "upload");
                }
            }
            other => errors.spanned(
                &inner,
                format!("unknown `upload` option `{other}`; the options are `max`, `types`"),
            ),
        }
    }
    match (max, types) {
        (Some(max_bytes), Some(types)) => Some(UploadOption { max_bytes, types }),
        (max, types) => {
            if (max.is_none() && !max_given) || (types.is_none() && !types_given) {
                errors.at(
                    span,
                    format!("`upload` needs both `max` and `types`, e.g. `{example}`"),
                );
            }
            None
        }
    }
}

/// Records an option once; a repeat is an error on the repeated key.
fn set<T>(slot: &mut Option<T>, key: &Ident, value: T, errors: &mut Errors) {
    let attribute = errors.attribute();
    set_within(slot, key, value, errors, attribute);
}

/// As [`set`], for an option nested in `within(...)` (`upload`).
fn set_within<T>(slot: &mut Option<T>, key: &Ident, value: T, errors: &mut Errors, within: &str) {
    if slot.is_some() {
        errors.spanned(
            key,
            format!("duplicate `{within}` option `{key}`; give it once"),
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
                if names.iter().any(|n: &LitStr| n.value() == s.value()) {
                    errors.spanned(
                        &s,
                        format!("`{}` is listed twice in `{key}`; list it once", s.value()),
                    );
                }
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

/// The attribute's arguments parsed and checked: every problem goes to
/// `errors` (a syntax error stops there, with default options), shared by
/// `#[secure_route]` and `#[secure_server_fn]` so both read one grammar.
pub(crate) fn parse_options(args: proc_macro2::TokenStream, errors: &mut Errors) -> Options {
    match syn::parse2::<crate::parse::RawOptions>(args) {
        Ok(raw) if errors.is_empty() => options(raw.0, errors),
        Ok(_) => Options::default(),
        Err(err) => {
            errors.push(err);
            Options::default()
        }
    }
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
