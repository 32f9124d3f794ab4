//! Owner-scoped lookups: the cure for insecure direct object references.
//!
//! `#[secure_route(auth, owner = "project")]` on a handler that takes
//! `Owned<Project>` loads the project named by the `{project}` path
//! parameter *through* [`OwnedResource::load`], which receives the id **and**
//! the principal's owner scope, so a lookup by id alone cannot be written
//! through it:
//!
//! ```
//! use guard_axum::{GuardError, Owned, OwnedResource, Owner, OwnerScope, Resource};
//!
//! struct Project { id: i64, title: String }
//!
//! impl Resource for Project {
//!     const PARAM: &'static str = "project";
//!     type Id = i64;
//! }
//!
//! impl OwnedResource<()> for Project {
//!     async fn load(_state: &(), id: i64, owner: &Owner<'_>) -> Result<Option<Self>, GuardError> {
//!         // Choose the column by the scope's kind: a tenant id is never
//!         // compared with user ids.
//!         let (_sql, _owner_id) = match owner.scope() {
//!             OwnerScope::User(user) => ("… WHERE id = ? AND owner_user_id = ?", user),
//!             OwnerScope::Tenant(tenant) => ("… WHERE id = ? AND owner_tenant_id = ?", tenant),
//!         };
//!         Ok(None)
//!     }
//! }
//! ```
//!
//! Absent, not owned and malformed ids all answer the same 404
//! `{"error":"not_found"}`, with the same headers: the framework makes one
//! call and has no branch on "exists but not yours". (A malformed id is a
//! 404 rather than a 400 so the id format of other tenants' resources is not
//! a probe either.)

use std::fmt;
use std::future::Future;
use std::str::FromStr;

use axum::extract::{FromRequestParts, RawPathParams};
use guard_core::{GuardError, OwnerScope, Principal};
use http::request::Parts;

/// A resource addressed by a path parameter.
pub trait Resource: Sized + Send + 'static {
    /// The path parameter that holds its id (`"project"` for
    /// `/projects/{project}`); must be named in the route's `owner = …`.
    const PARAM: &'static str;
    /// The id type. A path value that does not parse, or that is not the
    /// id's own spelling (its `Display`: `+1` or `01` for `1`, an upper-case
    /// UUID), is a 404: one resource has one URL, so a cache, a WAF rule
    /// or an audit log keyed by the path cannot be sidestepped by an alias.
    type Id: FromStr + fmt::Display + Send + 'static;
}

/// Loads a resource only within the principal's owner scope.
pub trait OwnedResource<S>: Resource {
    /// The resource with this id **in this owner's scope**, or `None`
    /// (absent and not-owned must be the same `None`). Write the query with
    /// both conditions (`WHERE id = ? AND owner_id = ?`), not a lookup
    /// followed by a comparison.
    fn load(
        state: &S,
        id: Self::Id,
        owner: &Owner<'_>,
    ) -> impl Future<Output = Result<Option<Self>, GuardError>> + Send;
}

/// Whose resources a lookup may return, and the route's other path
/// parameters (for a resource nested under another, scoped by its parent).
#[derive(Debug)]
pub struct Owner<'a> {
    principal: &'a Principal,
    params: Params<'a>,
}

/// The path parameters an [`Owner`] reads: borrowed from the request as
/// axum decoded them, or given by a caller of [`Owned::load`].
#[derive(Debug, Clone, Copy)]
enum Params<'a> {
    Raw(&'a RawPathParams),
    Pairs(&'a [(String, String)]),
}

impl<'a> Owner<'a> {
    /// The owner scope: the principal's tenant, else the principal itself.
    ///
    /// Match on it: a user id and a tenant id are different namespaces, so
    /// the query must use the column (or key) of the kind it got, and refuse
    /// a kind its store does not model.
    #[must_use]
    pub fn scope(&self) -> OwnerScope<'a> {
        self.principal.owner_scope()
    }

    /// The authenticated principal.
    #[must_use]
    pub fn principal(&self) -> &'a Principal {
        self.principal
    }

    /// Another raw path parameter of the route (`"project"` when loading a
    /// file under `/projects/{project}/files/{file}`). Treat it as untrusted
    /// input: scope the nested lookup by it *and* by the owner.
    #[must_use]
    pub fn param(&self, name: &str) -> Option<&'a str> {
        match self.params {
            Params::Raw(raw) => raw.iter().find(|&(n, _)| n == name).map(|(_, v)| v),
            Params::Pairs(pairs) => pairs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str()),
        }
    }
}

