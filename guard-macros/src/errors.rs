//! Collects every error of one expansion, so a user with three mistakes
//! sees three messages in one compile (serde's `Ctxt`).

use proc_macro2::TokenStream;
use std::fmt::Display;

pub(crate) struct Errors {
    all: Option<syn::Error>,
    /// The attribute being expanded, as its messages name it.
    attribute: &'static str,
}

impl Default for Errors {
    fn default() -> Self {
        Self::for_attribute("secure_route")
    }
}

impl Errors {
    /// The errors of `#[attribute]` (the options' messages name it).
    pub(crate) fn for_attribute(attribute: &'static str) -> Self {
        Self {
            all: None,
            attribute,
        }
    }

    /// `secure_route` or `secure_server_fn`.
    pub(crate) fn attribute(&self) -> &'static str {
        self.attribute
    }

    pub(crate) fn push(&mut self, err: syn::Error) {
        match &mut self.all {
            Some(all) => all.combine(err),
            None => self.all = Some(err),
        }
    }

    pub(crate) fn spanned(&mut self, tokens: impl quote::ToTokens, message: impl Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    pub(crate) fn at(&mut self, span: proc_macro2::Span, message: impl Display) {
        self.push(syn::Error::new(span, message));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.all.is_none()
    }

    pub(crate) fn into_error(self) -> Option<syn::Error> {
        self.all
    }

    pub(crate) fn into_compile_errors(self) -> TokenStream {
        self.all.map(|e| e.to_compile_error()).unwrap_or_default()
    }
}
