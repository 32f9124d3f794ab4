//! What a route demands: the static description `#[secure_route]` writes
//! for every guarded handler.
//!
//! A [`RouteSpec`] is a `const` value built with `const fn` builders, so the
//! macro can emit it as a `static` and the router can gather every route's
//! spec into the report without running anything.

use crate::error::GuardError;
use crate::principal::Principal;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone; the reason is stated in the code and in the route report.
    Public {
        /// Why the route is public (for example `"health check"`).
        reason: &'static str,
    },
    /// An authenticated principal, optionally with roles or a permission.
    Authenticated {
        /// The principal must hold at least one of these roles (empty: any).
        roles: &'static [&'static str],
        /// The principal must hold this permission.
        permission: Option<&'static str>,
    },
}

/// The static description of one guarded handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteSpec {
    handler: &'static str,
    module: &'static str,
    access: Access,
}

impl RouteSpec {
    /// A public route.
    #[must_use]
    pub const fn public(handler: &'static str, module: &'static str, reason: &'static str) -> Self {
        Self {
            handler,
            module,
            access: Access::Public { reason },
        }
    }

    /// A route that needs an authenticated principal.
    #[must_use]
    pub const fn authenticated(handler: &'static str, module: &'static str) -> Self {
        Self {
            handler,
            module,
            access: Access::Authenticated {
                roles: &[],
                permission: None,
            },
        }
    }

    /// Requires one of these roles. Only meaningful on an authenticated route;
    /// the macro refuses it elsewhere, and on a public spec it is ignored.
    #[must_use]
    pub const fn roles(mut self, roles: &'static [&'static str]) -> Self {
        if let Access::Authenticated { permission, .. } = self.access {
            self.access = Access::Authenticated { roles, permission };
        }
        self
    }

    /// Requires this permission (authenticated routes only, as for roles).
    #[must_use]
    pub const fn permission(mut self, permission: &'static str) -> Self {
        if let Access::Authenticated { roles, .. } = self.access {
            self.access = Access::Authenticated {
                roles,
                permission: Some(permission),
            };
        }
        self
    }

    /// The handler function's name.
    #[must_use]
    pub const fn handler(&self) -> &'static str {
        self.handler
    }

    /// The module path the handler is defined in.
    #[must_use]
    pub const fn module(&self) -> &'static str {
        self.module
    }

    /// Who may call the route.
    #[must_use]
    pub const fn access(&self) -> Access {
        self.access
    }

    /// Whether the route needs an authenticated principal.
    #[must_use]
    pub const fn requires_auth(&self) -> bool {
        matches!(self.access, Access::Authenticated { .. })
    }

    /// Checks an authenticated principal against the declared roles and
    /// permission: 403 when one is missing. (An absent principal is the
    /// authenticator's 401, decided before this runs.)
    pub fn authorize(&self, principal: &Principal) -> Result<(), GuardError> {
        match self.access {
            Access::Public { .. } => Ok(()),
            Access::Authenticated { roles, permission } => {
                if !roles.is_empty() && !principal.has_any_role(roles) {
                    return Err(GuardError::forbidden());
                }
                match permission {
                    Some(p) if !principal.has_permission(p) => Err(GuardError::forbidden()),
                    _ => Ok(()),
                }
            }
        }
    }

    /// Problems that only the route's place in the router reveals, checked
    /// when the router is built. Each is a sentence naming the route.
    #[must_use]
    pub fn check(&self, method: &str, path: &str) -> Vec<String> {
        let mut problems = Vec::new();
        if let Access::Public { reason } = self.access
            && reason.trim().is_empty()
        {
            problems.push(format!(
                "{method} {path} ({}): a public route needs a reason",
                self.handler
            ));
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADMIN: RouteSpec = RouteSpec::authenticated("h", "m").roles(&["admin", "owner"]);
    const WRITE: RouteSpec = RouteSpec::authenticated("h", "m").permission("projects:write");

    #[test]
    fn roles_need_any_one_of_the_list() {
        assert!(
            ADMIN
                .authorize(&Principal::new("1").with_roles(["owner"]))
                .is_ok()
        );
        let err = ADMIN
            .authorize(&Principal::new("1").with_roles(["editor"]))
            .unwrap_err();
        assert_eq!(err.status().as_u16(), 403);
        assert_eq!(err.public_body(), r#"{"error":"forbidden"}"#);
    }

    #[test]
    fn permission_is_required_exactly() {
        assert!(
            WRITE
                .authorize(&Principal::new("1").with_permissions(["projects:write"]))
                .is_ok()
        );
        assert_eq!(
            WRITE
                .authorize(&Principal::new("1").with_permissions(["projects:read"]))
                .unwrap_err()
                .status()
                .as_u16(),
            403
        );
    }

    #[test]
    fn plain_auth_accepts_any_principal() {
        assert!(
            RouteSpec::authenticated("h", "m")
                .authorize(&Principal::new("1"))
                .is_ok()
        );
    }

    #[test]
    fn roles_do_not_turn_a_public_spec_private() {
        let spec = RouteSpec::public("h", "m", "health").roles(&["admin"]);
        assert!(!spec.requires_auth());
        assert_eq!(spec.access(), Access::Public { reason: "health" });
    }

    #[test]
    fn blank_public_reason_is_a_build_problem() {
        let spec = RouteSpec::public("health", "m", "  ");
        assert_eq!(
            spec.check("GET", "/healthz"),
            vec!["GET /healthz (health): a public route needs a reason".to_string()]
        );
    }
}
