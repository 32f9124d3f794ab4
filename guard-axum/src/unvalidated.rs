//! The type-level half of `#[secure_route]`'s refusal of raw input.
//!
//! The macro reads tokens: `Path<u32>` it refuses by name, but a type alias
//! (`type P = Path<u32>`), a renamed import (`use axum::Json as J`), a type
//! macro or a projection hides the name. The expansion therefore also
//! names every argument type (each element of a tuple, the inside of
//! `Option`/`Result`) in a check that picks, by method resolution, a
//! [`Raw`] verdict for axum's raw extractors and [`Accepted`] for any
//! other type, and requires [`CheckedArgument`]: a raw extractor fails that
//! bound with the trait's message, at the argument, naming the fix.
//!
//! Written by hand because stable Rust has no negative bounds: the two
//! verdicts come from "autoref specialization" (a method on
//! `Probe<RawType>` is found before the blanket one on `&Probe<T>`), which
//! works on the concrete argument types the macro sees. An extractor of the
//! user's own that reads the body is not caught: it is code to review like
//! any other that reads input.

use std::marker::PhantomData;

use axum::body::{Body, Bytes};
use axum::extract::{Multipart, Path, Query, RawForm, RawPathParams, RawQuery};
use axum::{Form, Json};

/// An argument type under the check.
#[derive(Debug)]
pub struct Probe<T: ?Sized>(PhantomData<T>);

impl<T: ?Sized> Probe<T> {
    /// The probe of `T`.
    #[must_use]
    pub const fn new() -> Self {
        Self(PhantomData)
    }
}

impl<T: ?Sized> Default for Probe<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// The verdict on an argument that is one of axum's raw extractors.
#[derive(Debug)]
pub struct Raw<T: ?Sized>(PhantomData<T>);

/// The verdict on any other argument.
#[derive(Debug, Clone, Copy)]
pub struct Accepted;

/// A verdict, and the type [`refuse_unvalidated`] requires to be a
/// [`CheckedArgument`]: `Accepted` itself, or the raw argument's type
/// (which never is one, so the error names it).
pub trait Verdict {
    /// What must be a [`CheckedArgument`].
    type Subject: ?Sized;
}

impl Verdict for Accepted {
    type Subject = Accepted;
}

impl<T: ?Sized> Verdict for Raw<T> {
    type Subject = T;
}

/// Found first, on `Probe<T>` itself, for the raw extractors.
pub trait RawVerdict {
    /// The argument's type.
    type Arg: ?Sized;
    /// [`Raw`].
    fn verdict(&self) -> Raw<Self::Arg> {
        Raw(PhantomData)
    }
}

/// Found second, through a reference, for every type.
pub trait AcceptedVerdict {
    /// [`Accepted`].
    fn verdict(&self) -> Accepted {
        Accepted
    }
}

impl<T: ?Sized> AcceptedVerdict for &Probe<T> {}

macro_rules! raw {
    ($($ty:ty $(, $t:ident)?);* $(;)?) => {
        $(impl$(<$t>)? RawVerdict for Probe<$ty> { type Arg = $ty; })*
    };
}

raw! {
    Path<T>, T; Json<T>, T; Form<T>, T; Query<T>, T;
    RawQuery; RawPathParams; RawForm; String; Bytes; Body; Multipart;
}

impl<T> RawVerdict for Probe<Option<T>>
where
    Probe<T>: RawVerdict,
{
    type Arg = Option<T>;
}

impl<T, E> RawVerdict for Probe<Result<T, E>>
where
    Probe<T>: RawVerdict,
{
    type Arg = Result<T, E>;
}

/// What a `#[secure_route]` handler's argument must be: implemented only
/// by [`Accepted`], so a raw argument's type fails it with this message.
#[diagnostic::on_unimplemented(
    message = "a `#[secure_route]` handler cannot take raw request input: `{Self}` is read unvalidated",
    label = "raw request input, whatever name it has here",
    note = "take the validated form: `Valid<T>` for a body (with `body = T`), `ValidQuery<T>` for the query (with `query = T`), `ValidPath<T>` for path parameters, `Owned<T>` for an owned resource, `Upload` for a file"
)]
pub trait CheckedArgument {}

impl CheckedArgument for Accepted {}

/// Named by the expansion with each argument type's verdict: compiles for
/// [`Accepted`] only.
pub fn refuse_unvalidated<V: Verdict>(_verdict: V)
where
    V::Subject: CheckedArgument,
{
}
