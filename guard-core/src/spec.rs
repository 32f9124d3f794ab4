//! What a route demands: the static description `#[secure_route]` writes
//! for every guarded handler.
//!
//! A [`RouteSpec`] is a `const` value built with `const fn` builders, so the
//! macro can emit it as a `static` and the router can gather every route's
//! spec into the report without running anything.

use http::{HeaderMap, Method, Uri};

use crate::csrf::{CsrfPolicy, CsrfRefusal};
use crate::error::GuardError;
use crate::principal::Principal;
use crate::rate::{QuotaSpec, RateSpec};

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

/// A strictly decoded JSON body (`body = T`).
#[derive(Debug, Clone, Copy)]
pub struct BodySpec {
    /// The body type, as written in the attribute.
    pub type_name: &'static str,
    /// Problems of the body type that only running code can see (it
    /// declares an identity field the route does not allow, it flattens a
    /// struct whose unknown fields cannot be checked), given the allowed
    /// identity fields; checked when the router is built.
    pub problems: fn(&'static [&'static str]) -> Vec<String>,
    /// Identity fields the route accepts in its body, by name, with a reason.
    pub allowed_identity_fields: &'static [&'static str],
}

/// A strictly decoded query string (`query = T`).
#[derive(Debug, Clone, Copy)]
pub struct QuerySpec {
    /// The query type, as written in the attribute.
    pub type_name: &'static str,
    /// Problems of the query type, checked when the router is built.
    pub problems: fn() -> Vec<String>,
}

/// The rates and ceiling a route declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RateLimits {
    /// `rate`: per account on `auth` routes and per client IP on all routes.
    pub rate: Option<RateSpec>,
    /// `rate_ip`: per client IP only.
    pub per_ip: Option<RateSpec>,
    /// `rate_account`: per authenticated account only (`auth` routes).
    pub per_account: Option<RateSpec>,
    /// `rate_identifier`: per identifier the handler names through
    /// `IdentifierLimit` (public routes: the login e-mail).
    pub per_identifier: Option<RateSpec>,
    /// `quota`: a hard usage ceiling per account per period.
    pub quota: Option<QuotaSpec>,
}

impl RateLimits {
    /// No limits.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            rate: None,
            per_ip: None,
            per_account: None,
            per_identifier: None,
            quota: None,
        }
    }

    /// The rate for every side (`rate = …`).
    #[must_use]
    pub const fn rate(mut self, spec: RateSpec) -> Self {
        self.rate = Some(spec);
        self
    }

    /// The per-IP rate (`rate_ip = …`).
    #[must_use]
    pub const fn rate_ip(mut self, spec: RateSpec) -> Self {
        self.per_ip = Some(spec);
        self
    }

    /// The per-account rate (`rate_account = …`).
    #[must_use]
    pub const fn rate_account(mut self, spec: RateSpec) -> Self {
        self.per_account = Some(spec);
        self
    }

    /// The per-identifier rate of a public route (`rate_identifier = …`).
    #[must_use]
    pub const fn rate_identifier(mut self, spec: RateSpec) -> Self {
        self.per_identifier = Some(spec);
        self
    }

    /// The usage ceiling (`quota = …`).
    #[must_use]
    pub const fn quota(mut self, spec: QuotaSpec) -> Self {
        self.quota = Some(spec);
        self
    }

    /// Whether any limit is declared.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.rate.is_none()
            && self.per_ip.is_none()
            && self.per_account.is_none()
            && self.per_identifier.is_none()
            && self.quota.is_none()
    }
}

/// An upload route's cap and accepted types (`upload(max = "5MiB", types = [...])`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadSpec {
    /// The cap in bytes.
    pub max_bytes: u64,
    /// Accepted file kinds by name (`"png"`, `"pdf"`).
    pub types: &'static [&'static str],
}

