//! `#[secure_server_fn(...)]`: the guards of a Leptos `#[server]` function.
//!
//! It goes *above* `#[server]`, reads the same options as `#[secure_route]`
//! (same grammar, same checks, same errors), and re-emits the function with
//! `#[server]` still on it and its body prefixed by the guards:
//! `enter(PATH)` (the route's guards on a direct call; the HTTP route ran
//! them already), the owner-scoped load of the `owner = "…"` argument (the
//! caller sends the id, the body gets `Owned<T>`), and the `validator`
//! rules of every argument. Beside it: a unit struct implementing
//! `SecureHandler` (the HTTP route, behind the router's guards) and its
//! registration, which `ServerFns::install` lists and checks.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::spanned::Spanned as _;
use syn::{FnArg, Ident, ItemFn, LitStr, Pat, ReturnType, Type};

use crate::attr::{self, Options};
use crate::errors::Errors;
use crate::expand::{spec, with_errors};
use crate::valid;

/// What the `#[server(...)]` attribute says that the guards need.
struct ServerAttr {
    /// The argument struct `#[server]` generates.
    name: Ident,
    /// The input codec's name, for the report.
    codec: String,
}

pub(crate) fn secure_server_fn(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut item_fn: ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(_) => {
            let err = syn::Error::new_spanned(
                &item,
                "`#[secure_server_fn]` goes on an `async fn`, above its `#[server]` attribute",
            );
            return with_errors(item, err.to_compile_error());
        }
    };
    let mut errors = Errors::for_attribute("secure_server_fn");
    let opts = attr::parse_options(args, &mut errors);
    not_for_server_fns(&opts, &mut errors);
    let server = server_attr(&item_fn, &mut errors);
    let owner = signature(&item_fn, &opts, &mut errors);
    if !errors.is_empty() {
        // Without `#[server]`, the function stays a plain one beside the
        // errors: no follow-on errors from its expansion.
        item_fn.attrs.retain(|a| !is_server(a));
        return with_errors(quote!(#item_fn), errors.into_compile_errors());
    }
    match server {
        Some(server) => guarded(item_fn, &opts, &server, owner),
        None => with_errors(item, TokenStream::new()),
    }
}

fn is_server(attr: &syn::Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|s| s.ident == "server")
}

/// Options that have no meaning on a server function, each refused with
/// what to do instead.
fn not_for_server_fns(opts: &Options, errors: &mut Errors) {
    if let Some((key, _)) = &opts.body {
        errors.spanned(
            key,
            "a server function's arguments are its body, checked strictly already; remove `body`",
        );
    }
    if let Some((key, _)) = &opts.query {
        errors.spanned(
            key,
            "a server function's arguments are its query, checked strictly already; remove `query`",
        );
    }
    if let Some(rate) = &opts.rate_identifier {
        errors.spanned(&rate.key, "`rate_identifier` needs a route handler's `IdentifierLimit`; on a server function use `rate` or `rate_ip`");
    }
    if let Some((key, _)) = &opts.allow_identity {
        errors.spanned(
            key,
            "a server function cannot take identity fields; take them from the principal",
        );
    }
    if opts.upload.is_some() || opts.fetch.is_some() {
        errors.at(
            proc_macro2::Span::call_site(),
            "`upload` and `fetch` are route-handler guards; give uploads and outbound fetches a `#[secure_route]`",
        );
    }
}

