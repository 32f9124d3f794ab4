//! Parses the attribute's arguments into a generic list of options, keeping
//! every token so later errors can point at it. What each option means is
//! `attr`'s business: a new option is a new arm there, not a new grammar.

use proc_macro2::Span;
use syn::ext::IdentExt as _;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, Lit, Token, Type, bracketed, parenthesized};

/// `key`, `key = value` or `key(nested, ...)`.
pub(crate) struct RawOption {
    pub(crate) key: Ident,
    pub(crate) value: RawValue,
}

pub(crate) enum RawValue {
    /// `auth`
    Flag,
    /// `public = "reason"`
    Lit(Lit),
    /// `roles = ["a", "b"]`
    List { span: Span, items: Vec<Expr> },
    /// `body = UpdateProject`
    Type(Box<Type>),
    /// `upload(max = "5MiB", ...)`
    Nested { span: Span, options: Vec<RawOption> },
}

pub(crate) struct RawOptions(pub(crate) Vec<RawOption>);

impl Parse for RawOptions {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let list = Punctuated::<RawOption, Token![,]>::parse_terminated(input)?;
        Ok(Self(list.into_iter().collect()))
    }
}

impl Parse for RawOption {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        // Keywords (`type`, `fn`) are accepted as keys so the error can say
        // they are unknown options instead of a parser message.
        if input.peek(Lit) {
            let lit: Lit = input.parse()?;
            let message = match &lit {
                Lit::Str(name) => format!(
                    "options are bare names, not strings: write `{0}`, not `\"{0}\"`",
                    name.value()
                ),
                _ => "options are bare names (`auth`, `public = \"reason\"`), not literals"
                    .to_owned(),
            };
            return Err(syn::Error::new(lit.span(), message));
        }
        let key = Ident::parse_any(input)?;
        let value = if input.peek(Token![=]) {
            let eq = input.parse::<Token![=]>()?;
            if input.is_empty() || input.peek(Token![,]) {
                return Err(syn::Error::new(
                    eq.span,
                    format!(
                        "`{key} =` needs a value after `=` (a type, a string or a list), or remove `{key}`"
                    ),
                ));
            }
            if input.peek(Lit) {
                RawValue::Lit(input.parse()?)
            } else if input.peek(syn::token::Bracket) {
                let content;
                let bracket = bracketed!(content in input);
                let items = Punctuated::<Expr, Token![,]>::parse_terminated(&content)?;
                RawValue::List {
                    span: bracket.span.join(),
                    items: items.into_iter().collect(),
                }
            } else {
                RawValue::Type(input.parse()?)
            }
        } else if input.peek(syn::token::Paren) {
            let content;
            let paren = parenthesized!(content in input);
            let options = Punctuated::<RawOption, Token![,]>::parse_terminated(&content)?;
            RawValue::Nested {
                span: paren.span.join(),
                options: options.into_iter().collect(),
            }
        } else {
            RawValue::Flag
        };
        Ok(Self { key, value })
    }
}