/// The static description of one guarded handler.
#[derive(Debug, Clone, Copy)]
pub struct RouteSpec {
    handler: &'static str,
    module: &'static str,
    access: Access,
    owner: &'static [&'static str],
    body: Option<BodySpec>,
    query: Option<QuerySpec>,
    body_limit: Option<u64>,
    limits: RateLimits,
    upload: Option<UploadSpec>,
    fetch: bool,
    csrf_none: Option<&'static str>,
    /// The codec of a Leptos server function (`#[secure_server_fn]`):
    /// the handler is a server function, not a route handler.
    server_fn_codec: Option<&'static str>,
}

/// The default cap on a JSON body: 64 KiB.
pub const DEFAULT_BODY_LIMIT: u64 = 64 * 1024;

/// Whether requests of `method` carry no body: `GET`, `HEAD`, `DELETE` and
/// `OPTIONS`. A route on one of them may not declare `body = …` or an
/// upload, and the router hands it no body limit. The method is compared
/// as written (methods are case-sensitive; `http::Method` spells these in
/// capitals).
#[must_use]
pub fn method_has_no_body(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "DELETE" | "OPTIONS")
}

impl RouteSpec {
    /// A public route.
    #[must_use]
    pub const fn public(handler: &'static str, module: &'static str, reason: &'static str) -> Self {
        Self::with_access(handler, module, Access::Public { reason })
    }

    const fn with_access(handler: &'static str, module: &'static str, access: Access) -> Self {
        Self {
            handler,
            module,
            access,
            owner: &[],
            body: None,
            query: None,
            body_limit: None,
            limits: RateLimits::new(),
            upload: None,
            fetch: false,
            csrf_none: None,
            server_fn_codec: None,
        }
    }

    /// A route that needs an authenticated principal.
    #[must_use]
    pub const fn authenticated(handler: &'static str, module: &'static str) -> Self {
        Self::with_access(
            handler,
            module,
            Access::Authenticated {
                roles: &[],
                permission: None,
            },
        )
    }

