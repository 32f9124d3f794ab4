//! The type-level half of `#[secure_route]`'s refusal of raw input.
//!
//! The macro reads tokens: `Path<u32>` it refuses by name, but a type alias
//! (`type P = Path<u32>`), a renamed import (`use axum::Json as J`), a type
//! macro or a projection hides the name. The expansion therefore also
//! names every argument type (each element of a tuple, the inside of
//! `Option`/`Result`) in [`refuse_unvalidated`], whose marker cannot be
//! inferred when the type is one of axum's raw extractors: two impls
//! apply, and the build stops with an error at that argument that lists
//! them (the impl's marker, [`RawInput_take_Valid_ValidPath_ValidQuery_Owned_or_Upload`],
//! names the fix). An extractor of the user's own that reads the body is
//! not caught: it is code to review like any other that reads input.

use axum::body::{Body, Bytes};
use axum::extract::{Multipart, Path, Query, RawForm, RawPathParams, RawQuery};
use axum::{Form, Json};

/// Implemented for every type with [`Accepted`]; for a raw extractor also
/// with the refusal marker, so a check of it is ambiguous.
pub trait CheckedInput<Verdict> {}

/// The marker of every type that is not a raw extractor.
#[derive(Debug, Clone, Copy)]
pub enum Accepted {}

/// The marker of a raw extractor, named so the compiler's note says the fix.
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy)]
pub enum RawInput_take_Valid_ValidPath_ValidQuery_Owned_or_Upload {}

impl<T: ?Sized> CheckedInput<Accepted> for T {}

type Raw = RawInput_take_Valid_ValidPath_ValidQuery_Owned_or_Upload;

impl<T> CheckedInput<Raw> for Path<T> {}
impl<T> CheckedInput<Raw> for Json<T> {}
impl<T> CheckedInput<Raw> for Form<T> {}
impl<T> CheckedInput<Raw> for Query<T> {}
impl CheckedInput<Raw> for RawQuery {}
impl CheckedInput<Raw> for RawPathParams {}
impl CheckedInput<Raw> for RawForm {}
impl CheckedInput<Raw> for String {}
impl CheckedInput<Raw> for Bytes {}
impl CheckedInput<Raw> for Body {}
impl CheckedInput<Raw> for Multipart {}
impl<T: CheckedInput<Raw>> CheckedInput<Raw> for Option<T> {}
impl<T: CheckedInput<Raw>, E> CheckedInput<Raw> for Result<T, E> {}

/// Named by the expansion for each argument type: compiles for any type
/// but a raw extractor.
pub const fn refuse_unvalidated<T: ?Sized + CheckedInput<V>, V>() {}