/// Finds `#[server(...)]` and reads the struct name and the input codec.
fn server_attr(item: &ItemFn, errors: &mut Errors) -> Option<ServerAttr> {
    let Some(attr) = item.attrs.iter().find(|a| is_server(a)) else {
        errors.spanned(
            &item.sig.ident,
            "`#[secure_server_fn]` guards a Leptos server function: put it above `#[server]` (`#[secure_server_fn(auth)] #[server] pub async fn …`)",
        );
        return None;
    };
    let mut name = format_ident!(
        "{}",
        camel(&item.sig.ident.to_string()),
        span = item.sig.ident.span()
    );
    let mut codec = "PostUrl".to_owned();
    if let syn::Meta::List(list) = &attr.meta {
        let parsed = list.parse_args_with(
            syn::punctuated::Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated,
        );
        match parsed {
            Ok(args) => {
                for (i, arg) in args.iter().enumerate() {
                    match arg {
                        // `#[server(DeleteTodo, "/api")]`: the name first.
                        syn::Expr::Path(p) if i == 0 => {
                            if let Some(ident) = p.path.get_ident() {
                                name = ident.clone();
                            }
                        }
                        syn::Expr::Assign(assign) => {
                            let left = &assign.left;
                            let key = quote!(#left).to_string();
                            let right = &assign.right;
                            let last = match &**right {
                                syn::Expr::Path(p) => {
                                    p.path.segments.last().map(|s| s.ident.clone())
                                }
                                _ => None,
                            };
                            match (key.as_str(), last) {
                                ("name", Some(ident)) => name = ident,
                                ("input", Some(ident)) => codec = ident.to_string(),
                                ("protocol", _) => {
                                    codec = quote!(#right).to_string().replace(' ', "")
                                }
                                _ => {}
                            }
                        }
                        _ => {}
                    }
                }
            }
            Err(err) => errors.push(err),
        }
    }
    Some(ServerAttr { name, codec })
}

/// `delete_todo` → `DeleteTodo`, as `#[server]` names its struct.
fn camel(snake: &str) -> String {
    snake
        .split('_')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut chars = p.chars();
            chars.next().map_or_else(String::new, |c| {
                c.to_uppercase().chain(chars).collect::<String>()
            })
        })
        .collect()
}

/// The owner argument: its name and the resource type in `Owned<T>`.
struct OwnerArg {
    name: Ident,
    resource: Type,
}

/// Checks the signature: an `async fn` of named arguments returning
/// `Result<_, GuardedError>`; `owner = "x"` names an argument `x: Owned<T>`.
fn signature(item: &ItemFn, opts: &Options, errors: &mut Errors) -> Option<OwnerArg> {
    let sig = &item.sig;
    if sig.asyncness.is_none() {
        errors.spanned(
            sig.fn_token,
            "a server function must be an `async fn`; add `async` before `fn`",
        );
    }
    if !sig.generics.params.is_empty() {
        errors.spanned(&sig.generics, "a guarded server function cannot be generic");
    } else if let Some(clause) = &sig.generics.where_clause {
        errors.spanned(
            clause,
            "a guarded server function cannot be generic; remove the `where` clause",
        );
    }
    let returns_guarded = match &sig.output {
        ReturnType::Type(_, ty) => valid::outer_name(ty).as_deref() == Some("Result")
            && match &**ty {
                Type::Path(p) => p.path.segments.last().is_some_and(|s| match &s.arguments {
                    syn::PathArguments::AngleBracketed(a) => a.args.iter().nth(1).is_some_and(|e| {
                        matches!(e, syn::GenericArgument::Type(t) if valid::outer_name(t).as_deref() == Some("GuardedError"))
                    }),
                    _ => false,
                }),
                _ => false,
            },
        ReturnType::Default => false,
    };
    if !returns_guarded {
        errors.at(
            match &sig.output {
                ReturnType::Type(_, ty) => ty.span(),
                ReturnType::Default => sig.ident.span(),
            },
            "a guarded server function returns `Result<T, GuardedError>`, so no error's text reaches the response",
        );
    }
    let owner_names: Vec<String> = opts
        .owner
        .iter()
        .flat_map(|(_, params)| params.iter().map(LitStr::value))
        .collect();
    if let Some((key, params)) = &opts.owner
        && params.len() > 1
    {
        errors.spanned(
            key,
            "a server function loads one owned resource; name one argument in `owner`",
        );
    }
    let mut owner = None;
    for input in &sig.inputs {
        let FnArg::Typed(arg) = input else {
            errors.spanned(
                input,
                "a server function is a free `async fn`; remove `self`",
            );
            continue;
        };
        let Pat::Ident(pat) = &*arg.pat else {
            errors.spanned(
                &arg.pat,
                "a server function's arguments are named fields; bind each to a name",
            );
            continue;
        };
        let owned = valid::generic_of(&arg.ty, "Owned");
        let named = owner_names.contains(&pat.ident.to_string());
        match (owned, named) {
            (Some(resource), true) => {
                owner = Some(OwnerArg {
                    name: pat.ident.clone(),
                    resource: resource.clone(),
                });
            }
            (Some(_), false) => errors.spanned(
                &arg.ty,
                format!("this `Owned<T>` is loaded for the caller; name it in the guards: `owner = \"{}\"`", pat.ident),
            ),
            (None, true) => errors.spanned(
                &arg.ty,
                format!("`owner = \"{}\"` loads this argument within the principal's scope; take it as `Owned<T>`", pat.ident),
            ),
            (None, false) => {}
        }
    }
    if let Some((key, params)) = &opts.owner
        && owner.is_none()
        && params.len() == 1
        && !sig.inputs.iter().any(|i| matches!(i, FnArg::Typed(a) if matches!(&*a.pat, Pat::Ident(p) if owner_names.contains(&p.ident.to_string()))))
    {
        errors.spanned(
            key,
            format!("`owner = \"{}\"` names an argument the function does not take; add `{}: Owned<T>`", owner_names.join(""), owner_names.join("")),
        );
    }
    owner
}

