//! The authenticated subject of a request.
//!
//! A [`Principal`] is resolved by an authenticator from the session or the
//! token, never from the request's body, path or query. It carries the user
//! id, an optional tenant (workspace, organisation), and the roles and
//! permissions the authorization guard checks.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

use crate::rate::RateKey;

/// The namespace of account keys ([`Principal::account_key`]).
pub const ACCOUNT_NAMESPACE: &str = "account";

/// Who is asking. Cheap to clone (one reference count).
///
/// ```
/// use guard_core::{OwnerScope, Principal};
///
/// let alice = Principal::new("42").with_tenant("acme").with_roles(["admin"]);
/// assert_eq!(alice.id(), "42");
/// assert_eq!(alice.owner_scope(), OwnerScope::Tenant("acme"));
/// assert!(alice.has_role("admin"));
/// ```
#[derive(Clone)]
pub struct Principal(Arc<Shared>);

/// The data, and what is derived from it once per principal rather than
/// once per request.
#[derive(Clone)]
struct Shared {
    data: PrincipalData,
    /// [`Principal::account_key`], computed on first use. An authenticator
    /// that keeps its principals (API keys) hands out clones of one `Arc`,
    /// so its requests share the one computation.
    account_key: OnceLock<RateKey>,
}

impl Shared {
    fn new(data: PrincipalData) -> Self {
        Self {
            data,
            account_key: OnceLock::new(),
        }
    }
}

impl PartialEq for Principal {
    fn eq(&self, other: &Self) -> bool {
        self.0.data == other.0.data
    }
}

impl Eq for Principal {}

/// The serialized form of a [`Principal`], as an authenticator stores it in
/// a session or a token verifier builds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrincipalData {
    /// The user's id.
    pub id: String,
    /// The tenant (workspace, organisation) that owns this user's resources;
    /// `None` when resources are owned by users directly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Role names.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub roles: BTreeSet<String>,
    /// Permission names.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub permissions: BTreeSet<String>,
}

/// The scope a resource must belong to for a principal to see it: its
/// tenant when it has one, else the user itself.
///
/// There is deliberately no accessor that returns "the id" whatever the
/// kind: a user id and a tenant id are different namespaces (user `7` and
/// tenant `7` are unrelated), and a lookup that compares either one with the
/// same column lets a tenant-scoped principal match a *user's* rows. Match on
/// the kind and query the column that kind owns; refuse the kind a store
/// does not model:
///
/// ```
/// use guard_core::{OwnerScope, Principal};
///
/// /// Which `WHERE` clause a lookup uses.
/// fn owner_clause(scope: OwnerScope<'_>) -> (&'static str, &str) {
///     match scope {
///         OwnerScope::User(user) => ("owner_user_id = ?", user),
///         OwnerScope::Tenant(tenant) => ("owner_tenant_id = ?", tenant),
///     }
/// }
///
/// let member = Principal::new("7").with_tenant("acme");
/// assert_eq!(owner_clause(member.owner_scope()), ("owner_tenant_id = ?", "acme"));
/// let solo = Principal::new("7");
/// assert_eq!(owner_clause(solo.owner_scope()), ("owner_user_id = ?", "7"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OwnerScope<'a> {
    /// Resources owned by this user id.
    User(&'a str),
    /// Resources owned by this tenant id.
    Tenant(&'a str),
}

impl Principal {
    /// A principal with this user id, no tenant, no roles.
    #[must_use]
    pub fn new(id: impl Into<String>) -> Self {
        Self::from(PrincipalData {
            id: id.into(),
            tenant: None,
            roles: BTreeSet::new(),
            permissions: BTreeSet::new(),
        })
    }

    fn data_mut(&mut self) -> &mut PrincipalData {
        let shared = Arc::make_mut(&mut self.0);
        // What was derived from the old data may not hold for the new.
        shared.account_key = OnceLock::new();
        &mut shared.data
    }

    /// Sets the tenant whose resources this principal may reach.
    #[must_use]
    pub fn with_tenant(mut self, tenant: impl Into<String>) -> Self {
        self.data_mut().tenant = Some(tenant.into());
        self
    }

    /// Adds roles.
    #[must_use]
    pub fn with_roles<I, R>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = R>,
        R: Into<String>,
    {
        self.data_mut()
            .roles
            .extend(roles.into_iter().map(Into::into));
        self
    }

    /// Adds permissions.
    #[must_use]
    pub fn with_permissions<I, P>(mut self, permissions: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        self.data_mut()
            .permissions
            .extend(permissions.into_iter().map(Into::into));
        self
    }

    /// The user id.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.0.data.id
    }

    /// The tenant, if any.
    #[must_use]
    pub fn tenant(&self) -> Option<&str> {
        self.0.data.tenant.as_deref()
    }

    /// The scope owned lookups are restricted to.
    #[must_use]
    pub fn owner_scope(&self) -> OwnerScope<'_> {
        match &self.0.data.tenant {
            Some(tenant) => OwnerScope::Tenant(tenant),
            None => OwnerScope::User(&self.0.data.id),
        }
    }

    /// The role names.
    #[must_use]
    pub fn roles(&self) -> &BTreeSet<String> {
        &self.0.data.roles
    }

    /// The permission names.
    #[must_use]
    pub fn permissions(&self) -> &BTreeSet<String> {
        &self.0.data.permissions
    }

    /// Whether the principal holds this role.
    #[must_use]
    pub fn has_role(&self, role: &str) -> bool {
        self.0.data.roles.contains(role)
    }

    /// Whether the principal holds at least one of these roles.
    #[must_use]
    pub fn has_any_role(&self, roles: &[&str]) -> bool {
        roles.iter().any(|r| self.has_role(r))
    }

    /// Whether the principal holds this permission.
    #[must_use]
    pub fn has_permission(&self, permission: &str) -> bool {
        self.0.data.permissions.contains(permission)
    }

    /// The serializable data, for storing in a session.
    #[must_use]
    pub fn data(&self) -> &PrincipalData {
        &self.0.data
    }

    /// The in-process rate-limit key of this principal's account:
    /// [`RateKey::for_identifier`]`("account", self.id())`, hashed on the
    /// first call and kept with the principal (and its clones) after that.
    ///
    /// In-process only, as that key is: a limiter whose state is shared
    /// between processes derives its own keys from a shared secret.
    #[must_use]
    pub fn account_key(&self) -> RateKey {
        *self
            .0
            .account_key
            .get_or_init(|| RateKey::for_identifier(ACCOUNT_NAMESPACE, self.id()))
    }
}

