//! The `#[secure_route(...)]` attribute of the guard framework.
//!
//! Use it through `guard-axum`, which re-exports it and documents it; the
//! generated code calls `::guard_axum::__private` by absolute path.

mod attr;
mod errors;
mod expand;
mod grammar;
mod parse;
mod server_fn;
mod valid;

use proc_macro::TokenStream;

/// Declares the guards of an axum handler. See `guard_axum::secure_route`.
#[proc_macro_attribute]
pub fn secure_route(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::secure_route(args.into(), item.into()).into()
}

/// Guards a Leptos `#[server]` function. See `guard_leptos::secure_server_fn`.
#[proc_macro_attribute]
pub fn secure_server_fn(args: TokenStream, item: TokenStream) -> TokenStream {
    server_fn::secure_server_fn(args.into(), item.into()).into()
}