/// The resource named by the route's owner parameter, loaded within the
/// principal's scope. Refuses with 401 when no guard authenticated the
/// request and 404 when the id is malformed, absent or not the principal's.
#[derive(Debug, Clone)]
pub struct Owned<T>(pub T);

impl<T> Owned<T> {
    /// The resource.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Owned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> Owned<T> {
    /// The lookup itself, separate from axum for unit tests: finds the
    /// parameter, parses the id and loads within the owner's scope.
    pub async fn load<S>(
        state: &S,
        principal: &Principal,
        params: &[(String, String)],
    ) -> Result<Self, GuardError>
    where
        T: OwnedResource<S>,
    {
        Self::load_from(
            state,
            Owner {
                principal,
                params: Params::Pairs(params),
            },
        )
        .await
    }

    async fn load_from<S>(state: &S, owner: Owner<'_>) -> Result<Self, GuardError>
    where
        T: OwnedResource<S>,
    {
        let Some(raw) = owner.param(T::PARAM) else {
            // The router refuses routes whose path lacks the parameter.
            return Err(GuardError::internal(format_args!(
                "Owned: the route has no `{{{}}}` path parameter",
                T::PARAM
            )));
        };
        let Some(id) = parse_id::<T>(raw) else {
            return Err(GuardError::not_found());
        };
        match T::load(state, id, &owner).await? {
            Some(resource) => Ok(Self(resource)),
            None => Err(GuardError::not_found()),
        }
    }
}

/// `raw` as `T`'s id, if it parses **and** is written the id type's own
/// way (its `Display`): `+1`, `01` or `-0` for an integer id is `None`, so
/// one resource has one URL. [`Owned<T>`] loads only ids this returns, and
/// the guarded Leptos server functions check owner ids with it; a lookup
/// of your own by a path or form value should too.
///
/// ```
/// use guard_axum::{Resource, extract::parse_id};
///
/// struct Project;
/// impl Resource for Project {
///     const PARAM: &'static str = "project";
///     type Id = i64;
/// }
///
/// assert_eq!(parse_id::<Project>("42"), Some(42));
/// assert_eq!(parse_id::<Project>("-7"), Some(-7));
/// for alias in ["+42", "042", "-0", " 42", "4_2", "x"] {
///     assert_eq!(parse_id::<Project>(alias), None, "{alias}");
/// }
/// ```
#[must_use]
pub fn parse_id<T: Resource>(raw: &str) -> Option<T::Id> {
    let id = raw.parse::<T::Id>().ok()?;
    spelled_as(&id, raw).then_some(id)
}

/// Whether `raw` is `id`'s own spelling; `id` is what `raw` parsed to.
///
/// A primitive integer (or its `NonZero`) is judged on the bytes: its
/// `FromStr` accepts an optional sign and digits, and its `Display` writes
/// them without a `+` and without leading zeros (`-0` is written `0`), so
/// a parsed value is canonical unless it starts with `+`, with `-0`, or
/// with a `0` that is not the whole value. That skips the `Display` round
/// trip, about 200 instructions of `route/guarded` (BENCHMARKS.md, twelfth
/// step); `tests::the_integer_rule_agrees_with_display` holds the two
/// equal. Any other id type is written out through `Display` and compared.
fn spelled_as<I: fmt::Display + 'static>(id: &I, raw: &str) -> bool {
    if is_integer::<I>() {
        !matches!(
            raw.as_bytes(),
            [b'+', ..] | [b'-', b'0', ..] | [b'0', _, ..]
        )
    } else {
        displays_as(id, raw)
    }
}

/// Whether `I` is a primitive integer or its `NonZero`. The `TypeId`s are
/// constants, so the test folds away per id type.
fn is_integer<I: 'static>() -> bool {
    use std::any::TypeId;
    use std::num::NonZero;
    macro_rules! kinds {
        ($($t:ty),*) => { [$(TypeId::of::<$t>(), TypeId::of::<NonZero<$t>>()),*] };
    }
    kinds!(
        u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize
    )
    .contains(&TypeId::of::<I>())
}