    /// The path parameters holding owned resources (`owner = "project"`).
    #[must_use]
    pub const fn owner(mut self, params: &'static [&'static str]) -> Self {
        self.owner = params;
        self
    }

    /// A strictly decoded, validated JSON body.
    #[must_use]
    pub const fn body(mut self, body: BodySpec) -> Self {
        self.body = Some(body);
        self
    }

    /// A strictly decoded, validated query string.
    #[must_use]
    pub const fn query(mut self, query: QuerySpec) -> Self {
        self.query = Some(query);
        self
    }

    /// The body cap in bytes (default [`DEFAULT_BODY_LIMIT`]).
    #[must_use]
    pub const fn body_limit(mut self, bytes: u64) -> Self {
        self.body_limit = Some(bytes);
        self
    }

    /// The declared rates and quota.
    #[must_use]
    pub const fn limits(mut self, limits: RateLimits) -> Self {
        self.limits = limits;
        self
    }

    /// An upload route.
    #[must_use]
    pub const fn upload(mut self, upload: UploadSpec) -> Self {
        self.upload = Some(upload);
        self
    }

    /// Marks the route as fetching user-supplied URLs (an outbound surface).
    #[must_use]
    pub const fn fetch(mut self) -> Self {
        self.fetch = true;
        self
    }

    /// Opts the route out of the cross-site request check that unsafe
    /// methods get under a cookie authenticator (`csrf = "none: <reason>"`),
    /// with the reason the report shows: for a route no browser calls (a
    /// webhook authenticated by a cookie-less signature), never to make a
    /// form work (trust its origin instead).
    #[must_use]
    pub const fn csrf_none(mut self, reason: &'static str) -> Self {
        self.csrf_none = Some(reason);
        self
    }

    /// Whether the route gets the cross-site request check under a cookie
    /// authenticator: every route that did not opt out, public ones too (a
    /// public login or sign-up form posted from another site would sign the
    /// victim's browser in to the attacker's account). Safe methods are
    /// never refused by either check.
    #[must_use]
    pub const fn csrf_checked_under_cookies(&self) -> bool {
        self.csrf_none.is_none()
    }

    /// Decides one request of this route by the check its access calls for:
    /// [`CsrfPolicy::check`] for an `auth` route (the cookie is the
    /// credential), [`CsrfPolicy::check_public`] for a public one (no
    /// credential is needed, but one may be created: a request with no
    /// `Cookie` is checked too, and one showing no sign of a browser, with
    /// neither `Origin` nor `Sec-Fetch-Site`, passes). Whether the route is
    /// checked at all is [`Self::csrf_checked_under_cookies`].
    ///
    /// # Errors
    ///
    /// Why the request looks cross-site; answer it with 403.
    pub fn check_cross_site(
        &self,
        policy: &CsrfPolicy,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Result<(), CsrfRefusal> {
        if self.requires_auth() {
            policy.check(method, uri, headers)
        } else {
            policy.check_public(method, uri, headers)
        }
    }

    /// Marks the handler as a server function (`#[secure_server_fn]`)
    /// whose arguments arrive in `codec` (`"PostUrl"`, `"Json"`, …); the
    /// report lists it as a row of kind `server_fn`.
    #[must_use]
    pub const fn server_fn(mut self, codec: &'static str) -> Self {
        self.server_fn_codec = Some(codec);
        self
    }

    /// The codec of a server function, or `None` for a route handler.
    #[must_use]
    pub const fn server_fn_codec(&self) -> Option<&'static str> {
        self.server_fn_codec
    }

    /// Why the route is exempt from the cross-site request check, if it is.
    #[must_use]
    pub const fn csrf_exemption(&self) -> Option<&'static str> {
        self.csrf_none
    }

    /// Owned path parameters.
    #[must_use]
    pub const fn owner_params(&self) -> &'static [&'static str] {
        self.owner
    }

    /// The body, if declared.
    #[must_use]
    pub const fn body_spec(&self) -> Option<BodySpec> {
        self.body
    }

    /// The query type, if declared.
    #[must_use]
    pub const fn query_type(&self) -> Option<&'static str> {
        match self.query {
            Some(q) => Some(q.type_name),
            None => None,
        }
    }

    /// The body cap in bytes in force for this route.
    #[must_use]
    pub const fn effective_body_limit(&self) -> u64 {
        match (self.body_limit, self.upload) {
            (Some(limit), _) => limit,
            (None, Some(upload)) => upload.max_bytes,
            (None, None) => DEFAULT_BODY_LIMIT,
        }
    }

    /// Whether `body_limit` was set explicitly.
    #[must_use]
    pub const fn declared_body_limit(&self) -> Option<u64> {
        self.body_limit
    }

    /// The declared rates and quota.
    #[must_use]
    pub const fn rate_limits(&self) -> RateLimits {
        self.limits
    }

    /// The upload cap and types, if an upload route.
    #[must_use]
    pub const fn upload_spec(&self) -> Option<UploadSpec> {
        self.upload
    }

    /// Whether the route fetches user-supplied URLs.
    #[must_use]
    pub const fn fetches(&self) -> bool {
        self.fetch
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
        let route = format!("{method} {path} ({})", self.handler);
        if let Access::Public { reason } = self.access
            && reason.trim().is_empty()
        {
            problems.push(format!("{route}: a public route needs a reason"));
        }
        // A server function's `owner` names an argument, not a path
        // parameter (`#[secure_server_fn]` checks it at compile time).
        let path_params = if self.server_fn_codec.is_some() {
            &[][..]
        } else {
            self.owner
        };
        for param in path_params {
            let segment = format!("{{{param}}}");
            if !path.split('/').any(|s| s == segment) {
                problems.push(format!(
                    "{route}: `owner = \"{param}\"` names a path parameter the path does not have; add `{segment}` to the path"
                ));
            }
        }
        if let Some(body) = self.body {
            if method_has_no_body(method) {
                problems.push(format!(
                    "{route}: `body = {}` on a {method} route; {method} requests carry no body, use `query = …` or another method",
                    body.type_name
                ));
            }
            for problem in (body.problems)(body.allowed_identity_fields) {
                problems.push(format!("{route}: body `{}`: {problem}", body.type_name));
            }
        }
        if let Some(query) = self.query {
            for problem in (query.problems)() {
                problems.push(format!("{route}: query `{}`: {problem}", query.type_name));
            }
        }
        if let Some(reason) = self.csrf_none
            && reason.trim().is_empty()
        {
            problems.push(format!(
                "{route}: `csrf = \"none: <reason>\"` needs a reason the route may be called cross-site"
            ));
        }
        if self.upload.is_some() && method_has_no_body(method) {
            problems.push(format!(
                "{route}: an upload on a {method} route; uploads are POST or PUT"
            ));
        }
        problems
    }
}