impl From<PrincipalData> for Principal {
    fn from(data: PrincipalData) -> Self {
        Self(Arc::new(Shared::new(data)))
    }
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Principal")
            .field("id", &self.0.data.id)
            .field("tenant", &self.0.data.tenant)
            .field("roles", &self.0.data.roles)
            .field("permissions", &self.0.data.permissions)
            .finish()
    }
}

impl Serialize for Principal {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.data.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Principal {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        PrincipalData::deserialize(deserializer).map(Self::from)
    }
}

#[cfg(feature = "axum")]
mod axum_impl {
    use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
    use http::request::Parts;

    use super::Principal;
    use crate::error::GuardError;

    /// The principal the route's authentication guard resolved. A handler
    /// outside any guard (no `#[secure_route(auth)]`, no `RequireAuth`
    /// layer) gets 401: the principal is never read from the request itself.
    impl<S: Send + Sync> FromRequestParts<S> for Principal {
        type Rejection = GuardError;

        async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, GuardError> {
            parts
                .extensions
                .get::<Principal>()
                .cloned()
                .ok_or_else(GuardError::unauthenticated)
        }
    }

    /// `Option<Principal>`: the principal if a guard resolved one.
    impl<S: Send + Sync> OptionalFromRequestParts<S> for Principal {
        type Rejection = GuardError;

        async fn from_request_parts(
            parts: &mut Parts,
            _state: &S,
        ) -> Result<Option<Self>, GuardError> {
            Ok(parts.extensions.get::<Principal>().cloned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_scope_is_the_tenant_when_there_is_one() {
        let user = Principal::new("7");
        assert_eq!(user.owner_scope(), OwnerScope::User("7"));
        let member = user.with_tenant("acme");
        assert_eq!(member.owner_scope(), OwnerScope::Tenant("acme"));
    }

    #[test]
    fn roles_and_permissions_are_exact_names() {
        let p = Principal::new("1")
            .with_roles(["editor"])
            .with_permissions(["projects:write"]);
        assert!(p.has_role("editor"));
        assert!(!p.has_role("Editor"));
        assert!(!p.has_role("edit"));
        assert!(p.has_any_role(&["admin", "editor"]));
        assert!(!p.has_any_role(&["admin"]));
        assert!(!p.has_any_role(&[]));
        assert!(p.has_permission("projects:write"));
        assert!(!p.has_permission("projects:read"));
    }

    #[test]
    fn round_trips_through_json() {
        let p = Principal::new("1").with_tenant("t").with_roles(["a", "b"]);
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, r#"{"id":"1","tenant":"t","roles":["a","b"]}"#);
        let back: Principal = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn the_account_key_is_the_identifier_key_of_the_id_and_shared_by_clones() {
        let alice = Principal::new("alice");
        let expected = RateKey::for_identifier(ACCOUNT_NAMESPACE, "alice");
        assert_eq!(alice.account_key(), expected);
        let clone = alice.clone();
        assert!(Arc::ptr_eq(&alice.0, &clone.0));
        assert_eq!(clone.account_key(), expected);
        assert_ne!(
            Principal::new("bob").account_key(),
            expected,
            "another id, another key"
        );
        // Changed after the key was cached: the data is copied, the key
        // computed again from the new data (still the same id).
        let member = clone.with_tenant("acme");
        assert_eq!(member.account_key(), expected);
        assert_eq!(alice.tenant(), None);
    }
}
