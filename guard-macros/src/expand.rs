//! Turns a checked handler into a guarded one.
//!
//! `async fn name(args) -> R { body }` becomes a function `name()` (so a
//! handler's name never shadows a binding) returning the guarded handler, a
//! unit struct `__secure_route_name` with:
//! * the original function as `name().call_unguarded(args)`, callable
//!   directly in unit tests;
//! * `SPEC` / `name().spec()`, the static `RouteSpec` the router reports;
//! * an impl of `SecureHandler`, the only kind of handler `guard_axum::routing`
//!   accepts. Its `call` receives an `Incoming` request whose parts only
//!   `Incoming::serve` (`Incoming::admit`'s work, in the same future) hands
//!   out, after running the guards, so the guards always run before any of
//!   the handler's extractors. It then extracts the arguments in axum's
//!   order (the `FromRequestParts` ones, then the last, through
//!   `LastArgument`: from the parts in place for a parts extractor, else as
//!   `FromRequest`), except that with `body = T` the `Owned<T>` lookups
//!   run after the body is read and validated; every refusal goes out
//!   through `Guards::finish`, as the handler's response does;
//! * `const` checks of the user's types (`bounds`), spanned at each type.
//!
//! On error the user's function is still emitted beside the errors, so no
//! follow-on errors appear and rust-analyzer keeps working (tokio's
//! `token_stream_with_error`).

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned as _;
use syn::{ItemFn, LitStr};

use crate::attr::{self, Options, RateOption};
use crate::errors::Errors;
use crate::valid::{self, Handler};

pub(crate) fn secure_route(args: TokenStream, item: TokenStream) -> TokenStream {
    let item_fn: ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(_) => {
            let err =
                syn::Error::new_spanned(&item, "`#[secure_route]` goes on an `async fn` handler");
            return with_errors(item, err.to_compile_error());
        }
    };
    let mut errors = Errors::default();
    let opts = attr::parse_options(args, &mut errors);
    let mut signature = Errors::default();
    let handler = valid::handler(&item_fn, &mut signature);
    let signature_ok = signature.is_empty();
    if let Some(err) = signature.into_error() {
        errors.push(err);
    }
    if errors.is_empty() {
        valid::options_against_handler(&opts, &handler, &mut errors);
    }
    if !errors.is_empty() {
        let errors = errors.into_compile_errors();
        // A sound signature keeps the guarded shape (`name()`, `spec()`,
        // routable), so a misspelt option is the only error, not also every
        // `get(name)` and `name().spec()` that uses it.
        return if signature_ok {
            with_errors(placeholder(&item_fn), errors)
        } else {
            with_errors(item, errors)
        };
    }
    guarded(&item_fn, &opts, &handler)
}

/// What a handler whose options have errors expands to beside them: the
/// function as `name().call_unguarded(…)` and a handler that routes but
/// never runs (the crate does not compile).
fn placeholder(item: &ItemFn) -> TokenStream {
    let p = quote! { ::guard_axum::__private };
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = item;
    let fn_name = &sig.ident;
    let name = &format_ident!("__secure_route_{}", fn_name, span = fn_name.span());
    let handler_name = LitStr::new(&fn_name.to_string(), fn_name.span());
    let mut inner_sig = sig.clone();
    inner_sig.ident = format_ident!("call_unguarded", span = sig.ident.span());
    inner_sig.inputs.insert(0, syn::parse_quote!(self));
    quote! {
        #[must_use]
        #vis fn #fn_name() -> #name {
            #name
        }

        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy, Debug)]
        #vis struct #name;

        impl #name {
            #vis const SPEC: #p::RouteSpec =
                #p::RouteSpec::authenticated(#handler_name, ::core::module_path!());

            #[must_use]
            #vis fn spec(self) -> &'static #p::RouteSpec {
                &Self::SPEC
            }

            #(#attrs)*
            #[allow(clippy::too_many_arguments, dead_code)]
            #vis #inner_sig #block
        }

        impl #p::Sealed for #name {}

        impl<__S> #p::SecureHandler<(), __S> for #name {
            const SPEC: &'static #p::RouteSpec = &#name::SPEC;

            fn call(self, _: #p::Incoming<__S>) -> #p::BoxFuture<'static, #p::Response> {
                ::core::unreachable!("a handler with `#[secure_route]` errors does not compile")
            }
        }
    }
}

