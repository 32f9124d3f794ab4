//! Extractors that refuse what the route did not declare.
//!
//! | extractor | reads | refuses |
//! |---|---|---|
//! | [`Valid<T>`] | a JSON body | 415 non-JSON, 413 over the [`BodyLimit`] (while streaming), 400 malformed, unknown or identity fields, validation |
//! | [`ValidQuery<T>`] | the query string | 400 unknown or identity keys, wrong types, validation |
//! | [`ValidPath<T>`] | path parameters | 400 unparsable, validation |
//!
//! Every rejection is a [`GuardError`](guard_core::GuardError) with a
//! generic body; a 400 lists field paths and codes, never values.
//!
//! # Per-route settings
//!
//! The extractors read these from the request's extensions, so the guards of
//! `#[secure_route]` (or any layer) set them per route:
//!
//! * [`BodyLimit`] (default 64 KiB), via [`BodyLimit::apply_to`] or
//!   [`BodyLimitLayer`], which also set axum's `DefaultBodyLimit`;
//! * [`AllowIdentityFields`], the identity fields the route accepts;
//! * [`FieldDetail`](guard_core::validate::FieldDetail)`::Generic` to answer
//!   every 400 without the field list.

pub(crate) mod client_ip;
mod limit;
mod options;
pub(crate) mod owned;
mod path;
mod query;
mod valid;

pub use client_ip::{ClientIp, ClientIpFuture, ClientIpLayer, ClientIpService, client_rate_key};
pub use limit::{BodyLimit, BodyLimitLayer, BodyLimitService};
pub use options::AllowIdentityFields;
pub use owned::{Owned, OwnedResource, Owner, Resource, parse_id};
pub use path::ValidPath;
pub use query::{ValidQuery, decode_query_strict};
pub use valid::Valid;