fn guarded(
    mut item: ItemFn,
    opts: &Options,
    server: &ServerAttr,
    owner: Option<OwnerArg>,
) -> TokenStream {
    let p = quote! { ::guard_leptos::__private };
    let fn_name = item.sig.ident.clone();
    let handler = format_ident!("__secure_server_fn_{}", fn_name, span = fn_name.span());
    let args_struct = &server.name;
    let codec = LitStr::new(&server.codec, fn_name.span());
    let spec = spec(&item, opts);
    let path = quote! { <#args_struct as #p::ServerFn>::PATH };

    let mut names = Vec::new();
    let mut validate = Vec::new();
    for input in &mut item.sig.inputs {
        let FnArg::Typed(arg) = input else { continue };
        let Pat::Ident(pat) = &*arg.pat else { continue };
        let name = pat.ident.clone();
        names.push(LitStr::new(&name.to_string(), name.span()));
        if let Some(owner) = &owner
            && owner.name == name
        {
            let resource = &owner.resource;
            // The caller sends the id; the body receives the resource.
            *arg.ty = syn::parse_quote!(<#resource as #p::Resource>::Id);
        } else {
            let arg_name = LitStr::new(&name.to_string(), name.span());
            validate.push(quote! {
                (&#p::Arg(&#name)).guard_validate().map_err(|err| #p::invalid(#arg_name, err))?;
            });
        }
    }
    let owner_check = match &owner {
        Some(OwnerArg { name, resource }) => {
            let name = LitStr::new(&name.to_string(), name.span());
            quote! { ::core::option::Option::Some((#name, #p::canonical_id::<#resource>)) }
        }
        None => quote! { ::core::option::Option::None },
    };
    let load = owner.map(|OwnerArg { name, resource }| {
        quote! {
            let #name: ::guard_axum::Owned<#resource> = __guard_checked.owned::<#resource>(&#name).await?;
        }
    });
    let block = &item.block;
    item.block = syn::parse_quote!({
        let __guard_checked = #p::enter(#path).await?;
        {
            #[allow(unused_imports)]
            use #p::{NoRules as _, Validates as _};
            #(#validate)*
        }
        #load
        let _ = &__guard_checked;
        #block
    });
    let vis = &item.vis;
    quote! {
        #item

        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy, Debug, Default)]
        #vis struct #handler;

        impl #handler {
            /// The guards declared on this server function.
            #vis const SPEC: #p::RouteSpec = #spec.server_fn(#codec);
        }

        impl #p::Sealed for #handler {}

        impl<__S> #p::SecureHandler<(), __S> for #handler
        where
            __S: ::core::clone::Clone + ::core::marker::Send + ::core::marker::Sync + 'static,
        {
            const SPEC: &'static #p::RouteSpec = &#handler::SPEC;

            fn call(self, incoming: #p::Incoming<__S>) -> #p::BoxFuture<'static, #p::Response> {
                ::std::boxed::Box::pin(#p::serve(incoming, #path))
            }
        }

        #p::inventory::submit! {
            #p::Registered {
                path: #path,
                spec: &#handler::SPEC,
                attach: #p::attach::<#handler>,
                fields: &[#(#names),*],
                json: #p::check_json_strict::<#args_struct>,
                problems: #p::args_problems::<#args_struct>,
                allowed_identity: &[],
                owner: #owner_check,
                media: {
                    fn media() -> ::core::option::Option<&'static str> {
                        #[allow(unused_imports)]
                        use #p::{HttpInput as _, OtherInput as _};
                        (&#p::Protocol::<<#args_struct as #p::ServerFn>::Protocol>::new()).input_media()
                    }
                    media
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::camel;

    #[test]
    fn names_the_struct_as_server_does() {
        assert_eq!(camel("delete_todo"), "DeleteTodo");
        assert_eq!(camel("me"), "Me");
        assert_eq!(camel("list__todos_"), "ListTodos");
    }
}