pub(crate) fn with_errors(item: TokenStream, errors: TokenStream) -> TokenStream {
    quote! { #errors #item }
}

pub(crate) fn spec(item: &ItemFn, opts: &Options) -> TokenStream {
    let p = quote! { ::guard_axum::__private };
    let name = LitStr::new(&item.sig.ident.to_string(), item.sig.ident.span());
    let mut spec = match &opts.public {
        Some((_, reason)) => quote! {
            ::guard_axum::__private::RouteSpec::public(#name, ::core::module_path!(), #reason)
        },
        None => quote! {
            ::guard_axum::__private::RouteSpec::authenticated(#name, ::core::module_path!())
        },
    };
    if let Some((_, roles)) = &opts.roles {
        spec = quote! { #spec.roles(&[#(#roles),*]) };
    }
    if let Some((_, permission)) = &opts.permission {
        spec = quote! { #spec.permission(#permission) };
    }
    if let Some((_, params)) = &opts.owner {
        spec = quote! { #spec.owner(&[#(#params),*]) };
    }
    if let Some((_, ty)) = &opts.body {
        let type_name = LitStr::new(&quote!(#ty).to_string().replace(' ', ""), ty.span());
        let allowed: Vec<LitStr> = opts
            .allow_identity
            .iter()
            .flat_map(|(_, fields)| {
                fields
                    .iter()
                    .map(|(f, _)| LitStr::new(&f.to_string(), f.span()))
            })
            .collect();
        spec = quote! {
            #spec.body(#p::BodySpec {
                type_name: #type_name,
                problems: <#ty as #p::StrictBody>::problems,
                allowed_identity_fields: &[#(#allowed),*],
            })
        };
    }
    if let Some((_, ty)) = &opts.query {
        let type_name = LitStr::new(&quote!(#ty).to_string().replace(' ', ""), ty.span());
        spec = quote! {
            #spec.query(#p::QuerySpec { type_name: #type_name, problems: <#ty as #p::StrictQuery>::problems })
        };
    }
    if let Some((_, bytes)) = &opts.body_limit {
        spec = quote! { #spec.body_limit(#bytes) };
    }
    let rate = |opt: &Option<RateOption>, ty: TokenStream| match opt {
        Some(RateOption { lit, .. }) => quote! {
            ::core::option::Option::Some(match #p::#ty::parse(#lit) {
                ::core::result::Result::Ok(spec) => spec,
                // Checked when the macro ran; unreachable.
                ::core::result::Result::Err(_) => ::core::panic!("invalid rate"),
            })
        },
        None => quote! { ::core::option::Option::None },
    };
    if opts.rate.is_some()
        || opts.rate_ip.is_some()
        || opts.rate_account.is_some()
        || opts.rate_identifier.is_some()
        || opts.quota.is_some()
    {
        let (rate_all, per_ip, per_account, per_identifier, quota) = (
            rate(&opts.rate, quote!(RateSpec)),
            rate(&opts.rate_ip, quote!(RateSpec)),
            rate(&opts.rate_account, quote!(RateSpec)),
            rate(&opts.rate_identifier, quote!(RateSpec)),
            rate(&opts.quota, quote!(QuotaSpec)),
        );
        spec = quote! {
            #spec.limits(#p::RateLimits {
                rate: #rate_all,
                per_ip: #per_ip,
                per_account: #per_account,
                per_identifier: #per_identifier,
                quota: #quota,
            })
        };
    }
    if let Some(upload) = &opts.upload {
        let (max, types) = (upload.max_bytes, &upload.types);
        spec = quote! { #spec.upload(#p::UploadSpec { max_bytes: #max, types: &[#(#types),*] }) };
    }
    if opts.fetch.is_some() {
        spec = quote! { #spec.fetch() };
    }
    if let Some((_, reason)) = &opts.csrf_none {
        spec = quote! { #spec.csrf_none(#reason) };
    }
    spec
}

/// Checks on the user's types, each a hidden `const` spanned at the type so
/// the error points there: the body and query bounds through a hidden
/// function (axum's `debug_handler`), each `Owned<T>`'s `T::PARAM` against
/// `owner = …` through a `const` assertion.
fn bounds(opts: &Options, handler: &Handler) -> TokenStream {
    let p = quote! { ::guard_axum::__private };
    let mut checks = TokenStream::new();
    // The name check in `valid` misses an alias, a renamed import or a type
    // macro; the type does not (see guard-axum's `unvalidated` module).
    // One call per argument type, each spanned at it, in a fn that is
    // never called: type-checking its body is the check.
    let verdicts = handler
        .arg_types
        .iter()
        .flat_map(valid::leaves)
        .map(|leaf| {
            quote_spanned! {leaf.span()=>
                #p::refuse_unvalidated((&#p::Probe::<#leaf>::new()).verdict());
            }
        });
    checks.extend(quote! {
        const _: () = {
            #[allow(dead_code)]
            fn __guard_refuse_unvalidated() {
                #[allow(unused_imports)]
                use #p::{AcceptedVerdict as _, RawVerdict as _};
                #(#verdicts)*
            }
        };
    });
    if let Some((_, params)) = &opts.owner {
        for resource in handler
            .arg_types
            .iter()
            .filter_map(|t| valid::generic_of(t, "Owned"))
        {
            checks.extend(quote_spanned! {resource.span()=>
                const _: () = ::core::assert!(
                    #p::declares(&[#(#params),*], <#resource as #p::Resource>::PARAM),
                    "this `Owned<T>` loads a path parameter (`T::PARAM`) that the route's `owner = …` does not name"
                );
            });
        }
    }
    // `body = T` and `query = T` need no assertion here: the spec names
    // `<T as StrictBody>::problems` (`StrictQuery`), whose unmet bound is the
    // one error, with that trait's message, on the user's type.
    // The type the handler decodes is the one declared (the report and the
    // router's build-time checks read the declared one).
    for (option, wrapper) in [(&opts.body, "Valid"), (&opts.query, "ValidQuery")] {
        let Some((_, declared)) = option else {
            continue;
        };
        for decoded in handler
            .arg_types
            .iter()
            .filter_map(|t| valid::generic_of(t, wrapper))
        {
            checks.extend(quote_spanned! {decoded.span()=>
                const _: () = {
                    fn assert_declared<U: #p::DeclaredAs<T>, T>() {}
                    let _ = assert_declared::<#decoded, #declared>;
                };
            });
        }
    }
    checks
}

fn guarded(item: &ItemFn, opts: &Options, handler: &Handler) -> TokenStream {
    let p = quote! { ::guard_axum::__private };
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = item;
    // Docs describe the route and go on `name()`, the function users name;
    // every other attribute (`#[tracing::instrument]`, lints) belongs to the
    // handler itself, `call_unguarded`.
    let (docs, fn_attrs): (Vec<_>, Vec<_>) = attrs.iter().partition(|a| a.path().is_ident("doc"));
    // The handler's own name stays a function (`fn name()` returning the
    // unit struct `__secure_route_name`), so it never shadows a binding: a
    // unit struct named `login` would turn every `let login = …` in the
    // module into a pattern match on it.
    let fn_name = &sig.ident;
    let name = &format_ident!("__secure_route_{}", fn_name, span = fn_name.span());
    let spec = spec(item, opts);
    let bounds = bounds(opts, handler);

    let mut inner_sig = sig.clone();
    inner_sig.ident = format_ident!("call_unguarded", span = sig.ident.span());
    // `name().call_unguarded(args)` in a unit test.
    inner_sig.inputs.insert(0, syn::parse_quote!(self));

    let n = handler.arg_types.len();
    let args: Vec<_> = (0..n).map(|i| format_ident!("__arg{i}")).collect();
    let (head_tys, last_ty) = match handler.arg_types.split_last() {
        Some((last, head)) => (head.to_vec(), Some(last.clone())),
        None => (Vec::new(), None),
    };
    let head_args = &args[..head_tys.len()];

    let parts_bounds = head_tys.iter().map(|ty| {
        quote_spanned! {ty.span()=> #ty: #p::FromRequestParts<__S> + ::core::marker::Send, }
    });
    let parts_extract = |ty: &syn::Type, arg: &syn::Ident| {
        quote! {
            // The rejection becomes a response before the next await: its
            // own type need not be `Send`. The result is matched where it
            // is made, not bound first: a binding (128 bytes, the size of a
            // response) would stay in the future across every later await.
            let #arg = match <#ty as #p::FromRequestParts<__S>>::from_request_parts(&mut admitted.parts, &admitted.state)
                .await
                .map_err(#p::rejection)
            {
                ::core::result::Result::Ok(value) => value,
                ::core::result::Result::Err(refusal) => break '__answer refusal,
            };
        }
    };
    // With `body = T` the body is decoded and validated before the
    // owner-scoped load, so a malformed body (400, 413, 415) costs no query:
    // the `Owned<T>` arguments are extracted after the body, from the same
    // parts (the body extractor reads a copy of them). Every other argument
    // keeps axum's order. An `upload(...)` keeps the lookup first: its
    // extractor streams the file into the store, which must not happen for
    // a resource the principal cannot see (docs/ARCHITECTURE.md).
    let body_first = opts.body.is_some() && last_ty.is_some();
    let (before_body, after_body): (Vec<_>, Vec<_>) = head_tys
        .iter()
        .zip(head_args)
        .partition(|(ty, _)| !(body_first && valid::outer_name(ty).as_deref() == Some("Owned")));
    let parts_before_body = before_body.iter().map(|(ty, arg)| parts_extract(ty, arg));
    let parts_after_body = after_body.iter().map(|(ty, arg)| parts_extract(ty, arg));
    // Later arguments read the parts: the body extractor gets a copy.
    let keep_parts = !after_body.is_empty();
    let (marker, last_bound, last_extract) = match &last_ty {
        Some(ty) => {
            let arg = &args[n - 1];
            (
                quote! { __M },
                quote_spanned! {ty.span()=> #ty: #p::LastArgument<__S, __M> + ::core::marker::Send, },
                quote! {
                    let #arg = match <#ty as #p::LastArgument<__S, __M>>::extract(
                        &mut admitted.parts,
                        admitted.body,
                        &admitted.state,
                        #keep_parts,
                    )
                    .await
                    {
                        ::core::result::Result::Ok(value) => value,
                        ::core::result::Result::Err(refusal) => break '__answer refusal,
                    };
                },
            )
        }
        None => (quote! { () }, quote! {}, quote! {}),
    };
    // Spanned at the return type: a type that is no response is an error
    // there, with `HandlerResponse`'s message.
    let returns = match &sig.output {
        syn::ReturnType::Type(_, ty) => ty.span(),
        syn::ReturnType::Default => sig.ident.span(),
    };
    let into_response = quote_spanned! {returns=>
        #p::HandlerResponse::into_handler_response(returned)
    };
    let impl_generics = if last_ty.is_some() {
        quote! { <__S, __M> }
    } else {
        quote! { <__S> }
    };

    quote! {
        #bounds

        #(#docs)*
        #[must_use]
        #vis fn #fn_name() -> #name {
            #name
        }

        #[doc = ::core::concat!("The guarded handler `", ::core::stringify!(#fn_name), "`, as `", ::core::stringify!(#fn_name), "()` returns it.")]
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy, Debug)]
        #vis struct #name;

        impl #name {
            /// The guards declared on this handler.
            #vis const SPEC: #p::RouteSpec = #spec;

            /// The guards declared on this handler.
            #[must_use]
            #vis fn spec(self) -> &'static #p::RouteSpec {
                &Self::SPEC
            }

            /// The handler itself, without its guards (for unit tests).
            #(#fn_attrs)*
            #[allow(clippy::too_many_arguments)]
            #vis #inner_sig #block
        }

        impl #p::Sealed for #name {}

        impl #impl_generics #p::SecureHandler<#marker, __S> for #name
        where
            __S: ::core::clone::Clone + ::core::marker::Send + ::core::marker::Sync + 'static,
            #(#parts_bounds)*
            #last_bound
        {
            const SPEC: &'static #p::RouteSpec = &#name::SPEC;

            fn call(
                self,
                incoming: #p::Incoming<__S>,
            ) -> #p::BoxFuture<'static, #p::Response> {
                // The admitted request's fields are used where they lie, not
                // bound to locals: the future stays small (see
                // `Incoming::serve`).
                //
                // A refusal leaves the labelled block as the handler's
                // response does, so one `finish` future serves both and no
                // extraction's result is held while it runs.
                ::std::boxed::Box::pin(incoming.serve(move |mut admitted: #p::Admitted<__S>| async move {
                    let response = '__answer: {
                        #(#parts_before_body)*
                        #last_extract
                        #(#parts_after_body)*
                        let returned = self.call_unguarded(#(#args),*).await;
                        #into_response
                    };
                    admitted.guards.finish(&#name::SPEC, admitted.pass, response).await
                }))
            }
        }
    }
}