/// Whether `id` displays as exactly `raw`, compared as it is written out:
/// no allocation on the request path.
fn displays_as(id: &impl fmt::Display, raw: &str) -> bool {
    struct Rest<'a>(&'a str);
    impl fmt::Write for Rest<'_> {
        fn write_str(&mut self, piece: &str) -> fmt::Result {
            self.0 = self.0.strip_prefix(piece).ok_or(fmt::Error)?;
            Ok(())
        }
    }
    let mut rest = Rest(raw);
    fmt::write(&mut rest, format_args!("{id}")).is_ok() && rest.0.is_empty()
}

impl<T, S> FromRequestParts<S> for Owned<T>
where
    T: OwnedResource<S>,
    S: Send + Sync,
{
    type Rejection = GuardError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, GuardError> {
        // Borrowed, not copied: the parameters as axum decoded them and the
        // principal the guards stored. No principal is a 401 before anything
        // about the path is said.
        if parts.extensions.get::<Principal>().is_none() {
            return Err(GuardError::unauthenticated());
        }
        let raw = match RawPathParams::from_request_parts(parts, state).await {
            Ok(raw) => raw,
            // Undecodable percent-encoding in the id: the same 404.
            Err(_) => return Err(GuardError::not_found()),
        };
        let principal = parts
            .extensions
            .get::<Principal>()
            .ok_or_else(GuardError::unauthenticated)?;
        let owner = Owner {
            principal,
            params: Params::Raw(&raw),
        };
        Self::load_from(state, owner).await
    }
}

/// `const` check the macro emits: an `Owned<T>` argument must load one of
/// the parameters the route declares with `owner = …`.
#[doc(hidden)]
#[must_use]
pub const fn declares(owner: &[&str], param: &str) -> bool {
    let mut i = 0;
    while i < owner.len() {
        let (a, b) = (owner[i].as_bytes(), param.as_bytes());
        if a.len() == b.len() {
            let mut j = 0;
            while j < a.len() && a[j] == b[j] {
                j += 1;
            }
            if j == a.len() {
                return true;
            }
        }
        i += 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use std::fmt::Display;
    use std::num::NonZero;
    use std::str::FromStr;

    use super::{displays_as, spelled_as};

    /// Spellings an attacker would try for an integer id, and ones at the
    /// edges of each type's range.
    #[rustfmt::skip]
    const SPELLINGS: &[&str] = &[
        "0", "-0", "+0", "00", "1", "+1", "01", "-1", "-01", "+-1", "-", "+", "", "10", "010",
        "127", "128", "-128", "-129", "255", "256", "0255", "65535", "-32768", "4294967295",
        "+4294967295", "2147483647", "-2147483648", "9223372036854775807",
        "-9223372036854775808", "18446744073709551615", "18446744073709551616",
        "340282366920938463463374607431768211455", "1 ", " 1", "1_000", "1e3", "0x1", "１",
    ];

    fn agrees<I: FromStr + Display + 'static>() {
        for raw in SPELLINGS {
            if let Ok(id) = raw.parse::<I>() {
                assert_eq!(
                    spelled_as(&id, raw),
                    displays_as(&id, raw),
                    "{} {raw:?}",
                    std::any::type_name::<I>()
                );
            }
        }
    }

    #[test]
    fn the_integer_rule_agrees_with_display() {
        macro_rules! each {
            ($($t:ty),*) => { $(agrees::<$t>(); agrees::<NonZero<$t>>();)* };
        }
        each!(
            u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize
        );
    }

    #[test]
    fn aliases_are_refused_and_own_spellings_kept() {
        assert!(spelled_as(&1_u32, "1"));
        assert!(spelled_as(&0_i64, "0"));
        assert!(spelled_as(&-7_i64, "-7"));
        assert!(!spelled_as(&1_u32, "+1"));
        assert!(!spelled_as(&1_u32, "01"));
        assert!(!spelled_as(&0_i64, "-0"));
        assert!(!spelled_as(&-7_i64, "-07"));
        // Not an integer: the `Display` comparison.
        assert!(spelled_as(&String::from("Ab"), "Ab"));
        assert!(!spelled_as(&1.5_f64, "1.50"));
    }
}
