//! Checks what no single option can: the options' combinations (`owner`
//! needs `auth`, `public` contradicts `auth`) and their relation to the
//! handler's signature (`body = T` needs a `Valid<T>` argument), each error
//! on the user's token and naming the fix.

use proc_macro2::Span;
use syn::spanned::Spanned as _;
use syn::{FnArg, ItemFn, Type};

use crate::attr::Options;
use crate::errors::Errors;

/// The types of the handler's arguments, in order.
pub(crate) struct Handler {
    pub(crate) arg_types: Vec<Type>,
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
    if !sig.generics.params.is_empty() {
        errors.spanned(
            &sig.generics,
            "a `#[secure_route]` handler cannot be generic; use concrete extractor types",
        );
    } else if let Some(clause) = &sig.generics.where_clause {
        // `Generics` prints without its `where` clause: spanned there.
        errors.spanned(
            clause,
            "a `#[secure_route]` handler cannot be generic; remove the `where` clause",
        );
    }
    if let Some(unsafety) = &sig.unsafety {
        errors.spanned(
            unsafety,
            "a `#[secure_route]` handler cannot be an `unsafe fn`; remove `unsafe` and put the unsafe code in an `unsafe` block inside it",
        );
    }
    if let Some(abi) = &sig.abi {
        errors.spanned(
            abi,
            "a `#[secure_route]` handler uses the Rust ABI; remove the `extern` qualifier",
        );
    }
    if let Some(again) = item.attrs.iter().find(|attr| {
        attr.path()
            .segments
            .last()
            .is_some_and(|segment| segment.ident == "secure_route")
    }) {
        errors.spanned(
            again,
            "`#[secure_route]` is applied twice; keep one and put all the options in it",
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

/// Rules that relate the options to the handler's arguments.
pub(crate) fn options_against_handler(opts: &Options, handler: &Handler, errors: &mut Errors) {
    let takes = |name: &str| {
        handler
            .arg_types
            .iter()
            .any(|t| outer_name(t).as_deref() == Some(name))
    };
    // The argument of that extractor, where the error points.
    let taken = |name: &str| {
        handler
            .arg_types
            .iter()
            .find(|t| outer_name(t).as_deref() == Some(name))
    };
    for ty in &handler.arg_types {
        if let Some(fix) = unvalidated(ty) {
            errors.spanned(ty, format!("a guarded handler takes {fix}"));
        }
    }
    if let Some((key, _)) = &opts.owner
        && !takes("Owned")
    {
        errors.spanned(key, "`owner` loads the resource for the handler; take it as `Owned<T>`, whose lookup is scoped to the principal");
    }
    if let Some((key, ty)) = &opts.body
        && !takes("Valid")
    {
        errors.spanned(
            key,
            format!(
                "`body = {}` is decoded for the handler; take it as `Valid<{}>`",
                quote::quote!(#ty),
                quote::quote!(#ty)
            ),
        );
    }
    if let Some((key, ty)) = &opts.query
        && !takes("ValidQuery")
    {
        errors.spanned(
            key,
            format!(
                "`query = {}` is decoded for the handler; take it as `ValidQuery<{}>`",
                quote::quote!(#ty),
                quote::quote!(#ty)
            ),
        );
    }
    if let Some(identifier) = &opts.rate_identifier
        && !takes("IdentifierLimit")
    {
        errors.spanned(
            &identifier.key,
            "`rate_identifier` is counted when the handler checks the identifier; take `limit: IdentifierLimit` and call `limit.check(&body.email).await?`",
        );
    }
    if let Some((key, _)) = &opts.allow_identity
        && opts.body.is_none()
    {
        errors.spanned(
            key,
            "`allow_identity` applies to a body; declare `body = T` or remove it",
        );
    }
    if opts.body.is_none()
        && let Some(ty) = taken("Valid")
    {
        errors.spanned(
            ty,
            "the handler takes `Valid<T>`; declare its type with `body = T`",
        );
    }
    if opts.query.is_none()
        && let Some(ty) = taken("ValidQuery")
    {
        errors.spanned(
            ty,
            "the handler takes `ValidQuery<T>`; declare its type with `query = T`",
        );
    }
    if opts.owner.is_none()
        && let Some(ty) = taken("Owned")
    {
        errors.spanned(
            ty,
            "the handler takes `Owned<T>`; name its path parameter with `owner = \"...\"`",
        );
    }
}

/// Rules between options: who may call the route, and what needs `auth`.
/// `options_were_clean` is false when an option already has an error, so a
/// misspelt `auth` does not also get "needs `auth` or `public`".
pub(crate) fn combinations(opts: &Options, options_were_clean: bool, errors: &mut Errors) {
    if let (Some(_), Some(identifier)) = (&opts.auth, &opts.rate_identifier) {
        errors.spanned(
            &identifier.key,
            "`rate_identifier` limits a public route by the identifier its handler names; on an `auth` route use `rate_account`",
        );
    }
    if let (Some(_), Some(identifier)) = (&opts.rate_account, &opts.rate_identifier) {
        errors.spanned(
            &identifier.key,
            "give `rate_account` or `rate_identifier`, not both",
        );
    }
    // `rate` is the per-IP limit and the per-account (per-identifier)
    // one; with both set by their own options it limits nothing.
    if let (Some(rate), Some(_), Some(who)) = (
        &opts.rate,
        &opts.rate_ip,
        opts.rate_account.as_ref().or(opts.rate_identifier.as_ref()),
    ) {
        errors.spanned(
            &rate.key,
            format!(
                "`rate` sets the per-IP and the per-{} limit, and `rate_ip` and `{}` set both here, so it limits nothing; remove `rate`",
                if who.key == "rate_account" { "account" } else { "identifier" },
                who.key
            ),
        );
    }
    match (&opts.auth, &opts.public) {
        (None, None) if options_were_clean => {
            let attribute = errors.attribute();
            errors.at(
                Span::call_site(),
                format!("`#[{attribute}]` needs `auth` or `public = \"<reason>\"`: every route says who may call it"),
            );
        }
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
            opts.owner.as_ref().map(|(k, _)| k),
            opts.quota.as_ref().map(|r| &r.key),
        ];
        if let (Some(account), None) = (&opts.rate_account, &opts.rate_identifier) {
            errors.spanned(
                &account.key,
                "`rate_account` needs an authenticated principal; add `auth`, or on a public route (login, reset) limit per identifier with `rate_identifier` and `IdentifierLimit`",
            );
        }
        let attribute = errors.attribute();
        for key in needs_auth.into_iter().flatten() {
            errors.spanned(
                key,
                format!(
                    "`{key}` needs an authenticated principal; add `auth` to this `{attribute}`"
                ),
            );
        }
    }
}

/// What is wrong with an argument that reads input unvalidated, and the
/// fix; looks through `Option<…>` and `Result<…, _>`, axum's spellings of
/// an optional or fallible extractor. The whole `Request` stays allowed:
/// a server-rendered page hands its parts to the renderer (todo-leptos'
/// page), and it is as visible in review as an `unsafe` block.
fn unvalidated(ty: &Type) -> Option<&'static str> {
    const BODY: &str = "the raw body; declare `body = T` and take `Valid<T>` (or `upload(...)` and `Upload` for a file)";
    if let Type::Tuple(tuple) = ty {
        return tuple.elems.iter().find_map(unvalidated);
    }
    let name = outer_name(ty)?;
    if name == "Option" || name == "Result" {
        return generic_of(ty, &name).and_then(unvalidated);
    }
    Some(match name.as_str() {
        "Json" => "an unvalidated JSON body; declare `body = T` and take `Valid<T>`",
        "Form" => "an unvalidated form body; declare `body = T` and take `Valid<T>`",
        "Query" => "an unvalidated query; declare `query = T` and take `ValidQuery<T>`",
        "RawQuery" => "the raw query string; declare `query = T` and take `ValidQuery<T>`",
        "Path" => {
            "unvalidated path parameters; take `Owned<T>` with `owner = \"…\"` for a resource's id, or `ValidPath<T>` with a struct deriving `Deserialize` and `Validate`"
        }
        "RawPathParams" => {
            "raw path parameters; take `Owned<T>` with `owner = \"…\"` for a resource's id, or `ValidPath<T>` with a struct deriving `Deserialize` and `Validate`"
        }
        "String" | "Bytes" | "Body" | "RawForm" => BODY,
        "Multipart" => "an unchecked multipart body; declare `upload(...)` and take `Upload`",
        _ => return None,
    })
}

/// The types an argument extracts: itself, or each element of a tuple
/// (axum extracts a tuple of extractors element by element).
pub(crate) fn leaves(ty: &Type) -> Vec<&Type> {
    match ty {
        Type::Tuple(tuple) => tuple.elems.iter().flat_map(leaves).collect(),
        Type::Paren(p) => leaves(&p.elem),
        Type::Group(g) => leaves(&g.elem),
        other => vec![other],
    }
}

/// The last path segment of a type (`Owned` for `guard_axum::Owned<Project>`).
pub(crate) fn outer_name(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        Type::Paren(p) => outer_name(&p.elem),
        Type::Group(g) => outer_name(&g.elem),
        _ => None,
    }
}

/// `X` in `Owned<X>` (or another single-parameter wrapper named `wrapper`).
pub(crate) fn generic_of<'a>(ty: &'a Type, wrapper: &str) -> Option<&'a Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != wrapper {
        return None;
    }
    match &last.arguments {
        syn::PathArguments::AngleBracketed(args) => args.args.iter().find_map(|a| match a {
            syn::GenericArgument::Type(t) => Some(t),
            _ => None,
        }),
        _ => None,
    }
}