/// What `body = T` (or `query = T`) asserts of the handler's `Valid<U>`
/// (`ValidQuery<U>`): `U` is `T`. Used by the code `#[secure_route]`
/// generates, spanned at `U`.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "the handler decodes `{Self}`, but the route declares `{T}`",
    label = "decoded as `{Self}` here",
    note = "declare the type the handler takes (`body = {Self}` for `Valid<{Self}>`, `query = {Self}` for `ValidQuery<{Self}>`): the report and the build-time checks describe the declared type"
)]
pub trait DeclaredAs<T> {}

impl<T> DeclaredAs<T> for T {}

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
    #[test]
    fn only_get_head_delete_and_options_carry_no_body() {
        let table = [
            ("GET", true),
            ("HEAD", true),
            ("DELETE", true),
            ("OPTIONS", true),
            ("POST", false),
            ("PUT", false),
            ("PATCH", false),
            // Methods are case-sensitive: `get` is some other method.
            ("get", false),
        ];
        for (method, bodiless) in table {
            assert_eq!(method_has_no_body(method), bodiless, "{method}");
        }
    }

    #[test]
    fn public_routes_are_checked_by_the_public_variant_unless_exempt() {
        use crate::csrf::CsrfRefusal;
        use http::HeaderValue;

        let login = RouteSpec::public("login", "m", "the login form");
        let logout = RouteSpec::authenticated("logout", "m");
        let webhook = RouteSpec::public("hook", "m", "webhook").csrf_none("signed, no browser");
        assert!(login.csrf_checked_under_cookies());
        assert!(logout.csrf_checked_under_cookies());
        assert!(!webhook.csrf_checked_under_cookies());

        let policy = CsrfPolicy::new();
        let uri = Uri::from_static("/login");
        let decide = |spec: &RouteSpec, method: Method, pairs: &[(&'static str, &'static str)]| {
            let mut headers = HeaderMap::new();
            headers.insert("host", HeaderValue::from_static("app.example.com"));
            for (name, value) in pairs {
                headers.insert(*name, HeaderValue::from_static(value));
            }
            spec.check_cross_site(&policy, &method, &uri, &headers)
        };
        let evil = [
            ("origin", "https://evil.example"),
            ("sec-fetch-site", "cross-site"),
        ];
        // A cookie-less cross-site form post: the login CSRF the public
        // check exists for; the auth check lets it by (no ambient cookie).
        assert_eq!(
            decide(&login, Method::POST, &evil),
            Err(CsrfRefusal::CrossSite)
        );
        assert_eq!(decide(&logout, Method::POST, &evil), Ok(()));
        // A script with a cookie and no browser headers: a public route lets
        // it in, an auth route does not (every browser sends `Origin`).
        let script = [("cookie", "id=abc")];
        assert_eq!(decide(&login, Method::POST, &script), Ok(()));
        assert_eq!(
            decide(&logout, Method::POST, &script),
            Err(CsrfRefusal::MissingOrigin)
        );
        assert_eq!(decide(&login, Method::GET, &evil), Ok(()));
    }
}
